"""One noise policy for every DP mechanism: OS entropy by default, privacy.secure_noise for PE's histograms and
DP-SGD alike, and the debug option (noise from the public seed) for PE's histograms only."""

import numpy as np
import pytest

from privevo.pe import noise as N


@pytest.mark.parametrize("privacy,expected", [
    ({"secure_noise": False, "reproducible_noise": False}, N.EntropyNoise),
    ({"secure_noise": True, "reproducible_noise": False}, N.SecureNoise),
    ({}, N.EntropyNoise),
])
def test_pe_histograms_and_dpsgd_get_the_same_source(privacy, expected):
    pe = N.noise_source(privacy, seed=0, class_index=1, iteration=2)
    dpsgd = N.dp_noise_source(privacy)
    assert type(pe) is type(dpsgd) is expected
    assert pe.is_dp and dpsgd.is_dp and N.noise_record(privacy)["source"] == dpsgd.name


def test_the_debug_seeded_noise_is_pe_only():
    privacy = {"secure_noise": False, "reproducible_noise": True}
    assert isinstance(N.noise_source(privacy, seed=0, class_index=0, iteration=1), N.ReproducibleNoise)
    assert not N.ReproducibleNoise(0, class_index=0, iteration=1).is_dp
    assert isinstance(N.dp_noise_source(privacy), N.EntropyNoise)  # DP-SGD never draws from the seed
    assert isinstance(N.dp_noise_source({**privacy, "secure_noise": True}), N.SecureNoise)


def test_the_default_source_never_reads_the_seed(monkeypatch):
    """EntropyNoise seeds from np.random.SeedSequence() with no argument (OS entropy) at every draw."""
    entropies = []
    real = np.random.SeedSequence

    def spy(*args, **kwargs):
        assert not args and not kwargs, "the DP noise must not be seeded from anything passed in"
        sequence = real()
        entropies.append(sequence.entropy)
        return sequence

    monkeypatch.setattr(N.np.random, "SeedSequence", spy)
    source = N.dp_noise_source({"secure_noise": False})
    a, b = source.gaussian(1.0, 5), source.gaussian(1.0, 5)
    assert len(entropies) == 2 and entropies[0] != entropies[1] and not np.array_equal(a, b)
