"""Exact L2 nearest-neighbour search behind one small interface: faiss IndexFlatL2 or torch."""

from __future__ import annotations

import logging

import numpy as np

from privevo.core.registry import Registry

logger = logging.getLogger("privevo.pe.neighbours")


def _as_float32(name: str, array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array, dtype=np.float32)
    if array.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D (N, D) array, got shape {array.shape}")
    return array


def faiss_search(queries: np.ndarray, database: np.ndarray, k: int) -> np.ndarray:
    """Indices (Nq, k) of the k nearest database rows of every query, by exact L2 (faiss IndexFlatL2)."""
    import faiss

    queries, database = _as_float32("queries", queries), _as_float32("database", database)
    index = faiss.IndexFlatL2(database.shape[1])
    if hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0:
        index = faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, index)
    index.add(database)
    _, indices = index.search(queries, k)
    return indices.astype(np.int64)


def torch_search(queries: np.ndarray, database: np.ndarray, k: int, *, chunk_size: int = 8192) -> np.ndarray:
    """Same contract as :func:`faiss_search`, with torch (CUDA when present)."""
    import torch

    queries, database = _as_float32("queries", queries), _as_float32("database", database)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    db = torch.from_numpy(database).to(device, torch.float64)
    db_sq = (db * db).sum(1)
    out = np.empty((queries.shape[0], k), dtype=np.int64)
    for start in range(0, queries.shape[0], chunk_size):
        q = torch.from_numpy(queries[start : start + chunk_size]).to(device, torch.float64)
        # float64 so ties and near-ties rank the same way as faiss' exact search.
        distances = db_sq[None, :] - 2.0 * q @ db.T
        out[start : start + q.shape[0]] = torch.topk(distances, k, dim=1, largest=False, sorted=True).indices.cpu().numpy()
    return out


# A new backend: a search function (queries, database, k) -> int64 (n, k) plus one line here, declaring
#   exact      whether it returns the exact L2 neighbours (the histogram's sensitivity assumes exact search)
#   needs_gpu  whether it cannot run on a CPU (both here use a GPU where one exists, and need none)
NN_BACKENDS = Registry("nearest-neighbour backend", traits=("exact", "needs_gpu"), entries={
    "faiss": ("privevo.pe.neighbours:faiss_search", dict(exact=True, needs_gpu=False)),
    "torch": ("privevo.pe.neighbours:torch_search", dict(exact=True, needs_gpu=False)),
})


def resolve_backend(name: str) -> str:
    if name == "auto":
        try:
            import faiss  # noqa: F401
        except ImportError:
            logger.warning("faiss is not importable; using the torch nearest-neighbour backend")
            return "torch"
        return "faiss"
    return NN_BACKENDS.check(name, key="pe.nn_backend")


def nearest_neighbours(queries: np.ndarray, database: np.ndarray, k: int = 1, *, backend: str = "auto") -> np.ndarray:
    if not 1 <= k <= len(database):
        raise ValueError(f"need 1 <= k <= number of candidates ({len(database)}), got k={k}")
    return NN_BACKENDS.get(resolve_backend(backend))(queries, database, k)
