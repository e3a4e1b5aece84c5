"""The DP nearest-neighbour histogram: votes, Gaussian noise and the threshold, as pure array functions.

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


def matched_threshold(noisy_counts: np.ndarray, *, threshold: float, noise_multiplier: float,
                      reference_noise_multiplier: float) -> float:
    """H for one class's released counts at ``noise_multiplier`` that zeroes as many candidates as ``threshold``
    would, in expectation, under the larger ``reference_noise_multiplier``.

    At a fixed H in votes a larger noise lifts more low-count candidates over H, so a smaller epsilon selects from
    a wider set. Adding the missing noise variance in expectation keeps that width at every epsilon:
    zeroed share z = mean_i Phi((H - n_i) / sqrt(sigma_ref^2 - sigma^2)), and H' is the z-quantile of the n_i.
    It reads only the noisy counts and public settings, so it is post-processing and costs no privacy.
    At a noise at or above the reference's, H is returned unchanged.
    """
    from scipy.stats import norm

    if threshold < 0:
        raise ValueError(f"histogram_threshold must be >= 0, got {threshold}")
    noisy_counts = np.asarray(noisy_counts, dtype=np.float64)
    extra = reference_noise_multiplier ** 2 - noise_multiplier ** 2
    if extra <= 0 or len(noisy_counts) == 0:
        return float(threshold)
    zeroed_share = float(np.mean(norm.cdf((threshold - noisy_counts) / math.sqrt(extra))))
    return float(np.quantile(noisy_counts, zeroed_share))


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
