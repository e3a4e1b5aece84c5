"""PNG figures: image grids and simple curves, written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from privevo.artifacts import atomic_path, check_images


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
    """One row per class with the first ``per_class`` images of that class (blank where fewer)."""
    classes = np.unique(labels)
    rows = []
    for c in classes:
        chosen = images[labels == c][:per_class]
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
