"""Inspection of one released histogram: per-class concentration of the noisy votes (no private data)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from privevo.pe.histogram import threshold_counts
from privevo.pe.iteration_files import class_threshold


def effective_sample_size(probabilities: np.ndarray) -> float:
    """1 / sum(p^2): how many candidates the selection distribution effectively draws from."""
    total = probabilities.sum()
    if total <= 0:
        return 0.0
    p = probabilities / total
    return float(1.0 / np.square(p).sum())


def _selection_probabilities(counts: np.ndarray, threshold: float) -> np.ndarray:
    # Uniform where a re-noised histogram is all zero: PE would stop there, but a diagnostic should not.
    kept = threshold_counts(counts, threshold)
    total = kept.sum()
    return kept / total if total > 0 else np.full(len(kept), 1.0 / len(kept))


def selection_sensitivity(noisy: np.ndarray, *, threshold: float, noise_multiplier: float, num_draws: int,
                          repeats: int = 50, seed: int = 0) -> tuple[float, float]:
    """How much the DP noise moves PE's selection, next to how much the selection's own draws do.

    ``noise_tv``: the mean total-variation distance between P_t from the released counts and P_t from the same
    counts with one more N(0, noise_multiplier^2) draw each. The released counts stand in for the clean ones,
    which are never written, so this estimates how far noise of the histogram's size moves P_t.
    ``draw_tv``: the mean TV distance between P_t and the empirical distribution of ``num_draws`` draws from it
    (PE's ``pe.selection: sample``; rank and proportional selection draw nothing, so it does not apply to them).
    Monte Carlo over ``repeats`` with a fixed seed: a diagnostic of released, public counts, not DP noise.
    """
    rng = np.random.default_rng(seed)
    p = _selection_probabilities(noisy, threshold)
    noise_tv = np.mean([0.5 * np.abs(_selection_probabilities(noisy + rng.normal(0.0, noise_multiplier, noisy.shape),
                                                               threshold) - p).sum() for _ in range(repeats)])
    draw_tv = np.mean([0.5 * np.abs(rng.multinomial(num_draws, p) / num_draws - p).sum() for _ in range(repeats)])
    return float(noise_tv), float(draw_tv)


def histogram_summary(histogram: dict[str, np.ndarray], *, top: int = 3) -> pd.DataFrame:
    """Per class: candidates, noisy total, share zeroed by the threshold, ESS, top share and top candidates.

    With the histogram's noise multiplier and threshold recorded, also the mean count over sigma and
    ``selection_sensitivity``'s noise_tv and draw_tv. Uses only the noisy (released) counts.
    """
    sensitivity = "noise_multiplier" in histogram and "threshold" in histogram
    rows = []
    for c in np.unique(histogram["labels"]):
        mask = histogram["labels"] == c
        ids, noisy, kept = histogram["candidate_id"][mask], histogram["noisy_count"][mask], histogram["thresholded_count"][mask]
        order = np.argsort(-noisy, kind="stable")[:top]
        row = {
            "class": int(c),
            "candidates": int(mask.sum()),
            "noisy_total": float(noisy.sum()),
            "zeroed_fraction": float(np.mean(kept <= 0)),
            "effective_sample_size": effective_sample_size(kept),
            "top_share": float(kept.max() / kept.sum()) if kept.sum() > 0 else 0.0,
            "top_candidates": " ".join(f"{int(i)}:{noisy[j]:.1f}" for i, j in zip(ids[order], order)),
        }
        if sensitivity:
            sigma = float(histogram["noise_multiplier"])
            draws = int(histogram["selected_count"][mask].sum()) if "selected_count" in histogram else int(mask.sum())
            row["mean_count_over_sigma"] = float(noisy.mean() / sigma) if sigma > 0 else float("inf")
            row["noise_tv"], row["draw_tv"] = selection_sensitivity(
                noisy, threshold=class_threshold(histogram, mask), noise_multiplier=sigma, num_draws=max(draws, 1))
        if "candidate_threshold" in histogram:
            row["H"] = class_threshold(histogram, mask)
        if "uniform_fallback" in histogram:
            # Every noisy count fell below H: the parents were drawn uniformly (pe.loop.select_parents).
            row["uniform_fallback"] = bool(histogram["uniform_fallback"][mask].any())
        rows.append(row)
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
