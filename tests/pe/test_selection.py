import numpy as np
import pytest

from privevo.pe import histogram as H
from privevo.pe import selection as S


def histogram_of(counts, threshold=0.0):
    counts = np.asarray(counts, dtype=np.float64)
    return H.NoisyHistogram(counts, H.threshold_counts(counts, threshold), 1.0, threshold)


def test_sample_selection_follows_probabilities():
    chosen = S.select(histogram_of([7.0, 0.0, 3.0]), 10_000, method="sample", rng=np.random.default_rng(0))
    assert chosen.shape == (10_000,) and 1 not in chosen
    assert np.mean(chosen == 0) == pytest.approx(0.7, abs=0.02)


def test_proportional_selection_is_deterministic_allocation():
    chosen = S.select(histogram_of([55.0, 25.0, 15.0, 5.0]), 10, method="proportional", rng=np.random.default_rng(0))
    # Floors 5,2,1,0; the two leftover draws tie on fraction 0.5 and go to the most probable.
    np.testing.assert_array_equal(np.bincount(chosen, minlength=4), [6, 3, 1, 0])
    assert len(S.proportional_selection(np.full(7, 1 / 7), 10)) == 10


def test_rank_selection_is_top_n_by_noisy_count_as_dpsda():
    # Thresholded counts tie at 0 for candidates 1 and 4; the noisy count breaks the tie.
    hist = histogram_of([9.0, 1.5, 30.0, 0.2, 1.9, 12.0], threshold=2.0)
    chosen = S.select(hist, 6, method="rank", rng=np.random.default_rng(0), rank_top=3)
    np.testing.assert_array_equal(np.bincount(chosen, minlength=6), [2, 0, 2, 0, 0, 2])
    chosen = S.select(hist, 5, method="rank", rng=np.random.default_rng(0), rank_top=4)
    assert set(chosen) == {0, 2, 4, 5} and len(chosen) == 5
    with pytest.raises(H.EmptyHistogramError):
        S.select(histogram_of([1.0, 1.0], threshold=5.0), 2, method="rank", rng=None, rank_top=1)
