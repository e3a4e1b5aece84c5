"""One noise policy for every DP mechanism: OS entropy by default, privacy.secure_noise for PE's histograms and
DP-SGD alike, and the debug option (noise from the public seed) for PE's histograms only."""

import numpy as np
import pytest

from privevo.pe import noise as N


@pytest.mark.parametrize("privacy,histogram,dpsgd", [
    ({}, N.DiscreteGaussianNoise, N.EntropyNoise),
    ({"secure_noise": False, "reproducible_noise": False}, N.DiscreteGaussianNoise, N.EntropyNoise),
    ({"secure_noise": True}, N.DiscreteGaussianNoise, N.SecureNoise),
    ({"histogram_noise": "continuous_gaussian"}, N.EntropyNoise, N.EntropyNoise),
    ({"histogram_noise": "continuous_gaussian", "secure_noise": True}, N.SecureNoise, N.SecureNoise),
])
def test_histograms_are_exact_by_default_and_dpsgd_follows_secure_noise(privacy, histogram, dpsgd):
    pe = N.noise_source(privacy, seed=0, class_index=1, iteration=2)
    assert type(pe) is histogram and type(N.dp_noise_source(privacy)) is dpsgd
    assert pe.is_dp and N.noise_record(privacy)["source"] == pe.name
    assert N.noise_record(privacy)["exact"] == (histogram is N.DiscreteGaussianNoise)
    assert ("continuous_warning" in N.noise_record(privacy)) == (histogram is not N.DiscreteGaussianNoise)


def test_an_unknown_histogram_noise_is_refused_in_one_line():
    with pytest.raises(ValueError, match="privacy.histogram_noise.*discrete_gaussian"):
        N.noise_source({"histogram_noise": "laplace"}, seed=0, class_index=0, iteration=1)


def test_the_discrete_source_adds_integer_noise_of_the_right_scale():
    counts = np.arange(20000, dtype=np.int64) % 7
    noisy = N.DiscreteGaussianNoise().add_integer_noise(counts, scale=3.0)
    assert noisy.dtype == np.int64 and noisy.shape == counts.shape
    # The discrete Gaussian of scale 3 has variance within 1e-70 of 9; 20,000 draws: std error of the var ~0.09.
    assert np.var(noisy - counts) == pytest.approx(9.0, abs=0.5)
    assert not np.array_equal(noisy, N.DiscreteGaussianNoise().add_integer_noise(counts, scale=3.0))
    with pytest.raises(TypeError, match="integer counts"):
        N.DiscreteGaussianNoise().add_integer_noise(counts.astype(float), scale=3.0)


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
