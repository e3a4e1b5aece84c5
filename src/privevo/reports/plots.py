"""PNG figures: image grids and simple curves, written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from privevo.io.artifacts import atomic_path
from privevo.io.images import check_images
from privevo.pe.iteration_files import class_threshold


def image_grid(images: np.ndarray, *, ncols: int, scale: int = 2, pad: int = 1) -> np.ndarray:
    """Tile uint8 NHWC images into one uint8 HWC image (grey stays one channel)."""
    check_images(images, name="grid images")
    n, h, w, c = images.shape
    nrows = max(1, -(-n // ncols))
    grid = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c), 255, dtype=np.uint8)
    for i, image in enumerate(images):
        r, col = divmod(i, ncols)
        grid[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + col * (w + pad) : pad + col * (w + pad) + w] = image
    if scale > 1:
        grid = grid.repeat(scale, 0).repeat(scale, 1)
    return grid


def save_grid(path: str | Path, images: np.ndarray, *, ncols: int = 10, scale: int = 2) -> None:
    from PIL import Image

    grid = image_grid(images, ncols=ncols, scale=scale)
    with atomic_path(path, suffix=".png") as tmp:
        Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).save(tmp, format="PNG")


def save_class_grid(path: str | Path, images: np.ndarray, labels: np.ndarray, *, per_class: int = 10, scale: int = 2) -> None:
    """One row per class with ``per_class`` images spread evenly over that class (blank where fewer).

    Spread rather than the first few, because populations are sorted by parent and neighbours are siblings.
    """
    classes = np.unique(labels)
    rows = []
    for c in classes:
        members = images[labels == c]
        chosen = members[np.unique(np.linspace(0, len(members) - 1, min(per_class, len(members))).round().astype(int))]
        if len(chosen) < per_class:
            chosen = np.concatenate([chosen, np.zeros((per_class - len(chosen), *images.shape[1:]), np.uint8)])
        rows.append(chosen)
    save_grid(path, np.concatenate(rows), ncols=per_class, scale=scale)


def save_curve(path: str | Path, x: Sequence[float], ys: dict[str, Sequence[float]], *, xlabel: str, ylabel: str,
               title: str, logy: bool = False) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    for label, y in ys.items():
        ax.plot(x, y, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if logy:
        ax.set_yscale("log")
    if len(ys) > 1:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def save_annotated_grid(path: str | Path, images: np.ndarray, captions: Sequence[str], *, ncols: int, title: str = "") -> None:
    """A grid of images with a short caption under each (e.g. a noisy vote count)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    check_images(images, name="annotated grid images")
    nrows = max(1, -(-len(images) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * 0.9, nrows * 1.05 + (0.3 if title else 0)), dpi=100,
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, image, caption in zip(axes.ravel(), images, captions):
        ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=255)
        ax.set_title(caption, fontsize=6, pad=1)
    if title:
        fig.suptitle(title, fontsize=8)
    fig.tight_layout(pad=0.2)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def save_sorted_counts(path: str | Path, counts_by_class: dict[int, np.ndarray], *, threshold: float | dict[int, float],
                       title: str) -> None:
    """Sorted noisy counts per class, one small panel each, with the threshold H (one, or one per class) drawn in."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = sorted(counts_by_class)
    ncols = 5
    nrows = max(1, -(-len(classes) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(11, 2.1 * nrows), dpi=90, squeeze=False, sharey=True)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, c in zip(axes.ravel(), classes):
        ax.axis("on")
        counts = np.sort(counts_by_class[c])[::-1]
        ax.bar(np.arange(len(counts)), counts, width=1.0, color="tab:blue")
        ax.axhline(threshold[c] if isinstance(threshold, dict) else threshold, color="tab:red", lw=0.8, ls="--")
        ax.set_title(f"class {c}", fontsize=8)
        ax.tick_params(labelsize=6)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def save_downstream_curves(path, curves, *, real: bool) -> None:
    """Train and validation accuracy per epoch, one line per classifier seed and split."""
    series = {f"seed {seed} {col}": group[col].to_numpy() for seed, group in curves.groupby("seed")
              for col in ("train_acc", "val_acc")}
    first_seed = curves["seed"].iloc[0]
    save_curve(path, curves[curves["seed"] == first_seed]["epoch"].to_numpy(), series, xlabel="epoch",
               ylabel="accuracy", title=("CNN on real private data (no privacy)" if real else "CNN on synthetic data")
               + ": train / validation accuracy")


def save_sorted_counts_per_class(path, histogram: dict, *, title: str) -> None:
    """Sorted noisy counts of every class of one released histogram, with the threshold."""
    classes = [int(c) for c in np.unique(histogram["labels"])]
    counts = {c: histogram["noisy_count"][histogram["labels"] == c] for c in classes}
    thresholds = {c: class_threshold(histogram, histogram["labels"] == c) for c in classes}
    save_sorted_counts(path, counts, threshold=thresholds, title=title)
