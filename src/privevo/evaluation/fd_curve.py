"""Evaluation of populations: Frechet distances against private reference statistics, and summaries of
noisy histograms. Evaluation that reads private data is not part of the DP release."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from privevo.io.artifacts import load_npz, save_npz
from privevo.evaluation.frechet import FeatureStats, frechet_distance_to_features

logger = logging.getLogger("privevo.evaluation.fd_curve")

PRIVATE_STATS_LABEL = ("PRIVATE: feature statistics of the private data without noise; evaluation only, not part "
                       "of the DP release, never to be published")

ALL_CLASSES = "all"


def reference_stats(embeddings: np.ndarray, labels: np.ndarray) -> dict[str, FeatureStats]:
    """Feature statistics of the whole private set ("all") and of every class ("0" .. "9") with at least two images:
    a covariance needs two, so a one-image class has no per-class FD (population_distances skips it)."""
    stats = {ALL_CLASSES: FeatureStats.from_features(embeddings)}
    for c in np.unique(labels):
        if (labels == c).sum() >= 2:
            stats[str(int(c))] = FeatureStats.from_features(embeddings[labels == c])
    return stats


def save_stats(path: str | Path, stats: dict[str, FeatureStats]) -> None:
    arrays = {}
    for key, s in stats.items():
        arrays[f"mu_{key}"], arrays[f"sigma_{key}"], arrays[f"n_{key}"] = s.mu, s.sigma, np.int64(s.n)
    save_npz(path, **arrays, privacy_label=np.array(PRIVATE_STATS_LABEL))


def load_stats(path: str | Path) -> dict[str, FeatureStats]:
    arrays = load_npz(path)
    keys = [k[3:] for k in arrays if k.startswith("mu_")]  # privacy_label is not a statistic
    return {k: FeatureStats(mu=arrays[f"mu_{k}"], sigma=arrays[f"sigma_{k}"], n=int(arrays[f"n_{k}"])) for k in keys}


def population_distances(features: np.ndarray, labels: np.ndarray, reference: dict[str, FeatureStats], *,
                         per_class: bool = True) -> dict[str, float]:
    """FD of a population to the reference, overall and (optionally) per class."""
    out = {ALL_CLASSES: frechet_distance_to_features(features, reference[ALL_CLASSES])}
    if per_class:
        for c in np.unique(labels):
            if (labels == c).sum() >= 2 and str(int(c)) in reference:
                out[str(int(c))] = frechet_distance_to_features(features[labels == c], reference[str(int(c))])
    return out


def equal_size_rows(labels: np.ndarray, per_class: int, *, seed: int, iteration: int) -> np.ndarray:
    """Rows of a population with at most ``per_class`` of each class: a seeded draw without replacement where a
    class has more, so that FDs of populations of different sizes (pe.api_schedule) compare at equal N."""
    from privevo.core import seeding

    rows = []
    for c in np.unique(labels):
        index = np.flatnonzero(labels == c)
        if len(index) > per_class:
            draw = seeding.rng(seed, role="evaluation", class_index=int(c), iteration=iteration)
            index = np.sort(draw.choice(index, size=per_class, replace=False))
        rows.append(index)
    return np.concatenate(rows) if rows else np.arange(0)


def fd_curve_frame(distances_by_iteration: dict[int, dict[str, float]], metric: str) -> pd.DataFrame:
    """Long format for `dvc plots`: iteration, class, metric, value."""
    rows = [{"iteration": t, "class": c, "metric": metric, "value": v}
            for t, by_class in sorted(distances_by_iteration.items()) for c, v in by_class.items()]
    return pd.DataFrame(rows, columns=["iteration", "class", "metric", "value"])
