"""Parsing IDX files (the MNIST file format), plain or gzipped."""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from privevo.data.checks import DataSourceError

_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_maybe_gzip(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataSourceError(f"{path}: cannot read ({exc})") from exc
    if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the file is called
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataSourceError(f"{path}: corrupt gzip data ({exc})") from exc
    if path.suffix == ".gz":
        raise DataSourceError(f"{path}: named .gz but is not gzip data")
    return raw


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Parse an IDX file (plain or gzipped) into a native-endian array of its declared shape.

    Raises :class:`DataSourceError` when the magic number, type code, dimensions or data length are
    wrong.
    """
    path = Path(path)
    data = _read_maybe_gzip(path)
    if len(data) < 4:
        raise DataSourceError(f"{path}: {len(data)} bytes, too short for an IDX header")
    if data[0] != 0 or data[1] != 0:
        raise DataSourceError(
            f"{path}: bad IDX magic number 0x{data[:4].hex()} (the first two bytes must be zero)"
        )
    type_code, ndim = data[2], data[3]
    if type_code not in _IDX_DTYPES:
        raise DataSourceError(
            f"{path}: unknown IDX type code 0x{type_code:02x} (known: "
            + ", ".join(f"0x{c:02x}" for c in _IDX_DTYPES)
            + ")"
        )
    if ndim == 0:
        raise DataSourceError(f"{path}: IDX header declares 0 dimensions")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise DataSourceError(f"{path}: truncated IDX header ({len(data)} bytes for {ndim} dimensions)")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header_len
    if actual != expected:
        raise DataSourceError(
            f"{path}: IDX dimensions {dims} of {dtype} need {expected} data bytes, file has {actual}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=True)
