"""The DP nearest-neighbour histogram and the selection of the next population: pure array functions.

This is the only computation that touches private data. Clean counts live only inside
:func:`dp_nn_histogram`; callers get noisy counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from privevo.pe.neighbours import nearest_neighbours
from privevo.pe.noise import NoiseSource


class EmptyHistogramError(RuntimeError):
    """Every noisy count fell to zero after the threshold, so there is nothing to select from."""


def clean_votes(
    private_embeddings: np.ndarray,
    candidate_embeddings: np.ndarray,
    *,
    num_neighbours: int = 1,
    backend: str = "auto",
) -> np.ndarray:
    """Votes per candidate: each private sample gives 1/sqrt(m) to each of its m nearest candidates.

    Adding or removing one private sample changes the vector by exactly 1 in L2 norm.
    """
    counts = np.zeros(len(candidate_embeddings), dtype=np.float64)
    if len(private_embeddings) == 0:
        return counts
    neighbours = nearest_neighbours(private_embeddings, candidate_embeddings, num_neighbours, backend=backend)
    np.add.at(counts, neighbours.ravel(), 1.0 / math.sqrt(num_neighbours))
    return counts


def threshold_counts(noisy_counts: np.ndarray, threshold: float) -> np.ndarray:
    """max(noisy - H, 0)."""
    if threshold < 0:
        raise ValueError(f"histogram_threshold must be >= 0, got {threshold}")
    return np.maximum(noisy_counts - threshold, 0.0)


@dataclass(frozen=True)
class NoisyHistogram:
    """What may leave the histogram step: noisy counts, thresholded counts and the noise used."""

    noisy_counts: np.ndarray
    thresholded_counts: np.ndarray
    noise_multiplier: float
    threshold: float

    def check_not_empty(self) -> None:
        if self.thresholded_counts.sum() <= 0:
            raise EmptyHistogramError(
                f"all {len(self.thresholded_counts)} noisy counts are zero after the threshold "
                f"H={self.threshold:g} (noise multiplier {self.noise_multiplier:g}); lower "
                "pe.histogram_threshold or raise privacy.epsilon"
            )

    @property
    def probabilities(self) -> np.ndarray:
        self.check_not_empty()
        return self.thresholded_counts / self.thresholded_counts.sum()


def dp_nn_histogram(
    private_embeddings: np.ndarray,
    candidate_embeddings: np.ndarray,
    *,
    noise_multiplier: float,
    threshold: float,
    noise: NoiseSource,
    num_neighbours: int = 1,
    backend: str = "auto",
) -> NoisyHistogram:
    """The DP nearest-neighbour histogram (PE's Algorithm 2) with Gaussian noise N(0, sigma^2) per bin.

    ``noise`` draws from the OS entropy by default (:mod:`privevo.pe.noise`): a seeded generator here would
    let anyone with the params subtract the noise.
    """
    if noise_multiplier < 0:
        raise ValueError(f"noise_multiplier must be >= 0, got {noise_multiplier}")
    counts = clean_votes(private_embeddings, candidate_embeddings, num_neighbours=num_neighbours, backend=backend)
    noisy = counts + noise.gaussian(noise_multiplier, len(counts))
    del counts
    return NoisyHistogram(noisy, threshold_counts(noisy, threshold), float(noise_multiplier), float(threshold))


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


SELECTION_METHODS = ("sample", "rank", "proportional")


def select(histogram: NoisyHistogram, num_samples: int, *, method: str, rng: np.random.Generator,
           rank_top: int | None = None) -> np.ndarray:
    """Indices of the ``num_samples`` parents of the next population, from the noisy histogram only."""
    if method == "sample":
        return sample_selection(histogram.probabilities, num_samples, rng)
    if method == "proportional":
        return proportional_selection(histogram.probabilities, num_samples)
    if method == "rank":
        histogram.check_not_empty()
        return rank_selection(histogram.thresholded_counts, histogram.noisy_counts, num_samples,
                              top=rank_top if rank_top is not None else num_samples)
    raise ValueError(f"unknown selection method {method!r}; choose from {', '.join(SELECTION_METHODS)}")
