"""Common corruptions (Hendrycks & Dietterich, 2019) at severities 1-5, via the imagecorruptions package.

The package's own ``corrupt()`` refuses images under 32x32, so its corruption functions are called
directly on each 28x28 image, with the same conventions as that wrapper: the image goes in as an RGB
PIL image (grey images are repeated to three channels first) and the float result is cast with
``np.uint8``, which truncates, as the published -C data sets were made.

Grey images come back as **channel 0** of the corrupted RGB image, not the channel mean: the noise
corruptions draw independent noise per channel, so a mean would cut the noise standard deviation by
sqrt(3) and silently make every severity milder than the library defines it. The other corruptions
here give three identical channels on grey input (checked in the tests), so for them the choice does
not matter.

Determinism: the corruption functions draw from numpy's global RNG. :func:`corrupt` seeds it from
``(seed, name)`` and restores the previous global state afterwards (not thread-safe: nothing else may
use ``np.random`` meanwhile). The severity is deliberately not part of the seed, so the severities of
one corruption share their random draws and differ only by the library's parameters.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Callable, Iterator

import numpy as np

from privevo.core.seeding import named_seed_sequence
from privevo.io.images import check_images

logger = logging.getLogger(__name__)

CORRUPTIONS = ("gaussian_noise", "shot_noise", "gaussian_blur", "pixelate", "jpeg_compression", "contrast",
               "brightness")
SEVERITIES = (1, 2, 3, 4, 5)
GREY_CHANNEL_RULE = "channel 0 of the corrupted RGB image"


def corruption_function(name: str) -> Callable:
    """The imagecorruptions function called ``name`` (one of :data:`CORRUPTIONS`)."""
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; known: {', '.join(CORRUPTIONS)}")
    from imagecorruptions import corruptions as library

    return getattr(library, name)


@contextlib.contextmanager
def seeded_global_numpy(seed: int) -> Iterator[None]:
    """Seed ``np.random``'s global state for the block and put the previous state back afterwards."""
    previous = np.random.get_state()
    np.random.seed(int(seed))
    try:
        yield
    finally:
        np.random.set_state(previous)


def corruption_seed(seed: int, name: str) -> int:
    """A 32-bit seed for the global numpy RNG, one per (root seed, corruption)."""
    sequence = named_seed_sequence(seed, role="robustness", name=f"corruption/{name}")
    return int(sequence.generate_state(1, np.uint32)[0])


def corrupt(images: np.ndarray, name: str, severity: int, seed: int) -> np.ndarray:
    """The corruption ``name`` at ``severity`` (1-5) applied to each uint8 NHWC image; same shape and dtype back."""
    from PIL import Image

    check_images(images, name="images to corrupt")
    function = corruption_function(name)
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, got {severity!r}")
    grey = images.shape[-1] == 1
    out = np.empty_like(images)
    with seeded_global_numpy(corruption_seed(seed, name)):
        for i, image in enumerate(images):
            rgb = np.repeat(image, 3, axis=-1) if grey else image
            corrupted = np.uint8(np.asarray(function(Image.fromarray(rgb), severity)))
            out[i] = corrupted[..., :1] if grey else corrupted
    return out
