"""The histogram's sensitivity holds for every input that reaches a vote: guards stop non-finite embeddings and bad
neighbour indices before any vote is counted, and every private sample's vote vector has L2 norm at most 1."""

import json

import numpy as np
import pytest

from privevo.cli import main
from privevo.io.artifacts import save_images
from privevo.pe import histogram as H
from privevo.pe import loop
from privevo.pe import neighbours
from privevo.pe.noise import ZeroNoise

from pe_helpers import write_tiny_params


@pytest.fixture
def tiny_params(tmp_path):
    return write_tiny_params(tmp_path)


def test_a_nan_private_row_stops_the_vote_instead_of_landing_on_the_last_candidate():
    """faiss gives index -1 for a NaN query; np.add.at then put all m votes on the last candidate (measured before
    this guard: +2.0 on the last candidate with m = 4, a shift of norm 2, not 1)."""
    rng = np.random.default_rng(0)
    private, candidates = rng.normal(size=(20, 8)).astype(np.float32), rng.normal(size=(12, 8)).astype(np.float32)
    private[3, 2] = np.nan
    with pytest.raises(H.SensitivityGuardError, match="private embeddings: holds non-finite"):
        H.clean_votes(private, candidates, num_neighbours=4)


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_a_non_finite_candidate_stops_the_vote(bad):
    rng = np.random.default_rng(1)
    private, candidates = rng.normal(size=(20, 8)).astype(np.float32), rng.normal(size=(12, 8)).astype(np.float32)
    candidates[5, 0] = bad
    with pytest.raises(H.SensitivityGuardError, match="candidate embeddings: holds non-finite"):
        H.raw_votes(private, candidates, num_neighbours=2)


@pytest.mark.parametrize("returned", [
    np.array([[0, -1]]),          # faiss' answer to a NaN query
    np.array([[0, 12]]),          # past the last candidate
    np.array([[3, 3]]),           # the same candidate twice: 2 votes on one count
])
def test_bad_neighbour_indices_stop_the_vote(monkeypatch, returned):
    monkeypatch.setattr(H, "nearest_neighbours", lambda q, db, k, backend="auto": np.repeat(returned, len(q), 0))
    rng = np.random.default_rng(2)
    with pytest.raises(H.SensitivityGuardError, match="no vote was counted"):
        H.raw_votes(rng.normal(size=(5, 4)).astype(np.float32), rng.normal(size=(12, 4)).astype(np.float32),
                    num_neighbours=2)


def test_the_histogram_step_names_the_file_and_draws_nothing(tmp_path, tiny_params):
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(10), 3)
    save_images(tmp_path / "candidates.npz", np.zeros((30, 4, 4, 1), np.uint8), labels)
    np.save(tmp_path / "lookahead.npy", rng.normal(size=(30, 5)).astype(np.float32))
    private = rng.normal(size=(300, 5)).astype(np.float32)
    private[-1] = np.nan  # a class near the end: no class may be drawn before the guard
    np.save(tmp_path / "private.npy", private)
    np.save(tmp_path / "private_labels.npy", rng.integers(0, 10, 300))
    (tmp_path / "calibration.json").write_text(json.dumps({"noise_multiplier": 0.5, "mechanism": "discrete_gaussian"}))
    with pytest.raises(H.SensitivityGuardError) as caught:
        main(["pe-histogram", "--params", str(tiny_params), "--iteration", "1",
              "--private-embeddings", str(tmp_path / "private.npy"),
              "--private-labels", str(tmp_path / "private_labels.npy"),
              "--candidates", str(tmp_path / "candidates.npz"), "--lookahead", str(tmp_path / "lookahead.npy"),
              "--calibration", str(tmp_path / "calibration.json"), "--out-dir", str(tmp_path / "iter_001")])
    assert str(tmp_path / "private.npy") in str(caught.value) and "\n" not in str(caught.value)
    assert not list((tmp_path / "iter_001").glob("draws/*.npz"))
    assert not (tmp_path / "odometer").exists()  # checked before the charge: a bad input costs no privacy


def _release_without_noise(private, private_labels, candidates, candidate_labels, *, m, discrete, metric):
    zero = ZeroNoise(discrete=discrete)
    return loop.noisy_histograms(private, private_labels, candidates, candidate_labels, noise_multiplier=0.0,
                                 num_neighbours=m, noise_for_class=lambda c: zero, vote_metric=metric).counts


@pytest.mark.parametrize("m", [1, 4, 10])
@pytest.mark.parametrize("labelled", [True, False])
@pytest.mark.parametrize("discrete", [True, False])
def test_every_private_sample_moves_the_release_by_at_most_one(m, labelled, discrete):
    """Remove each private sample in turn: the released counts (all classes together) move by L2 norm <= 1, for
    m-NN votes, labelled (per-class loop) and unlabelled (one population), exact and continuous noise paths."""
    rng = np.random.default_rng(10 * m + labelled)
    num_classes = 3 if labelled else 1
    candidate_labels = np.repeat(np.arange(num_classes), 12)
    candidates = rng.normal(size=(len(candidate_labels), 6)).astype(np.float32)
    private = rng.normal(size=(40, 6)).astype(np.float32)
    private_labels = rng.integers(0, num_classes, len(private))
    for metric in ("l2", "centred_cosine"):
        full = _release_without_noise(private, private_labels, candidates, candidate_labels, m=m, discrete=discrete,
                                      metric=metric)
        norms = []
        for i in range(len(private)):
            keep = np.arange(len(private)) != i
            without = _release_without_noise(private[keep], private_labels[keep], candidates, candidate_labels, m=m,
                                             discrete=discrete, metric=metric)
            norms.append(np.linalg.norm(full - without))
        assert max(norms) <= 1.0 + 1e-12
        np.testing.assert_allclose(norms, 1.0)  # exactly 1: the bound is tight, nothing is lost either


def test_the_exact_path_votes_integers_and_scales_the_noise_with_sqrt_m(monkeypatch):
    seen = {}

    class Recording(ZeroNoise):
        def add_integer_noise(self, counts, *, scale):
            seen.update(dtype=counts.dtype, scale=scale)
            return super().add_integer_noise(counts, scale=scale)

    rng = np.random.default_rng(4)
    result = H.dp_nn_histogram(rng.normal(size=(30, 4)).astype(np.float32), rng.normal(size=(9, 4)).astype(np.float32),
                               noise_multiplier=2.5, threshold=0.0, noise=Recording(discrete=True), num_neighbours=4)
    assert seen == {"dtype": np.dtype(np.int64), "scale": pytest.approx(5.0)}
    assert result.noisy_votes.sum() == 30 * 4
    np.testing.assert_array_equal(result.noisy_counts, result.noisy_votes / 2.0)


def test_neighbour_backends_agree_with_the_guard():
    rng = np.random.default_rng(5)
    queries, database = rng.normal(size=(50, 6)).astype(np.float32), rng.normal(size=(20, 6)).astype(np.float32)
    for backend in ("faiss", "torch"):
        found = neighbours.nearest_neighbours(queries, database, 5, backend=backend)
        H.check_neighbour_indices(found, num_candidates=20, num_neighbours=5, name="x")
