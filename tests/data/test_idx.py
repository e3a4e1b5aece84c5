"""Tests of privevo.data.idx: IDX parsing, plain and gzipped, and its refusals."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from data_helpers import write_idx
from privevo.data import DataSourceError
from privevo.data.idx import read_idx


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trip_uint8(tmp_path, gz):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = write_idx(tmp_path / ("a.idx" + (".gz" if gz else "")), array, gz=gz)
    out = read_idx(path)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, array)


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trip_big_endian_int32(tmp_path, gz):
    array = np.array([[1, -2, 70000], [3, 2**30, -5]], dtype=np.int32)
    out = read_idx(write_idx(tmp_path / "b.idx", array, type_code=0x0C, dtype="i4", gz=gz))
    assert out.dtype == np.dtype(np.int32) and out.dtype.isnative
    np.testing.assert_array_equal(out, array)


def test_read_idx_rejects_bad_magic(tmp_path):
    path = write_idx(tmp_path / "x.idx", np.zeros((2, 2), np.uint8))
    raw = bytearray(path.read_bytes())
    raw[0] = 0x12
    path.write_bytes(bytes(raw))
    with pytest.raises(DataSourceError, match="magic"):
        read_idx(path)


def test_read_idx_rejects_unknown_type_code(tmp_path):
    path = write_idx(tmp_path / "x.idx", np.zeros((2, 2), np.uint8), type_code=0x07)
    with pytest.raises(DataSourceError, match="type code"):
        read_idx(path)


def test_read_idx_rejects_truncated_and_oversized_data(tmp_path):
    path = write_idx(tmp_path / "x.idx", np.zeros((4, 5), np.uint8))
    raw = path.read_bytes()
    path.write_bytes(raw[:-3])
    with pytest.raises(DataSourceError, match="data bytes"):
        read_idx(path)
    path.write_bytes(raw + b"\x00")
    with pytest.raises(DataSourceError, match="data bytes"):
        read_idx(path)
    path.write_bytes(raw[:2])
    with pytest.raises(DataSourceError, match="too short"):
        read_idx(path)


def test_read_idx_rejects_corrupt_gzip(tmp_path):
    path = tmp_path / "x.idx.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x05abcde")[:-6])
    with pytest.raises(DataSourceError, match="gzip"):
        read_idx(path)
    plain = tmp_path / "y.gz"
    plain.write_bytes(b"not gzip at all")
    with pytest.raises(DataSourceError, match="not gzip"):
        read_idx(plain)
