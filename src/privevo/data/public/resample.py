"""Batched axis-aligned rescaling of small grey images (separable triangle-filter resampling)."""

from __future__ import annotations

import numpy as np


def _resample_weights(positions: np.ndarray, size: int, scale: np.ndarray) -> np.ndarray:
    """Triangle-filter weights (N, M, size) sampling ``size`` source pixels at ``positions`` (N, M).

    The filter widens by ``1/scale`` when shrinking (``scale < 1``), as PIL's bilinear resize does,
    so downscaled shapes do not alias. Pixels outside the source count as zero.
    """
    support = np.minimum(scale, 1.0).astype(np.float32)[:, None, None]
    offsets = np.arange(size, dtype=np.float32)[None, None, :] - positions[:, :, None]
    return np.maximum(0.0, 1.0 - np.abs(offsets) * support) * support


def resample_batch(
    src: np.ndarray,
    *,
    src_centre: np.ndarray,
    scale: np.ndarray,
    dst_centre: np.ndarray,
    flip: np.ndarray | None = None,
    out_size: int = 28,
) -> np.ndarray:
    """Scale each image of ``src`` (N, H, W) about ``src_centre`` onto an ``out_size`` canvas.

    An axis-aligned affine map, per image: the source point ``src_centre`` (row, col, in pixel
    indices) lands on ``dst_centre``, scaled by ``scale`` (row, col factors), mirrored left-right
    where ``flip``. Separable triangle-filter resampling, as two batched matrix products.
    """
    src = np.asarray(src, dtype=np.float32)
    n, h, w = src.shape
    src_centre = np.asarray(src_centre, np.float32).reshape(n, 2)
    scale = np.asarray(scale, np.float32).reshape(n, 2)
    dst_centre = np.asarray(dst_centre, np.float32).reshape(n, 2)
    grid = np.arange(out_size, dtype=np.float32)[None, :]
    rows = src_centre[:, 0:1] + (grid - dst_centre[:, 0:1]) / scale[:, 0:1]
    col_offset = (grid - dst_centre[:, 1:2]) / scale[:, 1:2]
    if flip is not None:
        col_offset = np.where(np.asarray(flip, bool)[:, None], -col_offset, col_offset)
    cols = src_centre[:, 1:2] + col_offset
    weights_y = _resample_weights(rows, h, scale[:, 0])  # (N, out, H)
    weights_x = _resample_weights(cols, w, scale[:, 1])  # (N, out, W)
    return np.matmul(np.matmul(weights_y, src), weights_x.transpose(0, 2, 1))
