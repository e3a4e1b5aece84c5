"""Retrieval over a public image pool as PE's API (Sim-PE's NearestImage, in DPSDA's ``pe`` library).

RANDOM_API draws pool images uniformly without replacement (the pool has no class labels, so every class starts
from the same draw law); VARIATION_API replaces each image by a uniformly drawn one of its ``k`` nearest pool
images (itself included, by L2 on the grey values), with ``k = round(degree * max_neighbours)``. PE's degrees fall
over the iterations, so the neighbourhood a candidate may move in shrinks. Degree 0 returns the same image; degree
1 is the widest neighbourhood, not a fresh draw.

The pool is the workflow's prepared public set (``data.public_sources``): no private image is in it, so a
candidate is always a public image and the privacy cost is the votes' alone. Each image's pool index rides along
as a one-column ``api_state`` (``apis.base``), so a variation never has to look an image up by its pixels.
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from privevo.apis.base import check_degree
from privevo.core.errors import ParamsError
from privevo.io.artifacts import load_images
from privevo.io.images import check_images

DEFAULT_MAX_NEIGHBOURS = 100
_QUERY_BATCH = 256  # pool rows whose distances to the whole pool are held at once (256 x pool x 4 bytes)


class PublicPoolRetrievalAPI:
    """RANDOM_API / VARIATION_API that only ever return images of a public pool (uint8 NHWC)."""

    carries_state = True

    def __init__(self, pool: np.ndarray, *, max_neighbours: int = DEFAULT_MAX_NEIGHBOURS):
        check_images(pool, name="public pool")
        if len(pool) < 2:
            raise ValueError(f"the public pool needs at least 2 images to vary one, got {len(pool)}")
        if not (isinstance(max_neighbours, (int, np.integer)) and 1 <= max_neighbours <= len(pool)):
            raise ValueError(f"max_neighbours must be an integer in 1..{len(pool)} (the pool size), "
                             f"got {max_neighbours!r}")
        self.pool = pool
        self.max_neighbours = int(max_neighbours)
        self._vectors = pool.reshape(len(pool), -1).astype(np.float32)
        self._squared_norms = np.einsum("ij,ij->i", self._vectors, self._vectors)

    @classmethod
    def from_params(cls, params: dict, *, model_dir=None, image_shape=None,
                    public_pool=None) -> "PublicPoolRetrievalAPI":
        """The retrieval API of a run's params (``retrieval`` section) over the prepared public set ``public_pool``."""
        if public_pool is None:
            raise ParamsError("params key pe.api: retrieval draws from the prepared public set; give its path "
                              "(privevo pe-* --public data/prepared/<key>/public.npz)")
        pool, _ = load_images(public_pool, num_classes=None)
        if image_shape is not None and tuple(pool.shape[1:]) != tuple(image_shape):
            raise ParamsError(f"params key pe.api: the public pool's images are {tuple(pool.shape[1:])}, the private "
                              f"set's {tuple(image_shape)}; retrieval returns pool images unchanged")
        settings = params.get("retrieval") or {}
        return cls(pool, max_neighbours=settings.get("max_neighbours", DEFAULT_MAX_NEIGHBOURS))

    def neighbourhood_size(self, degree: float) -> int:
        """k for a variation of ``degree``: 1 (the image itself) at degree 0, max_neighbours at degree 1."""
        return max(1, check_degree(degree, self.max_neighbours, where="variation degree"))

    def nearest(self, indices: np.ndarray, k: int, *, desc: str = "") -> np.ndarray:
        """The ``k`` nearest pool indices of each pool index in ``indices`` (rows, unordered within a row)."""
        indices = np.asarray(indices, dtype=np.int64)
        out = np.empty((len(indices), k), dtype=np.int64)
        with tqdm(total=len(indices), desc=desc or "pool neighbours", unit="img", leave=False) as bar:
            for begin in range(0, len(indices), _QUERY_BATCH):
                rows = indices[begin: begin + _QUERY_BATCH]
                # ||q - p||^2 up to the query's own norm, which does not change a row's order.
                distances = self._squared_norms[None, :] - 2.0 * (self._vectors[rows] @ self._vectors.T)
                distances[np.arange(len(rows)), rows] = -np.inf  # an image is its own nearest, whatever the rounding
                out[begin: begin + len(rows)] = np.argpartition(distances, k - 1, axis=1)[:, :k]
                bar.update(len(rows))
        return out

    # ------------------------------------------------------------------------------------------- PE's calls

    def random_with_state(self, num_images: int, *, class_index: int, seed: int, desc: str = "pool draws"
                          ) -> tuple[np.ndarray, np.ndarray]:
        """RANDOM_API: ``num_images`` pool images (without replacement while the pool lasts); (images, indices)."""
        rng = np.random.default_rng(seed)
        indices = rng.choice(len(self.pool), num_images, replace=num_images > len(self.pool))
        return self.pool[indices], indices.reshape(-1, 1).astype(np.int64)

    def variation_with_state(self, images: np.ndarray, state: np.ndarray, *, degree: float, seed: int,
                             desc: str = "pool neighbours") -> tuple[np.ndarray, np.ndarray]:
        """VARIATION_API: each image replaced by a random one of its k nearest pool images; (images, indices)."""
        check_images(images, name="variation input")
        indices = self.check_state(state, num_images=len(images))
        k = self.neighbourhood_size(degree)
        if k == 1:
            return images.copy(), indices.reshape(-1, 1)
        unique, inverse = np.unique(indices, return_inverse=True)
        neighbours = self.nearest(unique, k, desc=desc)[inverse.ravel()]
        picks = np.random.default_rng(seed).integers(0, k, len(indices))
        chosen = neighbours[np.arange(len(indices)), picks]
        return self.pool[chosen], chosen.reshape(-1, 1)

    def random(self, num_images: int, *, seed: int, desc: str = "pool draws") -> np.ndarray:
        """RANDOM_API (PEAPI protocol)."""
        return self.random_with_state(num_images, class_index=0, seed=seed, desc=desc)[0]

    def variation(self, images: np.ndarray, *, degree: float, seed: int, desc: str = "pool neighbours",
                  state: np.ndarray | None = None) -> np.ndarray:
        """VARIATION_API (PEAPI protocol); needs the images' pool indices (``state``)."""
        return self.variation_with_state(images, state, degree=degree, seed=seed, desc=desc)[0]

    def check_state(self, state, *, num_images: int) -> np.ndarray:
        if state is None:
            raise ValueError("retrieval varies pool indices: give the api_state that came with these images "
                             "(the candidates/selected .npz carry it)")
        state = np.asarray(state)
        if state.ndim != 2 or state.shape[1] != 1 or len(state) != num_images:
            raise ValueError(f"retrieval state must have shape ({num_images}, 1), got {state.shape}")
        indices = state[:, 0]
        if not (np.all(np.isfinite(indices)) and np.all(indices == np.round(indices))
                and indices.min(initial=0) >= 0 and indices.max(initial=0) < len(self.pool)):
            raise ValueError(f"retrieval state must hold pool indices in 0..{len(self.pool) - 1}")
        return indices.astype(np.int64)
