"""The files one iteration releases: histogram.{npz,csv} (noisy counts only) and selected.npz (the parents)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from privevo.io.artifacts import save_csv, save_images, save_npz
from privevo.pe.loop import STATE_KEY

# Frame column -> key in histogram.npz. noisy_votes (the discrete mechanism's integer output) exists only under
# discrete noise; noisy_count is noisy_votes / sqrt(m) there, the continuous mechanism's output otherwise.
HISTOGRAM_KEYS = {"candidate_id": "candidate_id", "class": "labels", "noisy_votes": "noisy_votes",
                  "noisy_count": "noisy_count", "thresholded_count": "thresholded_count",
                  "selected_count": "selected_count", "threshold": "candidate_threshold",
                  "uniform_fallback": "uniform_fallback"}


def save_iteration(out_dir: str | Path, frame: pd.DataFrame, images: np.ndarray, labels: np.ndarray,
                   selected: np.ndarray, *, noise_multiplier: float, threshold: float, noise_source: str,
                   voted_candidates: str | Path | None = None, api_state: np.ndarray | None = None) -> None:
    """``threshold`` is the H of the settings; the H each class applied (pe.histogram_threshold_reference_epsilon
    may set it per class) is the frame's ``threshold`` column, ``candidate_threshold`` in histogram.npz.
    ``voted_candidates`` (the population S_{t-1} voted on) is stored relative to ``out_dir`` so that
    `privevo inspect` finds S_0 in its base folder and the results tree can move as a whole. ``api_state``
    (the candidates' per-image API state, if any) goes into selected.npz with the selected rows."""
    out_dir = Path(out_dir)
    extra = {}
    if voted_candidates is not None:
        extra["voted_candidates"] = os.path.relpath(Path(voted_candidates).resolve(), out_dir.resolve())
    save_npz(out_dir / "histogram.npz",
             **{key: frame[col].to_numpy() for col, key in HISTOGRAM_KEYS.items() if col in frame},
             noise_multiplier=noise_multiplier, threshold=threshold, noise_source=noise_source, **extra)
    save_csv(out_dir / "histogram.csv", frame)
    state = {} if api_state is None else {STATE_KEY: api_state[selected]}
    save_images(out_dir / "selected.npz", images[selected], labels[selected], parent_ids=selected, **state)


def class_threshold(histogram: dict[str, np.ndarray], mask: np.ndarray) -> float:
    """The H one class's counts (``mask`` of a loaded histogram.npz) were thresholded with: its own where recorded
    (a matched H), else the run's one H (histograms written before the column existed)."""
    if "candidate_threshold" in histogram:
        return float(histogram["candidate_threshold"][mask][0])
    return float(histogram["threshold"])
