"""The one validator of image batches (uint8 NHWC) and of their class labels; every layer calls it."""

from __future__ import annotations

from typing import Any

import numpy as np


class ArtifactError(ValueError):
    """An array or artifact does not have the expected shape, dtype or content; the message names it."""


def check_images(images: Any, *, name: str = "images", shape: tuple[int, ...] | None = None, min_size: int = 1,
                 allow_empty: bool = True) -> np.ndarray:
    """Check that ``images`` is a uint8 array (N, H, W, C) with C in {1, 3}; return it unchanged.

    ``shape`` pins (H, W, C); ``min_size`` is the smallest H and W accepted.
    """
    if not isinstance(images, np.ndarray):
        raise ArtifactError(f"{name}: images must be a numpy uint8 array of shape (N, H, W, C); got {type(images).__name__}")
    if images.dtype != np.uint8:
        raise ArtifactError(
            f"{name}: images must have dtype uint8 (values 0..255); got {images.dtype}. "
            "Convert with np.clip(np.rint(x * 255), 0, 255).astype(np.uint8) for floats in [0, 1]."
        )
    if images.ndim != 4:
        hint = " (for grey images of shape (N, H, W) use images[..., None])" if images.ndim == 3 else ""
        raise ArtifactError(f"{name}: images must be 4-d (N, H, W, C); got shape {images.shape}{hint}")
    if images.shape[3] not in (1, 3):
        raise ArtifactError(
            f"{name}: images must be NHWC with 1 (grey) or 3 (RGB) channels; got shape {images.shape} "
            "(is the array NCHW? transpose it with images.transpose(0, 2, 3, 1))"
        )
    if min(images.shape[1:3]) < min_size:
        raise ArtifactError(f"{name}: images must be at least {min_size}x{min_size}; got shape {images.shape}")
    if shape is not None and tuple(images.shape[1:]) != tuple(shape):
        raise ArtifactError(f"{name}: expected images of shape (N, {', '.join(map(str, shape))}); got {images.shape}")
    if not allow_empty and images.shape[0] == 0:
        raise ArtifactError(f"{name}: no images")
    return images


def check_labels(labels: Any, *, num_images: int, num_classes: int | None, name: str = "labels") -> np.ndarray:
    """Check class labels: a 1-D integer array, one per image, in 0..num_classes-1; return them as int64."""
    if not isinstance(labels, np.ndarray) or not np.issubdtype(labels.dtype, np.integer):
        raise ArtifactError(f"{name}: labels must be integers, got {getattr(labels, 'dtype', type(labels).__name__)}")
    if labels.shape != (num_images,):
        raise ArtifactError(f"{name}: expected {num_images} labels in a 1-D array, got shape {labels.shape}")
    if len(labels):
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or (num_classes is not None and high >= num_classes):
            allowed = f"0..{num_classes - 1}" if num_classes is not None else ">= 0"
            raise ArtifactError(f"{name}: labels must be in {allowed}, found values in {low}..{high}")
    return labels.astype(np.int64, copy=False)
