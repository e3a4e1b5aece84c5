"""The DP nearest-neighbour histogram: votes, Gaussian noise and the threshold, as pure array functions.

This is the only computation that touches private data. Clean counts live only inside
:func:`dp_nn_histogram`; callers get noisy counts. Guards stop the job before a vote is counted when an input
could break the sensitivity of 1 (non-finite embeddings, neighbour indices out of range or repeated).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from privevo.pe.neighbours import nearest_neighbours
from privevo.pe.noise import NoiseSource


class EmptyHistogramError(RuntimeError):
    """Every noisy count fell to zero after the threshold, so there is nothing to select from."""


class SensitivityGuardError(ValueError):
    """An input that would break the histogram's sensitivity (a non-finite embedding, an out-of-range or repeated
    neighbour index) reached the vote count; the job stops before any vote is counted."""


def check_finite_embeddings(embeddings: np.ndarray, *, name: str) -> None:
    """Stop before any vote when ``embeddings`` hold NaN or infinity: faiss returns index -1 for a NaN query, and
    the vote would land on the last candidate with all m of its weight. No count is named (the rows may be private)."""
    if not np.isfinite(embeddings).all():
        raise SensitivityGuardError(f"{name}: holds non-finite values (NaN or inf); re-embed it before voting, "
                                    "no vote was counted")


def check_neighbour_indices(neighbours: np.ndarray, *, num_candidates: int, num_neighbours: int, name: str) -> None:
    """Every private sample's m neighbours are m distinct candidates in [0, num_candidates): otherwise one sample
    could move a count by more than one vote, and the sensitivity the accountant assumes would not hold."""
    if neighbours.ndim != 2 or neighbours.shape[1] != num_neighbours:
        raise SensitivityGuardError(f"{name}: the neighbour search returned shape {neighbours.shape}, expected "
                                    f"(num_private, {num_neighbours})")
    if neighbours.size and (neighbours.min() < 0 or neighbours.max() >= num_candidates):
        raise SensitivityGuardError(f"{name}: the neighbour search returned an index outside [0, {num_candidates}) "
                                    "(faiss gives -1 for a NaN query); no vote was counted")
    if num_neighbours > 1 and neighbours.size:
        ordered = np.sort(neighbours, axis=1)
        if (ordered[:, 1:] == ordered[:, :-1]).any():
            raise SensitivityGuardError(f"{name}: the neighbour search returned the same candidate twice for one "
                                        "sample; no vote was counted")


def raw_votes(
    private_embeddings: np.ndarray,
    candidate_embeddings: np.ndarray,
    *,
    num_neighbours: int = 1,
    backend: str = "auto",
    name: str = "private embeddings",
    candidate_name: str = "candidate embeddings",
) -> np.ndarray:
    """Integer votes per candidate: each private sample gives 1 to each of its m nearest candidates.

    Adding or removing one private sample changes m distinct counts by 1 each: L2 sensitivity sqrt(m) in these
    units, 1 once divided by sqrt(m). ``name`` and ``candidate_name`` say which files a guard refers to.
    """
    counts = np.zeros(len(candidate_embeddings), dtype=np.int64)
    check_finite_embeddings(candidate_embeddings, name=candidate_name)
    if len(private_embeddings) == 0:
        return counts
    check_finite_embeddings(private_embeddings, name=name)
    neighbours = nearest_neighbours(private_embeddings, candidate_embeddings, num_neighbours, backend=backend)
    check_neighbour_indices(neighbours, num_candidates=len(candidate_embeddings), num_neighbours=num_neighbours,
                            name=name)
    return np.bincount(neighbours.ravel(), minlength=len(candidate_embeddings)).astype(np.int64)


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
    votes = raw_votes(private_embeddings, candidate_embeddings, num_neighbours=num_neighbours, backend=backend)
    return votes / math.sqrt(num_neighbours)


def add_histogram_noise(votes: np.ndarray, *, noise_multiplier: float, num_neighbours: int, noise: NoiseSource
                        ) -> tuple[np.ndarray, np.ndarray | None]:
    """The noisy counts of integer ``votes`` in 1/sqrt(m)-weighted units (sensitivity 1), and the mechanism's own
    integer output where the noise is discrete (else None).

    Discrete: the integer votes (sensitivity sqrt(m)) plus a discrete Gaussian of scale sigma * sqrt(m), divided by
    sqrt(m) afterwards (post-processing of the integer output, nothing finer). Continuous: the weighted votes plus
    N(0, sigma^2). Both are the same Gaussian mechanism at noise multiplier sigma for sensitivity 1.
    """
    root_m = math.sqrt(num_neighbours)
    if getattr(noise, "discrete", False):  # a source that does not say is continuous
        noisy_votes = noise.add_integer_noise(np.asarray(votes, dtype=np.int64), scale=noise_multiplier * root_m)
        return noisy_votes / root_m, noisy_votes
    return votes / root_m + noise.gaussian(noise_multiplier, len(votes)), None


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
    noisy_votes: np.ndarray | None = None
    """The discrete mechanism's integer output (noisy_counts = noisy_votes / sqrt(m)); None for continuous noise."""

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
    name: str = "private embeddings",
    candidate_name: str = "candidate embeddings",
) -> NoisyHistogram:
    """The DP nearest-neighbour histogram (PE's Algorithm 2) at noise multiplier sigma for sensitivity 1.

    ``noise`` is exact discrete Gaussian noise on the integer votes by default (:mod:`privevo.pe.noise`), drawn
    from a CSPRNG: a seeded generator here would let anyone with the params subtract the noise.
    """
    if noise_multiplier < 0:
        raise ValueError(f"noise_multiplier must be >= 0, got {noise_multiplier}")
    votes = raw_votes(private_embeddings, candidate_embeddings, num_neighbours=num_neighbours, backend=backend,
                      name=name, candidate_name=candidate_name)
    noisy, noisy_votes = add_histogram_noise(votes, noise_multiplier=noise_multiplier, num_neighbours=num_neighbours,
                                             noise=noise)
    del votes
    return NoisyHistogram(noisy, threshold_counts(noisy, threshold), float(noise_multiplier), float(threshold),
                          noisy_votes)
