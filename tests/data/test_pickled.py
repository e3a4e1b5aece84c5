"""Tests of privevo.data.pickled: gzipped numpy pickles load, any other object is refused."""

from __future__ import annotations

import datetime
import gzip
import pickle

import numpy as np
import pytest

from privevo.data import DataSourceError
from privevo.data.pickled import load_pickled_array


def test_numpy_only_unpickler_refuses_other_objects(tmp_path):
    path = tmp_path / "evil.gz"
    with gzip.open(path, "wb") as handle:
        pickle.dump(datetime.date(2020, 1, 1), handle)
    with pytest.raises(DataSourceError, match="refusing"):
        load_pickled_array(path)
    with gzip.open(path, "wb") as handle:
        pickle.dump(np.arange(5, dtype=np.int64), handle)
    np.testing.assert_array_equal(load_pickled_array(path), np.arange(5))


def test_a_pickled_non_array_is_refused(tmp_path):
    path = tmp_path / "list.gz"
    with gzip.open(path, "wb") as handle:
        pickle.dump([1, 2, 3], handle)
    with pytest.raises(DataSourceError, match="expected a numpy array, got list"):
        load_pickled_array(path)
