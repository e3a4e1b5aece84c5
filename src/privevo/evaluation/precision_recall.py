"""Precision, recall, density and coverage of a population against the private images (Naeem et al. 2020, the
``prdc`` package), in the feature space of the FD. Evaluation that reads private data: not part of the DP release.

FD mixes fidelity and diversity in one number; these split them. Precision (and density) ask whether synthetic
images fall inside the private images' k-NN balls, recall (and coverage) whether the private images are reached.
"""

from __future__ import annotations

import numpy as np

PRDC_METRICS = ("precision", "recall", "density", "coverage")
DEFAULT_NEAREST_K = 5
# Both sets are subsampled to at most this many rows: prdc holds the full pairwise distance matrices.
DEFAULT_MAX_SAMPLES = 5000


def subsample_rows(count: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted rows of a seeded draw without replacement of ``limit`` of ``count`` (all of them when fewer)."""
    if count <= limit:
        return np.arange(count)
    return np.sort(rng.choice(count, size=limit, replace=False))


def precision_recall(real: np.ndarray, fake: np.ndarray, *, nearest_k: int = DEFAULT_NEAREST_K,
                     max_samples: int = DEFAULT_MAX_SAMPLES, rng: np.random.Generator | None = None) -> dict[str, float]:
    """``{"precision", "recall", "density", "coverage"}`` of ``fake`` against ``real`` (feature rows)."""
    from prdc import compute_prdc

    real, fake = np.asarray(real, np.float32), np.asarray(fake, np.float32)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"features must be 2-d with one width; got {real.shape} and {fake.shape}")
    # prdc's k-th neighbour within a set counts the row itself: a set needs k + 2 rows. A small population (one
    # class of a tiny run) gets the largest k it allows rather than no numbers.
    nearest_k = min(nearest_k, min(len(real), len(fake)) - 2)
    if nearest_k < 1:
        raise ValueError(f"precision/recall needs at least 3 rows in each set; got {len(real)} real and "
                         f"{len(fake)} synthetic")
    rng = rng or np.random.default_rng(0)
    real = real[subsample_rows(len(real), max_samples, rng)]
    fake = fake[subsample_rows(len(fake), max_samples, rng)]
    values = compute_prdc(real_features=real, fake_features=fake, nearest_k=nearest_k)
    return {name: float(values[name]) for name in PRDC_METRICS}
