"""The Embedder interface (uint8 NHWC images -> float32 features) and the helpers its implementations share."""

from __future__ import annotations

import abc
import logging
import time
from typing import Any, ClassVar

import numpy as np
from tqdm.auto import tqdm

from privevo.core.devices import out_of_memory_hint
from privevo.io.images import check_images

logger = logging.getLogger(__name__)


def to_rgb(batch: np.ndarray) -> np.ndarray:
    """(n, H, W, 1|3) uint8 -> (n, H, W, 3) uint8 (grey repeated)."""
    if batch.shape[3] == 1:
        return np.repeat(batch, 3, axis=3)
    return batch


def _check_batch_size(batch_size: Any) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}")
    return int(batch_size)


class Embedder(abc.ABC):
    """Maps uint8 NHWC images (C = 1 or 3) to float32 feature vectors of length ``dim``.

    Subclasses implement :meth:`_embed_batch`; :meth:`embed` validates the input (with
    :func:`privevo.io.images.check_images`), runs the batches (with a tqdm bar when ``progress``) and
    returns a C-contiguous float32 array (N, dim). Networks see grey images repeated to RGB
    (:func:`to_rgb`), and every model forward pass runs inside ``model_time("embedder")``.
    """

    name: ClassVar[str] = "embedder"
    # The params key that sizes the batches of :meth:`embed`, named when a batch does not fit in memory.
    batch_size_setting: ClassVar[str] = "embedding.batch_size"

    @property
    @abc.abstractmethod
    def dim(self) -> int:
        """Length of one feature vector."""

    @property
    def config(self) -> dict[str, Any]:
        """JSON-able description of what determines the features (for cache keys and reports)."""
        return {"name": self.name, "dim": self.dim}

    @abc.abstractmethod
    def _embed_batch(self, batch: np.ndarray) -> np.ndarray:
        """Embed one validated uint8 (n, H, W, C) batch; return float32 (n, dim)."""

    def _check_call(self, images: np.ndarray) -> None:  # hook for per-embedder shape checks
        pass

    def embed(self, images: np.ndarray, *, batch_size: int = 128, progress: bool = True) -> np.ndarray:
        """Embed ``images`` (uint8, (N, H, W, 1|3)) into a float32 C-contiguous (N, dim) array."""
        images = check_images(images, name=f"{type(self).__name__}.embed")
        batch_size = _check_batch_size(batch_size)
        self._check_call(images)
        n = images.shape[0]
        out = np.empty((n, self.dim), dtype=np.float32)
        start = time.perf_counter()
        starts = range(0, n, batch_size)
        for i in tqdm(starts, desc=f"embed[{self.name}]", unit="batch", disable=not progress or n == 0):
            with out_of_memory_hint(self.batch_size_setting, batch_size, getattr(self, "device", None)):
                feats = self._embed_batch(images[i : i + batch_size])
            if feats.shape != (min(batch_size, n - i), self.dim):
                raise RuntimeError(
                    f"{type(self).__name__}: a batch of {min(batch_size, n - i)} images gave features of "
                    f"shape {feats.shape}, expected {(min(batch_size, n - i), self.dim)}"
                )
            out[i : i + batch_size] = feats
        elapsed = time.perf_counter() - start
        if n:
            logger.debug(
                "%s: embedded %d images %s in %.2f s (%.1f images/s)",
                self.name, n, images.shape[1:], elapsed, n / max(elapsed, 1e-12),
            )
        return out

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.config.items() if k not in ("name", "dim"))
        return f"{type(self).__name__}({opts})"
