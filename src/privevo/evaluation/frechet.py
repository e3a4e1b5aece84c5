"""Frechet distance between two feature distributions, each summarised by its mean and covariance.

FD = ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr(sqrt(S1 S2)).

The trace of the matrix square root is computed with symmetric eigendecompositions instead of
``scipy.linalg.sqrtm``: S1 S2 is similar to S1^(1/2) S2 S1^(1/2), which is symmetric positive
semi-definite, so tr(sqrt(S1 S2)) is the sum of the square roots of that matrix's eigenvalues.
This is several times faster than ``sqrtm`` at D = 1280 and agrees with it to ~1e-9 relative.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np

from privevo.io.artifacts import load_npz, save_npz
from privevo.io.images import ArtifactError

logger = logging.getLogger("privevo.evaluation.frechet")


@dataclass(frozen=True)
class FeatureStats:
    """Mean (D,), covariance (D, D) (float64, ddof=1) and sample count of a set of feature vectors."""

    mu: np.ndarray
    sigma: np.ndarray
    n: int

    def __post_init__(self) -> None:
        mu = np.asarray(self.mu, dtype=np.float64)
        sigma = np.asarray(self.sigma, dtype=np.float64)
        if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
            raise ValueError(f"FeatureStats: mu must be (D,) and sigma (D, D); got {mu.shape} and {sigma.shape}")
        object.__setattr__(self, "mu", mu)
        object.__setattr__(self, "sigma", sigma)
        object.__setattr__(self, "n", int(self.n))

    @property
    def dim(self) -> int:
        return int(self.mu.shape[0])

    @classmethod
    def from_features(cls, features: np.ndarray) -> "FeatureStats":
        """Statistics of an (N, D) array of features; needs N >= 2 (the covariance uses ddof=1)."""
        feats = np.asarray(features, dtype=np.float64)
        if feats.ndim != 2:
            raise ValueError(f"features must be a 2-d (N, D) array, got shape {feats.shape}")
        if feats.shape[0] < 2:
            raise ValueError(f"need at least 2 feature vectors for a covariance, got {feats.shape[0]}")
        if not np.all(np.isfinite(feats)):
            raise ValueError("features contain NaN or infinite values")
        mu = feats.mean(axis=0)
        sigma = np.cov(feats, rowvar=False)
        return cls(mu=mu, sigma=np.atleast_2d(sigma), n=feats.shape[0])

    def save(self, path: str | os.PathLike) -> None:
        """Write to an ``.npz`` (keys mu, sigma, n), atomically."""
        save_npz(path, mu=self.mu, sigma=self.sigma, n=np.int64(self.n))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "FeatureStats":
        data = load_npz(path)
        missing = {"mu", "sigma", "n"} - set(data)
        if missing:
            raise ArtifactError(f"{path}: not a FeatureStats file, missing {sorted(missing)}")
        return cls(mu=data["mu"], sigma=data["sigma"], n=int(data["n"]))


def _psd_sqrt(sigma: np.ndarray) -> np.ndarray:
    """Symmetric square root of a PSD matrix (negative eigenvalues from round-off clipped to 0)."""
    sym = (sigma + sigma.T) / 2.0
    vals, vecs = np.linalg.eigh(sym)
    vals = np.sqrt(np.clip(vals, 0.0, None))
    return (vecs * vals) @ vecs.T


def sqrtm_psd_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """tr(sqrt(sigma1 @ sigma2)) for symmetric PSD matrices, via symmetric eigendecompositions."""
    s1 = np.asarray(sigma1, dtype=np.float64)
    s2 = np.asarray(sigma2, dtype=np.float64)
    if s1.ndim != 2 or s1.shape[0] != s1.shape[1] or s1.shape != s2.shape:
        raise ValueError(f"expected two square matrices of the same shape, got {s1.shape} and {s2.shape}")
    s1h = _psd_sqrt(s1)
    m = s1h @ s2 @ s1h
    m = (m + m.T) / 2.0
    eig = np.linalg.eigvalsh(m)
    return float(np.sqrt(np.clip(eig, 0.0, None)).sum())


def frechet_distance(stats1: FeatureStats, stats2: FeatureStats) -> float:
    """Frechet distance between two Gaussians given by their (mu, sigma)."""
    if stats1.dim != stats2.dim:
        raise ValueError(f"feature dimensions differ: {stats1.dim} vs {stats2.dim}")
    diff = stats1.mu - stats2.mu
    tr_covmean = sqrtm_psd_product(stats1.sigma, stats2.sigma)
    fd = float(diff @ diff + np.trace(stats1.sigma) + np.trace(stats2.sigma) - 2.0 * tr_covmean)
    if fd < 0.0:
        # Only round-off can make it negative (the true value is >= 0).
        logger.debug("Frechet distance %.3g < 0 from round-off; clipped to 0", fd)
        fd = 0.0
    return fd


def frechet_distance_to_features(features: np.ndarray, reference: FeatureStats) -> float:
    """Frechet distance of a feature sample to reference statistics, fast when N < D.

    With X the centred (N, D) sample and S = X^T X / (N-1), the non-zero eigenvalues of R^1/2 S R^1/2
    are those of the N x N matrix X R X^T / (N-1), so tr sqrt(R S) needs no D x D decomposition.
    """
    sample = FeatureStats.from_features(features)
    if sample.dim != reference.dim:
        raise ValueError(f"feature dimensions differ: {sample.dim} vs {reference.dim}")
    n = len(features)
    if n >= sample.dim:
        return frechet_distance(sample, reference)
    centred = np.asarray(features, dtype=np.float64) - sample.mu
    gram = centred @ reference.sigma @ centred.T / (n - 1)
    eig = np.linalg.eigvalsh((gram + gram.T) / 2.0)
    tr_covmean = float(np.sqrt(np.clip(eig, 0.0, None)).sum())
    diff = sample.mu - reference.mu
    fd = float(diff @ diff + np.trace(sample.sigma) + np.trace(reference.sigma) - 2.0 * tr_covmean)
    return max(fd, 0.0)
