import numpy as np
import pytest

from privevo import histogram as H
from privevo.neighbours import nearest_neighbours


def brute_force_votes(private, candidates, m=1):
    d = ((private[:, None, :] - candidates[None, :, :]) ** 2).sum(-1)
    counts = np.zeros(len(candidates))
    for row in d:
        for j in np.argsort(row, kind="stable")[:m]:
            counts[j] += 1 / np.sqrt(m)
    return counts


@pytest.fixture
def embeddings():
    rng = np.random.default_rng(0)
    return rng.normal(size=(500, 16)).astype(np.float32), rng.normal(size=(40, 16)).astype(np.float32)


@pytest.mark.parametrize("backend", ["faiss", "torch"])
def test_clean_counts_sum_to_private_count(embeddings, backend):
    private, candidates = embeddings
    counts = H.clean_votes(private, candidates, backend=backend)
    assert counts.sum() == pytest.approx(len(private))
    assert counts.dtype == np.float64 and counts.shape == (len(candidates),)


@pytest.mark.parametrize("m", [1, 3])
def test_zero_noise_zero_threshold_equals_brute_force(embeddings, m):
    private, candidates = embeddings
    hist = H.dp_nn_histogram(private, candidates, noise_multiplier=0.0, threshold=0.0,
                             noise_rng=np.random.default_rng(1), num_neighbours=m)
    np.testing.assert_allclose(hist.noisy_counts, brute_force_votes(private, candidates, m))
    np.testing.assert_allclose(hist.thresholded_counts, hist.noisy_counts)


@pytest.mark.parametrize("m", [1, 2, 5])
def test_removing_one_private_sample_moves_counts_by_one_in_l2(embeddings, m):
    private, candidates = embeddings
    full = H.clean_votes(private, candidates, num_neighbours=m)
    for drop in (0, 17, 499):
        reduced = H.clean_votes(np.delete(private, drop, axis=0), candidates, num_neighbours=m)
        assert np.linalg.norm(full - reduced) == pytest.approx(1.0)


def test_faiss_and_torch_backends_agree():
    rng = np.random.default_rng(3)
    queries, database = rng.normal(size=(2000, 64)), rng.normal(size=(300, 64))
    np.testing.assert_array_equal(nearest_neighbours(queries, database, 4, backend="faiss"),
                                  nearest_neighbours(queries, database, 4, backend="torch"))


def test_noise_uses_its_own_stream_and_has_sigma(embeddings):
    private, candidates = embeddings
    clean = H.clean_votes(private, candidates)
    a = H.dp_nn_histogram(private, candidates, noise_multiplier=3.0, threshold=0.0, noise_rng=np.random.default_rng(5))
    b = H.dp_nn_histogram(private, candidates, noise_multiplier=3.0, threshold=0.0, noise_rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a.noisy_counts, b.noisy_counts)
    noise = a.noisy_counts - clean
    np.testing.assert_allclose(noise, np.random.default_rng(5).normal(0, 3.0, len(candidates)))


def test_threshold_clips_and_all_zero_fails_with_advice(embeddings):
    private, candidates = embeddings
    np.testing.assert_array_equal(H.threshold_counts(np.array([5.0, 1.0, -2.0]), 2.0), [3.0, 0.0, 0.0])
    hist = H.dp_nn_histogram(private, candidates, noise_multiplier=1.0, threshold=1e6, noise_rng=np.random.default_rng(0))
    with pytest.raises(H.EmptyHistogramError, match="histogram_threshold.*epsilon"):
        hist.probabilities


def test_sample_selection_follows_probabilities():
    p = np.array([0.7, 0.0, 0.3])
    chosen = H.select(p, 10_000, method="sample", rng=np.random.default_rng(0))
    assert chosen.shape == (10_000,) and 1 not in chosen
    assert np.mean(chosen == 0) == pytest.approx(0.7, abs=0.02)


def test_rank_selection_is_deterministic_allocation():
    p = np.array([0.55, 0.25, 0.15, 0.05])
    chosen = H.select(p, 10, method="rank", rng=np.random.default_rng(0))
    # Floors 5,2,1,0; the two leftover draws tie on fraction 0.5 and go to the most probable.
    np.testing.assert_array_equal(np.bincount(chosen, minlength=4), [6, 3, 1, 0])
    assert len(H.rank_selection(np.full(7, 1 / 7), 10)) == 10
