"""What PE asks of a foundation model: RANDOM_API and VARIATION_API, and what a variation degree means."""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from privevo.core.errors import ParamsError


class PEAPI(Protocol):
    """The two calls PE makes. Images are uint8 NHWC; ``seed`` makes a call reproducible."""

    def random(self, num_images: int, *, seed: int, desc: str = "") -> np.ndarray:
        """RANDOM_API: ``num_images`` fresh samples."""

    def variation(self, images: np.ndarray, *, degree: float, seed: int, desc: str = "") -> np.ndarray:
        """VARIATION_API: one variation of each image; ``degree`` in [0, 1] says how far it may move."""


# An API that varies something other than pixels (the garment simulator's parameters) sets
# ``carries_state = True`` and has ``random_with_state(n, *, class_index, seed, desc) -> (images, state)`` and
# ``variation_with_state(images, state, *, degree, seed, desc) -> (images, state)``. The state is one row per
# image; populations carry it in their .npz under "api_state" (pe.loop.STATE_KEY), and PE keeps it aligned
# with the images.


def check_degree(degree: float, num_steps: int, *, where: str = "degree") -> int:
    """Validate a variation degree and return how many of the API's ``num_steps`` schedule steps it re-runs.

    A degree is a fraction of the API's schedule: 0 keeps the image, 1 draws a fresh sample. An API with a
    discrete schedule (DDIM steps) rejects a positive degree that rounds to zero steps.
    """
    if not (isinstance(degree, (int, float)) and math.isfinite(degree) and 0 <= degree <= 1):
        raise ParamsError(f"params key {where}: a variation degree is a fraction of the schedule in [0, 1], got {degree!r}")
    steps = round(degree * num_steps)
    if degree > 0 and steps == 0:
        raise ParamsError(
            f"params key {where}: degree {degree} re-runs 0 of {num_steps} steps, so it would not "
            f"vary the image; use at least {1 / num_steps:.3g} or 0 on purpose"
        )
    return steps
