"""Lookahead embeddings: each candidate embedded as the mean embedding of k variations of it."""

from __future__ import annotations

import numpy as np

from privevo.core import seeding
from privevo.pe.loop import STATE_KEY, carries_state, class_kwargs, class_slices


def lookahead_embeddings(
    api, embedder, images: np.ndarray, labels: np.ndarray, *, degree: float, lookahead_degree: int, iteration: int,
    seed: int, embed_batch_size: int = 128, state: np.ndarray | None = None,
) -> np.ndarray:
    """Embedding of every candidate: the mean embedding of k variations of it (k = 0: of itself).

    The lookahead variations are thrown away; only their mean embedding is returned. ``state`` is the
    candidates' per-image state, for an API that varies one (apis.base.carries_state).
    """
    if lookahead_degree == 0:
        return embedder.embed(images, batch_size=embed_batch_size)
    k = lookahead_degree
    variations = np.empty((len(images) * k, *images.shape[1:]), dtype=np.uint8)
    for c, index in class_slices(labels).items():
        stream = seeding.torch_seed(seed, role="lookahead", class_index=c, iteration=iteration)
        # Candidate-major: rows i*k .. i*k+k-1 are the k variations of candidate i.
        desc = f"lookahead t={iteration} class {c}"
        if carries_state(api):
            if state is None:
                raise ValueError(f"the {type(api).__name__} varies a per-image state ({STATE_KEY}) that these "
                                 "candidates lack")
            varied, _ = api.variation_with_state(np.repeat(images[index], k, axis=0), np.repeat(state[index], k, axis=0),
                                                 degree=degree, seed=stream, desc=desc)
        else:
            varied = api.variation(np.repeat(images[index], k, axis=0), degree=degree, seed=stream, desc=desc,
                                   **class_kwargs(api, c))
        variations[(index[:, None] * k + np.arange(k)).ravel()] = varied
    features = embedder.embed(variations, batch_size=embed_batch_size)
    return features.reshape(len(images), k, -1).mean(axis=1).astype(np.float32)
