"""Reading numpy pickles (plain or gzipped) with an unpickler that accepts numpy arrays and nothing else."""

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


def _latin1_encode(text, encoding):
    """``_codecs.encode`` restricted to latin-1: how Python 3 pickles ``bytes`` at protocols 0-2."""
    # Python 2 wrote byte strings with their own opcode; Python 3 at protocol <= 2 writes
    # ``_codecs.encode(text, "latin1")`` instead, so a re-pickled file needs this and only this codec.
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"refusing to load _codecs.encode with encoding {encoding!r}: only latin1 is allowed")
    return text.encode("latin1")


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays in plain containers and nothing else (no arbitrary code from a data file).

    Dicts, lists, tuples, numbers and strings need no globals; a numpy array needs ``_reconstruct``
    (under ``numpy.core.multiarray`` when written by numpy 1.x or Python 2, ``numpy._core.multiarray``
    by numpy 2), ``numpy.ndarray`` and ``numpy.dtype``. Every other global is refused.
    """

    def find_class(self, module: str, name: str):
        if name == "_reconstruct" and module in ("numpy.core.multiarray", "numpy._core.multiarray"):
            return _numpy_reconstruct()
        if module == "numpy" and name == "ndarray":
            return np.ndarray
        if module == "numpy" and name == "dtype":
            return np.dtype
        if module == "_codecs" and name == "encode":
            return _latin1_encode
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays are allowed")


# What a corrupt or hostile pickle can raise while loading; all become a DataSourceError naming the file.
_LOAD_ERRORS = (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, KeyError, IndexError, AttributeError)


def load_numpy_pickle(path: Path, *, gzipped: bool = False, encoding: str = "ASCII") -> object:
    """The object pickled in ``path`` (gzipped if ``gzipped``), refusing any global but numpy's array ones.

    ``encoding="bytes"`` reads Python 2 pickles (such as CIFAR-10's batches) with their byte strings
    kept as ``bytes``. A refused global or unreadable file gives :class:`DataSourceError` naming the file.
    """
    try:
        with (gzip.open(path, "rb") if gzipped else open(path, "rb")) as handle:
            return _NumpyOnlyUnpickler(handle, encoding=encoding).load()
    except _LOAD_ERRORS as exc:
        kind = "a gzipped numpy pickle" if gzipped else "a numpy pickle"
        raise DataSourceError(f"{path}: cannot read {kind} ({exc})") from exc


def load_pickled_array(path: Path) -> np.ndarray:
    """The numpy array pickled (gzipped) in ``path``; :class:`DataSourceError` for anything else."""
    array = load_numpy_pickle(path, gzipped=True)
    if not isinstance(array, np.ndarray):
        raise DataSourceError(f"{path}: expected a numpy array, got {type(array).__name__}")
    return array
