"""Reading gzipped numpy pickles with an unpickler that accepts numpy arrays and nothing else."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np

from privevo.data.checks import DataSourceError


def _numpy_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain numpy arrays and nothing else (no arbitrary code from a data file)."""

    def find_class(self, module: str, name: str):
        if name == "_reconstruct" and module in ("numpy.core.multiarray", "numpy._core.multiarray"):
            return _numpy_reconstruct()
        if module == "numpy" and name == "ndarray":
            return np.ndarray
        if module == "numpy" and name == "dtype":
            return np.dtype
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays are allowed")


def load_pickled_array(path: Path) -> np.ndarray:
    """The numpy array pickled (gzipped) in ``path``; :class:`DataSourceError` for anything else."""
    try:
        with gzip.open(path, "rb") as handle:
            array = _NumpyOnlyUnpickler(handle).load()
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError) as exc:
        raise DataSourceError(f"{path}: cannot read a gzipped numpy array ({exc})") from exc
    if not isinstance(array, np.ndarray):
        raise DataSourceError(f"{path}: expected a numpy array, got {type(array).__name__}")
    return array
