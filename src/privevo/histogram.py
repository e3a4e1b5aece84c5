"""The DP nearest-neighbour histogram and the selection of the next population: pure array functions.

This is the only computation that touches private data. Clean counts live only inside
:func:`dp_nn_histogram`; callers get noisy counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from privevo.neighbours import nearest_neighbours


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

    @property
    def probabilities(self) -> np.ndarray:
        total = self.thresholded_counts.sum()
        if total <= 0:
            raise EmptyHistogramError(
                f"all {len(self.thresholded_counts)} noisy counts are zero after the threshold "
                f"H={self.threshold:g} (noise multiplier {self.noise_multiplier:g}); lower "
                "pe.histogram_threshold or raise privacy.epsilon"
            )
        return self.thresholded_counts / total


def dp_nn_histogram(
    private_embeddings: np.ndarray,
    candidate_embeddings: np.ndarray,
    *,
    noise_multiplier: float,
    threshold: float,
    noise_rng: np.random.Generator,
    num_neighbours: int = 1,
    backend: str = "auto",
) -> NoisyHistogram:
    """The DP nearest-neighbour histogram (PE's Algorithm 2) with Gaussian noise N(0, sigma^2) per bin."""
    if noise_multiplier < 0:
        raise ValueError(f"noise_multiplier must be >= 0, got {noise_multiplier}")
    counts = clean_votes(private_embeddings, candidate_embeddings, num_neighbours=num_neighbours, backend=backend)
    noisy = counts + noise_rng.normal(0.0, noise_multiplier, size=counts.shape)
    del counts
    return NoisyHistogram(noisy, threshold_counts(noisy, threshold), float(noise_multiplier), float(threshold))


def sample_selection(probabilities: np.ndarray, num_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``num_samples`` draws with replacement, by ``probabilities``."""
    return np.sort(rng.choice(len(probabilities), size=num_samples, replace=True, p=probabilities))


def rank_selection(probabilities: np.ndarray, num_samples: int) -> np.ndarray:
    """Deterministic allocation: each candidate gets floor(n p) copies, the remainder goes by largest
    fractional part (ties to the higher probability, then the lower index)."""
    expected = probabilities * num_samples
    copies = np.floor(expected).astype(np.int64)
    remainder = num_samples - int(copies.sum())
    if remainder > 0:
        order = np.lexsort((np.arange(len(probabilities)), -probabilities, -(expected - copies)))
        copies[order[:remainder]] += 1
    return np.repeat(np.arange(len(probabilities)), copies)


def select(probabilities: np.ndarray, num_samples: int, *, method: str, rng: np.random.Generator) -> np.ndarray:
    if method == "sample":
        return sample_selection(probabilities, num_samples, rng)
    if method == "rank":
        return rank_selection(probabilities, num_samples)
    raise ValueError(f"unknown selection method {method!r}; choose sample or rank")
