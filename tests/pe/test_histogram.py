import numpy as np
import pytest

from privevo.pe import histogram as H
from privevo.pe.noise import EntropyNoise, ReproducibleNoise, SecureNoise
from privevo.pe.neighbours import nearest_neighbours


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
                             noise=EntropyNoise(), num_neighbours=m)
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


class FixedNoise:
    name = "fixed"

    def __init__(self, values):
        self.values = np.asarray(values, dtype=np.float64)

    def gaussian(self, sigma, size):
        return sigma * self.values[:size]


def test_noise_is_added_to_the_clean_votes_with_scale_sigma(embeddings):
    private, candidates = embeddings
    clean = H.clean_votes(private, candidates)
    unit = np.linspace(-1, 1, len(candidates))
    hist = H.dp_nn_histogram(private, candidates, noise_multiplier=3.0, threshold=0.0, noise=FixedNoise(unit))
    np.testing.assert_allclose(hist.noisy_counts - clean, 3.0 * unit)


@pytest.mark.parametrize("source", [EntropyNoise(), SecureNoise()])
def test_dp_noise_sources_are_fresh_every_draw_and_gaussian_with_sigma(source):
    a, b = source.gaussian(3.0, 200_000), source.gaussian(3.0, 200_000)
    assert not np.array_equal(a[:100], b[:100])
    assert a.dtype == np.float64 and a.shape == (200_000,)
    assert a.mean() == pytest.approx(0.0, abs=0.03)
    assert a.std() == pytest.approx(3.0, rel=0.01)
    from scipy import stats
    assert stats.kstest(a / 3.0, "norm").pvalue > 1e-4


def test_reproducible_noise_is_the_public_seeded_stream():
    a = ReproducibleNoise(7, class_index=2, iteration=3).gaussian(2.0, 50)
    b = ReproducibleNoise(7, class_index=2, iteration=3).gaussian(2.0, 50)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, ReproducibleNoise(7, class_index=2, iteration=4).gaussian(2.0, 50))


def test_threshold_clips_and_all_zero_fails_with_advice(embeddings):
    private, candidates = embeddings
    np.testing.assert_array_equal(H.threshold_counts(np.array([5.0, 1.0, -2.0]), 2.0), [3.0, 0.0, 0.0])
    hist = H.dp_nn_histogram(private, candidates, noise_multiplier=1.0, threshold=1e6, noise=EntropyNoise())
    with pytest.raises(H.EmptyHistogramError, match="histogram_threshold.*epsilon"):
        hist.probabilities


def test_centred_cosine_votes_follow_direction_not_distance_to_the_centre():
    from privevo.pe.loop import centred_unit, noisy_histograms

    # A hub candidate sits at the centre of the candidates; L2 gives it every vote, centred cosine none.
    candidates = np.array([[0.0, 0.0], [10.0, 0.0], [-10.0, 0.0], [0.0, 10.0], [0.0, -10.0]], np.float32)
    private = np.array([[1.0, 0.2], [0.2, 1.0], [-1.0, 0.1], [0.1, -1.0]], np.float32)
    kwargs = dict(noise_multiplier=0.0, num_neighbours=1, noise_for_class=lambda c: ReproducibleNoise(0, class_index=c, iteration=1))
    labels_p, labels_c = np.zeros(4, np.int64), np.zeros(5, np.int64)
    l2 = noisy_histograms(private, labels_p, candidates, labels_c, **kwargs).counts
    cosine = noisy_histograms(private, labels_p, candidates, labels_c, vote_metric="centred_cosine", **kwargs).counts
    np.testing.assert_array_equal(l2, [4, 0, 0, 0, 0])
    np.testing.assert_array_equal(cosine, [0, 1, 1, 1, 1])
    unit = centred_unit(private, candidates.mean(0))
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, rtol=1e-6)
