"""Which nearest-neighbour backend runs: faiss when importable, on its GPUs when the faiss build has them.

A fake ``faiss`` module stands in for faiss-gpu, so these run on any machine.
"""

import logging
import sys
import types

import numpy as np
import pytest

from privevo.pe.neighbours import faiss_search, nearest_neighbours, resolve_backend, torch_search


class FlatIndex:
    """Exact L2 search, like faiss.IndexFlatL2."""

    def __init__(self, dim):
        self.dim, self.database, self.on_gpu = dim, None, False

    def add(self, database):
        assert database.dtype == np.float32 and database.shape[1] == self.dim
        self.database = database

    def search(self, queries, k):
        distances = ((queries[:, None, :] - self.database[None, :, :]) ** 2).sum(-1)
        indices = np.argsort(distances, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(distances, indices, axis=1), indices


def fake_faiss(monkeypatch, *, num_gpus: int, gpu_build: bool = True):
    """Install a fake faiss in sys.modules; returns it with ``moved``, the indexes sent to a GPU."""
    faiss = types.ModuleType("faiss")
    faiss.IndexFlatL2 = FlatIndex
    faiss.get_num_gpus = lambda: num_gpus
    faiss.moved = []
    if gpu_build:
        faiss.StandardGpuResources = type("StandardGpuResources", (), {})

        def index_cpu_to_gpu(resources, device, index):
            assert isinstance(resources, faiss.StandardGpuResources)
            faiss.moved.append((device, index))
            index.on_gpu = True
            return index

        faiss.index_cpu_to_gpu = index_cpu_to_gpu
    monkeypatch.setitem(sys.modules, "faiss", faiss)
    return faiss


@pytest.fixture
def points():
    rng = np.random.default_rng(0)
    database = rng.normal(size=(50, 8)).astype(np.float32)
    # Each query sits close to one database row, so the nearest neighbour is unambiguous.
    queries = database[rng.permutation(50)[:12]] + 0.01 * rng.normal(size=(12, 8)).astype(np.float32)
    return queries, database


def test_faiss_with_gpus_moves_the_index_to_gpu_0(monkeypatch, points):
    faiss = fake_faiss(monkeypatch, num_gpus=2)
    queries, database = points
    found = faiss_search(queries, database, 3)
    assert len(faiss.moved) == 1
    device, index = faiss.moved[0]
    assert device == 0 and index.on_gpu and index.database is not None  # the GPU index holds the database
    np.testing.assert_array_equal(found, torch_search(queries, database, 3))
    assert found.dtype == np.int64


@pytest.mark.parametrize("num_gpus, gpu_build", [(0, True), (0, False), (1, False)])
def test_faiss_stays_on_the_cpu_without_gpus_or_a_gpu_build(monkeypatch, points, num_gpus, gpu_build):
    faiss = fake_faiss(monkeypatch, num_gpus=num_gpus, gpu_build=gpu_build)
    queries, database = points
    np.testing.assert_array_equal(faiss_search(queries, database, 2), torch_search(queries, database, 2))
    assert faiss.moved == []


def test_auto_picks_faiss_when_importable(monkeypatch, points):
    faiss = fake_faiss(monkeypatch, num_gpus=1)
    assert resolve_backend("auto") == "faiss"
    queries, database = points
    nearest_neighbours(queries, database, 1, backend="auto")
    assert len(faiss.moved) == 1


def test_auto_falls_back_to_torch_without_faiss(monkeypatch, caplog, points):
    monkeypatch.setitem(sys.modules, "faiss", None)  # makes `import faiss` raise ImportError
    with caplog.at_level(logging.WARNING, logger="privevo.pe.neighbours"):
        assert resolve_backend("auto") == "torch"
    assert any("faiss is not importable" in r.getMessage() for r in caplog.records)
    queries, database = points
    np.testing.assert_array_equal(nearest_neighbours(queries, database, 1, backend="auto"),
                                  torch_search(queries, database, 1))


def test_an_explicit_backend_is_kept_even_where_faiss_imports(monkeypatch):
    fake_faiss(monkeypatch, num_gpus=1)
    assert resolve_backend("torch") == "torch"
    assert resolve_backend("faiss") == "faiss"
