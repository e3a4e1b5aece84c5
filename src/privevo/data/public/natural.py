"""Natural-image crops: 28x28 grey crops of scikit-image's offline sample images (an optional source)."""

from __future__ import annotations

import logging

import numpy as np

from privevo.data.checks import DataSourceError

logger = logging.getLogger(__name__)

SKIMAGE_HINT = "pip install scikit-image"
DEFAULT_CROPS_COUNT = 2_000

# The sample images that ship inside scikit-image (25 load offline with 0.26); the ones that need
# pooch and a download (eagle, human_mitosis, lily, kidney, vortex, ...) are left out so that no
# network access is attempted, and binary_blobs (random on each call) so crops stay deterministic.
# Any that still fails to load is skipped.
SKIMAGE_SAMPLES = (
    "astronaut", "brick", "camera", "cat", "cell", "checkerboard", "chelsea", "clock", "coffee", "coins",
    "colorwheel", "grass", "gravel", "horse", "hubble_deep_field", "immunohistochemistry", "logo",
    "microaneurysms", "moon", "page", "retina", "rocket", "shepp_logan_phantom", "stereo_motorcycle", "text",
)


def skimage_available() -> bool:
    """Whether ``skimage.data`` imports here."""
    try:
        import skimage.data  # noqa: F401
    except Exception:  # any import failure (missing optional deps included) means "not available"
        return False
    return True


def _skimage_grey_samples() -> list[np.ndarray]:
    import warnings

    import skimage.data

    samples = []
    for name in SKIMAGE_SAMPLES:
        loader = getattr(skimage.data, name, None)
        if loader is None:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                image = loader()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - needs a download or an optional package; under
            # pytest, skimage's fetcher raises pytest's Skipped, which is not an Exception
            logger.debug("skimage.data.%s unavailable: %s", name, exc)
            continue
        if isinstance(image, (tuple, list)):  # e.g. stereo_motorcycle: (left, right, disparity)
            image = image[0]
        image = np.asarray(image)
        if image.ndim not in (2, 3):
            continue
        if image.ndim == 3:
            if image.shape[-1] in (3, 4):
                image = image[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
            else:  # a volume: take its middle slice
                image = image[image.shape[0] // 2]
        image = image.astype(np.float64)
        lo, hi = float(image.min()), float(image.max())
        if hi <= lo or min(image.shape) < 28:
            continue
        samples.append(((image - lo) / (hi - lo) * 255.0).astype(np.float32))
    return samples


def load_skimage_crops(rng: np.random.Generator, count: int = DEFAULT_CROPS_COUNT) -> tuple[np.ndarray, np.ndarray]:
    """``count`` random square crops of scikit-image's sample images, in grey, resized to 28x28.

    Labels are the index of the sample image cropped. Raises :class:`DataSourceError` when
    scikit-image does not import (it is an optional extra).
    """
    if not skimage_available():
        raise DataSourceError(f"scikit-image does not import. Install it with: {SKIMAGE_HINT}")
    from PIL import Image

    samples = _skimage_grey_samples()
    if not samples:
        raise DataSourceError("scikit-image imports but none of its sample images loads offline")
    logger.info("skimage crops: %d sample images load offline", len(samples))
    images = np.empty((count, 28, 28, 1), dtype=np.uint8)
    labels = rng.integers(0, len(samples), size=count).astype(np.int64)
    for i, which in enumerate(labels):
        source = samples[which]
        h, w = source.shape
        side = int(rng.integers(28, max(29, min(h, w) // 2 + 1)))
        top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = Image.fromarray(np.ascontiguousarray(source[top : top + side, left : left + side]))
        images[i, ..., 0] = np.clip(np.rint(np.asarray(crop.resize((28, 28), Image.BILINEAR))), 0, 255)
    return images, labels

