"""How the next population's parents are picked from a noisy histogram (post-processing: no privacy cost)."""

from __future__ import annotations

import numpy as np

from privevo.core.registry import Registry
from privevo.pe.histogram import NoisyHistogram


def sample_selection(probabilities: np.ndarray, num_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``num_samples`` draws with replacement, by ``probabilities``."""
    return np.sort(rng.choice(len(probabilities), size=num_samples, replace=True, p=probabilities))


def proportional_selection(probabilities: np.ndarray, num_samples: int) -> np.ndarray:
    """Deterministic allocation: each candidate gets floor(n p) copies, the remainder goes by largest
    fractional part (ties to the higher probability, then the lower index)."""
    expected = probabilities * num_samples
    copies = np.floor(expected).astype(np.int64)
    remainder = num_samples - int(copies.sum())
    if remainder > 0:
        order = np.lexsort((np.arange(len(probabilities)), -probabilities, -(expected - copies)))
        copies[order[:remainder]] += 1
    return np.repeat(np.arange(len(probabilities)), copies)


def rank_selection(thresholded_counts: np.ndarray, noisy_counts: np.ndarray, num_samples: int, *,
                   top: int) -> np.ndarray:
    """DPSDA's rank mode: the ``top`` candidates with the highest thresholded noisy count (ties broken by
    the noisy count, then the lower index), each repeated so that ``num_samples`` parents come out.

    DPSDA selects the top N and makes ``next_variation_api_fold`` variations of each; repeating each of the
    top candidates num_samples / top times is the same thing with one variation per parent.
    """
    if not 1 <= top <= len(thresholded_counts):
        raise ValueError(f"rank selection keeps 1..{len(thresholded_counts)} candidates, got top={top}")
    order = np.lexsort((np.arange(len(thresholded_counts)), -noisy_counts, -thresholded_counts))
    best = np.sort(order[:top])
    return np.sort(np.resize(best, num_samples))


def select_by_sampling(histogram: NoisyHistogram, num_samples: int, *, rng: np.random.Generator,
                       rank_top: int | None = None) -> np.ndarray:
    """The paper's selection: ``num_samples`` draws with replacement by the thresholded noisy histogram."""
    return sample_selection(histogram.probabilities, num_samples, rng)


def select_proportionally(histogram: NoisyHistogram, num_samples: int, *, rng: np.random.Generator,
                          rank_top: int | None = None) -> np.ndarray:
    return proportional_selection(histogram.probabilities, num_samples)


def select_by_rank(histogram: NoisyHistogram, num_samples: int, *, rng: np.random.Generator,
                   rank_top: int | None = None) -> np.ndarray:
    histogram.check_not_empty()
    return rank_selection(histogram.thresholded_counts, histogram.noisy_counts, num_samples,
                          top=rank_top if rank_top is not None else num_samples)


SELECTION_METHODS = Registry("selection method", {
    "sample": "privevo.pe.selection:select_by_sampling",
    "rank": "privevo.pe.selection:select_by_rank",
    "proportional": "privevo.pe.selection:select_proportionally",
})


def select(histogram: NoisyHistogram, num_samples: int, *, method: str, rng: np.random.Generator,
           rank_top: int | None = None) -> np.ndarray:
    """Indices of the ``num_samples`` parents of the next population, from the noisy histogram only."""
    return SELECTION_METHODS.get(method, key="pe.selection")(histogram, num_samples, rng=rng, rank_top=rank_top)
