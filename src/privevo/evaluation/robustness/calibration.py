"""Accuracy and calibration of predicted class probabilities: ECE, NLL, Brier score and the reliability diagram.

ECE is torchmetrics' top-label calibration error with ``ECE_BINS`` equal-width bins and the L1 norm (the
usual ECE of Guo et al., 2017). torchmetrics casts confidences to float32 and bins them left-closed,
``[k/B, (k+1)/B)``, with confidences equal to 1.0 (in float32) in a bucket of their own. The reliability
bins here use the same float32 bucketing but fold that bucket into the last bin, ``[(B-1)/B, 1]``, so
there are exactly ``ECE_BINS`` of them; ECE recomputed from these bins therefore equals the reported
ECE only when no confidence is 1.0, and ``num_confidence_one`` in the result says how many were.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from privevo.io.artifacts import atomic_path

logger = logging.getLogger(__name__)

ECE_BINS = 15
ECE_NORM = "l1"
# Rows of a probability matrix may be off by float32 rounding; a larger gap means logits, not probabilities.
ROW_SUM_TOLERANCE = 1e-4


def check_probabilities(probs: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(probs, labels)`` as float64 (N, C) and int64 (N,) after checking they describe N predictions.

    torchmetrics silently applies a softmax to anything outside [0, 1]; checking here keeps logits
    passed by mistake from being scored as if they were probabilities.
    """
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels)
    if probs.ndim != 2 or probs.shape[0] == 0 or probs.shape[1] < 2:
        raise ValueError(f"probs must have shape (N, num_classes) with N >= 1 and num_classes >= 2, got {probs.shape}")
    if not np.issubdtype(labels.dtype, np.integer) or labels.shape != (probs.shape[0],):
        raise ValueError(f"labels must be {probs.shape[0]} integers, got dtype {labels.dtype} and shape {labels.shape}")
    if labels.min() < 0 or labels.max() >= probs.shape[1]:
        raise ValueError(f"labels must lie in 0..{probs.shape[1] - 1}, found {labels.min()}..{labels.max()}")
    if not np.isfinite(probs).all() or probs.min() < 0.0 or probs.max() > 1.0:
        raise ValueError("probs must be finite probabilities in [0, 1] (pass softmax outputs, not logits)")
    worst = float(np.abs(probs.sum(axis=1) - 1.0).max())
    if worst > ROW_SUM_TOLERANCE:
        raise ValueError(f"every row of probs must sum to 1; the worst row is off by {worst:.3g}")
    return probs, labels.astype(np.int64)


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """Top-label ECE (L1, ``n_bins`` equal-width bins) as torchmetrics computes it."""
    from torchmetrics.classification import MulticlassCalibrationError

    probs, labels = check_probabilities(probs, labels)
    metric = MulticlassCalibrationError(num_classes=probs.shape[1], n_bins=n_bins, norm=ECE_NORM)
    return float(metric(torch.from_numpy(probs), torch.from_numpy(labels)).item())


