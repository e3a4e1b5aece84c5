"""The "pixels" embedder: the flattened pixels scaled to [0, 1], a network-free feature space."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from privevo.core.timing import model_time
from privevo.embedders.base import Embedder


class PixelEmbedder(Embedder):
    """Flattened pixels scaled to [0, 1] (float32). Channels are kept as given (no grey -> RGB).

    ``dim`` comes from ``image_shape`` (H, W, C) if given, otherwise from the first call; later calls
    must have the same image shape.
    """

    name: ClassVar[str] = "pixels"

    def __init__(self, *, image_shape: tuple[int, int, int] | None = None) -> None:
        self._shape: tuple[int, int, int] | None = None
        if image_shape is not None:
            shape = tuple(int(s) for s in image_shape)
            if len(shape) != 3 or shape[2] not in (1, 3) or min(shape) < 1:
                raise ValueError(f"PixelEmbedder: image_shape must be (H, W, C) with C in (1, 3); got {image_shape!r}")
            self._shape = shape  # type: ignore[assignment]

    @property
    def image_shape(self) -> tuple[int, int, int] | None:
        return self._shape

    @property
    def dim(self) -> int:
        if self._shape is None:
            raise RuntimeError(
                "PixelEmbedder.dim is unknown until the first embed() call; pass image_shape=(H, W, C) to set it"
            )
        h, w, c = self._shape
        return h * w * c

    @property
    def config(self) -> dict[str, Any]:
        return {"name": self.name, "image_shape": list(self._shape) if self._shape else None}

    def _check_call(self, images: np.ndarray) -> None:
        shape = tuple(int(s) for s in images.shape[1:])
        if self._shape is None:
            self._shape = shape  # type: ignore[assignment]
        elif shape != self._shape:
            raise ValueError(f"PixelEmbedder: images have shape {shape}, but this embedder is fixed to {self._shape}")

    def _embed_batch(self, batch: np.ndarray) -> np.ndarray:
        with model_time("embedder"):
            return batch.reshape(batch.shape[0], -1).astype(np.float32) / np.float32(255.0)
