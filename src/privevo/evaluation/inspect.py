"""Inspection of one released histogram: per-class concentration of the noisy votes (no private data)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd


def effective_sample_size(probabilities: np.ndarray) -> float:
    """1 / sum(p^2): how many candidates the selection distribution effectively draws from."""
    total = probabilities.sum()
    if total <= 0:
        return 0.0
    p = probabilities / total
    return float(1.0 / np.square(p).sum())


def histogram_summary(histogram: dict[str, np.ndarray], *, top: int = 3) -> pd.DataFrame:
    """Per class: candidates, noisy total, share zeroed by the threshold, ESS, top share and top candidates.

    Uses only the noisy (released) counts.
    """
    rows = []
    for c in np.unique(histogram["labels"]):
        mask = histogram["labels"] == c
        ids, noisy, kept = histogram["candidate_id"][mask], histogram["noisy_count"][mask], histogram["thresholded_count"][mask]
        order = np.argsort(-noisy, kind="stable")[:top]
        rows.append({
            "class": int(c),
            "candidates": int(mask.sum()),
            "noisy_total": float(noisy.sum()),
            "zeroed_fraction": float(np.mean(kept <= 0)),
            "effective_sample_size": effective_sample_size(kept),
            "top_share": float(kept.max() / kept.sum()) if kept.sum() > 0 else 0.0,
            "top_candidates": " ".join(f"{int(i)}:{noisy[j]:.1f}" for i, j in zip(ids[order], order)),
        })
    return pd.DataFrame(rows)


def previous_candidates(iteration_dir: Path, histogram: dict[str, np.ndarray] | None = None) -> Path | None:
    """The population voted on in iteration t, S_{t-1}.

    The histogram step records its path (relative to the iteration folder); S_0 lives in a base folder keyed
    by its own settings. Older histograms without the record fall back to the previous iteration folder
    for t > 1, and to None for t = 1.
    """
    if histogram is not None and "voted_candidates" in histogram:
        return Path(os.path.normpath(iteration_dir / str(histogram["voted_candidates"])))
    t = int(iteration_dir.name.split("_")[1])
    if t == 1:
        return None
    return iteration_dir.parent / f"iter_{t - 1:03d}" / "candidates.npz"


def top_and_bottom(histogram: dict[str, np.ndarray], *, top: int) -> tuple[np.ndarray, list[str]]:
    """Candidate ids of the ``top`` most- and least-voted candidates of every class, with captions."""
    picks, captions = [], []
    for c in np.unique(histogram["labels"]):
        index = np.flatnonzero(histogram["labels"] == c)
        order = index[np.argsort(-histogram["noisy_count"][index], kind="stable")]
        for j in np.concatenate([order[:top], order[-top:]]):
            picks.append(histogram["candidate_id"][j])
            captions.append(f"c{c} {histogram['noisy_count'][j]:.0f}")
    return np.array(picks), captions