def negative_log_likelihood(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean of -log p(true class); a zero probability is clipped to the smallest positive float64 (and logged)
    so one hopeless prediction gives a large but finite NLL instead of inf."""
    probs, labels = check_probabilities(probs, labels)
    p_true = probs[np.arange(labels.size), labels]
    tiny = np.finfo(np.float64).tiny
    if (p_true < tiny).any():
        logger.warning("%d true-class probabilities are 0; clipped to %g for the NLL", int((p_true < tiny).sum()), tiny)
    return float(-np.log(np.maximum(p_true, tiny)).mean())


def brier_score(probs: np.ndarray, labels: np.ndarray) -> float:
    """Multiclass Brier score: mean over examples of the squared distance to the one-hot label (0 best, 2 worst)."""
    probs, labels = check_probabilities(probs, labels)
    onehot = np.zeros_like(probs)
    onehot[np.arange(labels.size), labels] = 1.0
    return float(((probs - onehot) ** 2).sum(axis=1).mean())


def reliability_bins(probs: np.ndarray, labels: np.ndarray, n_bins: int = ECE_BINS) -> list[dict[str, Any]]:
    """Per equal-width bin of top-label confidence: bounds, mean confidence, accuracy and count.

    Empty bins have ``confidence`` and ``accuracy`` None (and count 0). Bucketing follows torchmetrics
    (float32 confidences, left-closed bins); see the module docstring for confidences of exactly 1.
    """
    probs, labels = check_probabilities(probs, labels)
    confidence = torch.from_numpy(probs.max(axis=1)).float()
    correct = torch.from_numpy(probs.argmax(axis=1) == labels).double()
    bounds = torch.linspace(0, 1, n_bins + 1, dtype=torch.float32)
    index = (torch.bucketize(confidence, bounds, right=True) - 1).clamp_(max=n_bins - 1)
    counts = torch.bincount(index, minlength=n_bins).double()
    conf_sum = torch.zeros(n_bins, dtype=torch.float64).scatter_add_(0, index, confidence.double())
    acc_sum = torch.zeros(n_bins, dtype=torch.float64).scatter_add_(0, index, correct)
    bins = []
    for k in range(n_bins):
        n = int(counts[k])
        bins.append({
            "lower": float(bounds[k]),
            "upper": float(bounds[k + 1]),
            "confidence": float(conf_sum[k] / n) if n else None,
            "accuracy": float(acc_sum[k] / n) if n else None,
            "count": n,
        })
    return bins


def calibration_summary(probs: np.ndarray, labels: np.ndarray, n_bins: int = ECE_BINS) -> dict[str, Any]:
    """Accuracy, ECE (with its bin count and norm), NLL, Brier score and the reliability bins, JSON-ready."""
    probs, labels = check_probabilities(probs, labels)
    num_one = int((torch.from_numpy(probs.max(axis=1)).float() == 1.0).sum())
    return {
        "accuracy": float((probs.argmax(axis=1) == labels).mean()),
        "ece": expected_calibration_error(probs, labels, n_bins),
        "ece_bins": int(n_bins),
        "ece_norm": ECE_NORM,
        "nll": negative_log_likelihood(probs, labels),
        "brier": brier_score(probs, labels),
        "num_examples": int(labels.size),
        "num_confidence_one": num_one,
        "reliability": reliability_bins(probs, labels, n_bins),
    }


def save_reliability_diagram(path: str | Path, bins: list[dict[str, Any]], *, title: str = "Reliability diagram",
                             ece: float | None = None) -> None:
    """Draw accuracy per confidence bin against the diagonal, with the share of examples per bin below, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lower = np.array([b["lower"] for b in bins])
    width = np.array([b["upper"] - b["lower"] for b in bins])
    accuracy = np.array([np.nan if b["accuracy"] is None else b["accuracy"] for b in bins])
    confidence = np.array([np.nan if b["confidence"] is None else b["confidence"] for b in bins])
    counts = np.array([b["count"] for b in bins], dtype=float)

    fig, (ax, ax_count) = plt.subplots(2, 1, figsize=(4.5, 5.5), dpi=100, sharex=True,
                                       gridspec_kw={"height_ratios": [3, 1]})
    ax.bar(lower, np.nan_to_num(accuracy), width=width, align="edge", edgecolor="black", linewidth=0.5,
           color="tab:blue", label="accuracy")
    # The gap to each bin's mean confidence is what ECE averages (weighted by the counts below); hatched, not
    # filled, so that it stays visible inside the bar where the model is under-confident.
    gap_low = np.nan_to_num(np.minimum(confidence, accuracy))
    ax.bar(lower, np.nan_to_num(np.abs(confidence - accuracy)), bottom=gap_low, width=width, align="edge", fill=False,
           hatch="//", edgecolor="tab:red", linewidth=0.5, label="gap to mean confidence")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.set_title(title if ece is None else f"{title} (ECE {ece:.3f}, {len(bins)} bins)")
    ax.legend(fontsize=8, loc="upper left")
    ax_count.bar(lower, counts / max(counts.sum(), 1.0), width=width, align="edge", color="grey")
    ax_count.set_xlabel("confidence")
    ax_count.set_ylabel("share")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
