"""An attacker holding a released histogram and the public params tries to subtract the noise.

The attack regenerates the noise from the params' seed, as anyone could if the noise were seeded from it.
By default (noise from the OS entropy) it must fail; with the debug option privacy.reproducible_noise it
must succeed and give back the exact clean counts, which shows that the attack itself works.
"""

import json

import numpy as np
import pytest
import yaml

from privevo.cli import main
from privevo.core import seeding
from privevo.io.artifacts import load_npz, save_images
from privevo.pe.histogram import clean_votes

from conftest import ROOT


def recover_clean_counts(histogram: dict, params: dict, iteration: int) -> np.ndarray:
    """The attack: the noisy counts minus the noise regenerated from the public seed."""
    recovered = np.empty_like(histogram["noisy_count"])
    sigma = float(histogram["noise_multiplier"])
    for c in np.unique(histogram["labels"]):
        index = np.flatnonzero(histogram["labels"] == c)
        noise = seeding.rng(params["seed"], role="noise", class_index=int(c), iteration=iteration).normal(0.0, sigma, len(index))
        recovered[index] = histogram["noisy_count"][index] - noise
    return recovered


def looks_like_clean_counts(values: np.ndarray) -> bool:
    """Clean counts of one-neighbour votes are non-negative integers."""
    return bool(np.all(np.abs(values - np.round(values)) < 1e-9) and np.all(np.round(values) >= 0))


@pytest.fixture
def release(tmp_path):
    """A histogram released by the real `privevo pe-histogram` step on small fake embeddings."""
    def make(reproducible_noise: bool):
        params = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
        params["privacy"]["reproducible_noise"] = reproducible_noise
        params["pe"]["num_samples_per_class"] = 20
        folder = tmp_path / f"reproducible_{reproducible_noise}"
        folder.mkdir()
        (folder / "params.yaml").write_text(yaml.safe_dump(params))
        rng = np.random.default_rng(0)
        labels = np.repeat(np.arange(10), 20)
        candidates, private = rng.normal(size=(200, 6)).astype(np.float32), rng.normal(size=(2000, 6)).astype(np.float32)
        private_labels = rng.integers(0, 10, 2000)
        save_images(folder / "candidates.npz", np.zeros((200, 4, 4, 1), np.uint8), labels)
        np.save(folder / "lookahead.npy", candidates)
        np.save(folder / "private.npy", private)
        np.save(folder / "private_labels.npy", private_labels)
        (folder / "calibration.json").write_text(json.dumps({"noise_multiplier": 7.3, "mechanism": "gaussian" if reproducible_noise else "discrete_gaussian"}))
        assert main(["pe-histogram", "--params", str(folder / "params.yaml"), "--iteration", "2",
                         "--private-embeddings", str(folder / "private.npy"),
                         "--private-labels", str(folder / "private_labels.npy"),
                         "--candidates", str(folder / "candidates.npz"), "--lookahead", str(folder / "lookahead.npy"),
                         "--calibration", str(folder / "calibration.json"), "--out-dir", str(folder / "iter_002")]) == 0
        truth = np.concatenate([clean_votes(private[private_labels == c], candidates[labels == c]) for c in range(10)])
        return load_npz(folder / "iter_002" / "histogram.npz"), params, truth
    return make


def test_noise_cannot_be_subtracted_from_a_default_release(release):
    histogram, params, truth = release(reproducible_noise=False)
    recovered = recover_clean_counts(histogram, params, iteration=2)
    assert not looks_like_clean_counts(recovered)
    # The residual is the difference of two independent N(0, sigma^2) draws: far from the truth.
    assert np.std(recovered - truth) == pytest.approx(7.3 * np.sqrt(2), rel=0.25)


def test_noise_is_subtracted_exactly_when_the_debug_option_seeds_it(release):
    histogram, params, truth = release(reproducible_noise=True)
    recovered = recover_clean_counts(histogram, params, iteration=2)
    assert looks_like_clean_counts(recovered)
    np.testing.assert_allclose(recovered, truth, atol=1e-9)
