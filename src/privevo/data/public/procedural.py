"""Procedural drawing: textured grey fills, re-drawn (augmented) silhouettes and filled clothing-like shapes."""

from __future__ import annotations

import numpy as np

from privevo.data.checks import DataSourceError
from privevo.data.public.resample import resample_batch

DEFAULT_SHAPES_COUNT = 5_000

_YY, _XX = np.mgrid[0:28, 0:28].astype(np.float32)


def _erode(masks: np.ndarray) -> np.ndarray:
    """3x3 grey erosion (minimum filter) of a batch of (N, 28, 28) masks, zero outside."""
    padded = np.pad(masks, ((0, 0), (1, 1), (1, 1)))
    out = masks.copy()
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            np.minimum(out, padded[:, dy : dy + 28, dx : dx + 28], out=out)
    return out


def fill_masks(masks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Paint soft masks (N, 28, 28) in [0, 1] with Fashion-MNIST-like grey fills; uint8 (N, 28, 28, 1).

    Each object gets a random grey level, a linear gradient, one texture (none, noise, stripes or a
    knit-like grid), sometimes a brighter or darker outline and sometimes a seam line down the
    middle.
    """
    n = masks.shape[0]
    masks = masks.astype(np.float32)
    f32 = np.float32
    level = rng.uniform(0.3, 1.0, n).astype(f32)[:, None, None]
    angle = rng.uniform(0, 2 * np.pi, n).astype(f32)[:, None, None]
    slope = rng.uniform(-0.35, 0.35, n).astype(f32)[:, None, None]
    proj = ((_XX - 13.5) * np.cos(angle) + (_YY - 13.5) * np.sin(angle)) / f32(14.0)
    value = level + slope * proj

    kind = rng.choice(4, size=n, p=[0.25, 0.25, 0.3, 0.2])  # none, noise, stripes, knit grid
    sigma = rng.uniform(0.03, 0.15, n).astype(f32)
    axis_aligned = rng.random(n) < 0.6
    stripe_angle = np.where(axis_aligned, rng.choice([0.0, np.pi / 2], n), rng.uniform(0, np.pi, n)).astype(f32)
    period = rng.uniform(2.5, 8.0, n).astype(f32)
    amp = rng.uniform(0.05, 0.3, n).astype(f32)
    phase = rng.uniform(0, 2 * np.pi, n).astype(f32)
    seed = int(rng.integers(0, 2**63))  # the noise texture's own stream: only drawn where used

    noisy = np.flatnonzero(kind == 1)
    if noisy.size:
        noise_rng = np.random.default_rng(seed)
        value[noisy] += noise_rng.standard_normal((noisy.size, 28, 28), dtype=f32) * sigma[noisy, None, None]
    striped = np.flatnonzero(kind == 2)
    if striped.size:
        a = stripe_angle[striped, None, None]
        coord = _XX * np.cos(a) + _YY * np.sin(a)
        freq = (2 * np.pi / period[striped])[:, None, None]
        value[striped] += amp[striped, None, None] * np.sin(coord * freq + phase[striped, None, None])
    knit = np.flatnonzero(kind == 3)
    if knit.size:
        freq = (2 * np.pi / period[knit])[:, None, None]
        value[knit] += amp[knit, None, None] * np.sin(_XX * freq + phase[knit, None, None]) * np.sin(_YY * freq)

    # outline: brighter or darker rim
    rim = masks - _erode(masks)
    rim_delta = np.where(rng.random(n) < 0.5, rng.uniform(-0.35, 0.35, n), 0.0).astype(f32)[:, None, None]
    value = value + rim_delta * rim
    # seam / placket down the middle
    seam = (rng.random(n) < 0.2)[:, None, None] & (np.abs(_XX - 13.5) < 0.75)
    value = np.where(seam, value - f32(0.3), value)

    out = np.clip(value, 0.12, 1.0) * masks  # dark items stay visible against the background
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)[..., None]


def _bounding_boxes(masks: np.ndarray, threshold: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Per-image (top, left) and (bottom, right) inclusive pixel indices of ``masks > threshold``."""
    on = masks > threshold
    rows, cols = on.any(axis=2), on.any(axis=1)
    size_r, size_c = rows.shape[1], cols.shape[1]
    top = rows.argmax(axis=1)
    bottom = size_r - 1 - rows[:, ::-1].argmax(axis=1)
    left = cols.argmax(axis=1)
    right = size_c - 1 - cols[:, ::-1].argmax(axis=1)
    return np.stack([top, left], axis=1), np.stack([bottom, right], axis=1)


def augment_silhouettes(
    silhouettes: np.ndarray, rng: np.random.Generator, count: int
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` silhouettes re-drawn with an aspect stretch, a flip and a textured grey fill.

    Each object is rescaled so its longer side spans 19-27 px, its width stretched by 0.6-1.7x
    relative to its height, and centred (jitter of 1 px) like Fashion-MNIST items. Returns the images
    and the index of the silhouette each was made from.
    """
    if count <= 0:
        return np.zeros((0, 28, 28, 1), np.uint8), np.zeros(0, np.int64)
    masks_in = silhouettes.reshape(-1, 28, 28).astype(np.float32) / 255.0
    nonblank = np.flatnonzero((masks_in > 0.1).any(axis=(1, 2)))
    if nonblank.size == 0:
        raise DataSourceError("augment_silhouettes: every silhouette is blank")
    picks = nonblank[rng.integers(0, nonblank.size, size=count)]
    stretch = np.exp(rng.uniform(np.log(0.6), np.log(1.7), count))
    size = rng.uniform(19.0, 27.0, count)
    flips = rng.random(count) < 0.5
    jitter = rng.uniform(-1.0, 1.0, (count, 2))

    src = masks_in[picks]
    low, high = _bounding_boxes(src)
    extent = (high - low + 1).astype(np.float64)  # (h0, w0)
    target = extent * np.stack([np.ones(count), stretch], axis=1)
    target *= (size / target.max(axis=1))[:, None]  # the longer side spans `size` px
    target = np.clip(target, 4.0, 27.0)
    masks = resample_batch(
        src,
        src_centre=(low + high) / 2.0,
        scale=target / extent,
        dst_centre=13.5 + jitter,
        flip=flips,
    )
    return fill_masks(np.clip(masks, 0.0, 1.0), rng), picks.astype(np.int64)


SHAPE_KINDS = ("rectangle", "trapezoid", "ellipse", "top", "bag", "legs")
_SUPER = 4  # supersampling factor for anti-aliased shape edges


def _draw_shape(kind: str, rng: np.random.Generator) -> np.ndarray:
    """One soft (28, 28) mask of a filled shape, about 20-26 px on its long side, centred."""
    from PIL import Image, ImageDraw

    s = _SUPER
    canvas = Image.new("L", (28 * s, 28 * s), 0)
    draw = ImageDraw.Draw(canvas)
    long_side = rng.uniform(20.0, 26.0)
    short_side = long_side * rng.uniform(0.35, 1.0)
    if kind in ("top", "bag"):
        short_side = long_side * rng.uniform(0.7, 1.0)
    tall = rng.random() < 0.5
    h, w = (long_side, short_side) if tall else (short_side, long_side)
    if kind == "top":
        h, w = long_side * rng.uniform(0.8, 1.0), long_side
    elif kind == "legs":
        h, w = long_side, long_side * rng.uniform(0.35, 0.6)
    cy, cx = 14 + rng.uniform(-1, 1), 14 + rng.uniform(-1, 1)
    top, bottom, left, right = cy - h / 2, cy + h / 2, cx - w / 2, cx + w / 2

    def box(x0, y0, x1, y1):
        return [x0 * s, y0 * s, x1 * s - 1, y1 * s - 1]

    def poly(points):
        draw.polygon([(x * s, y * s) for x, y in points], fill=255)

    if kind == "rectangle":
        radius = rng.uniform(0, min(h, w) / 3) * s
        draw.rounded_rectangle(box(left, top, right, bottom), radius=radius, fill=255)
    elif kind == "ellipse":
        draw.ellipse(box(left, top, right, bottom), fill=255)
    elif kind == "trapezoid":
        narrow = rng.uniform(0.35, 0.95)  # the shorter parallel side; the longer one spans w
        top_frac, bottom_frac = (narrow, 1.0) if rng.random() < 0.6 else (1.0, narrow)
        tw, bw = w * top_frac, w * bottom_frac
        poly([(cx - tw / 2, top), (cx + tw / 2, top), (cx + bw / 2, bottom), (cx - bw / 2, bottom)])
    elif kind == "top":  # trapezoid body with two sleeves
        body_w = w * rng.uniform(0.5, 0.7)
        shoulder = body_w / 2 * rng.uniform(0.9, 1.1)
        hem = body_w / 2 * rng.uniform(0.85, 1.1)
        poly([(cx - shoulder, top), (cx + shoulder, top), (cx + hem, bottom), (cx - hem, bottom)])
        sleeve_len = h * rng.uniform(0.3, 0.95)
        sleeve_w = rng.uniform(3.0, 6.0)
        for side in (-1, 1):
            x0 = cx + side * shoulder
            x_end = cx + side * w / 2
            poly([(x0, top), (x_end, top + sleeve_len - sleeve_w), (x_end, top + sleeve_len),
                  (x0, top + sleeve_w + (sleeve_len - sleeve_w) * 0.3)])
        if rng.random() < 0.5:  # neckline
            nw = shoulder * rng.uniform(0.3, 0.6)
            draw.ellipse(box(cx - nw, top - nw * 0.5, cx + nw, top + nw * 0.7), fill=0)
    elif kind == "bag":  # rectangle or trapezoid body with a handle
        handle_h = h * rng.uniform(0.15, 0.35)
        body_top = top + handle_h
        tw = w * rng.uniform(0.75, 1.0)
        poly([(cx - tw / 2, body_top), (cx + tw / 2, body_top), (right, bottom), (left, bottom)])
        hw = tw * rng.uniform(0.3, 0.8) / 2
        thick = rng.uniform(1.2, 2.5) * s
        draw.ellipse(box(cx - hw, top, cx + hw, body_top + handle_h), outline=255, width=int(thick))
    elif kind == "legs":  # a waistband and two long legs
        waist = h * rng.uniform(0.2, 0.4)
        gap = w * rng.uniform(0.05, 0.2)
        flare = rng.uniform(0.0, 0.15) * w
        draw.rectangle(box(left, top, right, top + waist), fill=255)
        poly([(left, top), (cx - gap / 2, top + waist), (cx - gap / 2, bottom), (left - flare, bottom)])
        poly([(right, top), (cx + gap / 2, top + waist), (cx + gap / 2, bottom), (right + flare, bottom)])
    else:
        raise ValueError(f"unknown shape kind {kind!r}; known: {', '.join(SHAPE_KINDS)}")
    small = canvas.resize((28, 28), Image.BOX)
    return np.asarray(small, dtype=np.float32) / 255.0


def procedural_shapes(rng: np.random.Generator, count: int = DEFAULT_SHAPES_COUNT) -> tuple[np.ndarray, np.ndarray]:
    """``count`` filled shapes (see :data:`SHAPE_KINDS`) with grey fills and texture; labels = kind."""
    kinds = rng.integers(0, len(SHAPE_KINDS), size=count).astype(np.int64)
    masks = np.empty((count, 28, 28), np.float32)
    for i, kind in enumerate(kinds):
        mask = _draw_shape(SHAPE_KINDS[kind], rng)
        for _ in range(10):  # redraw the rare shape that came out (almost) empty
            if mask.sum() >= 20:
                break
            mask = _draw_shape(SHAPE_KINDS[kind], rng)
        masks[i] = mask
    return fill_masks(masks, rng), kinds

