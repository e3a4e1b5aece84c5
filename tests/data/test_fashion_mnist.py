"""Tests of privevo.data.fashion_mnist: finding the IDX files, loading and checking the private set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from data_helpers import REAL_FM_DIR, needs_real_fm, write_fake_fashion_mnist, write_idx
from privevo.data import DataSourceError, fashion_mnist
from privevo.data.fashion_mnist import find_fashion_mnist_dir, load_fashion_mnist


def test_missing_fashion_mnist_dir_explains_how_to_get_it(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DataSourceError) as info:
        load_fashion_mnist(missing)
    message = str(info.value)
    assert "dataset-fashion-mnist" in message
    assert "apt-get download" in message and "dpkg -x" in message
    assert "data.fashion_mnist_dir" in message
    assert str(missing) in message
    assert "train-images-idx3-ubyte" in message


def test_default_search_reports_the_searched_dirs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(fashion_mnist, "FASHION_MNIST_SEARCH_DIRS", (Path("data/sources/fm"), tmp_path / "absent"))
    with pytest.raises(DataSourceError) as info:
        find_fashion_mnist_dir(None)
    assert str(tmp_path / "data/sources/fm") in str(info.value)
    assert str(tmp_path / "absent") in str(info.value)


def test_default_search_order_prefers_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_fake_fashion_mnist(tmp_path / fashion_mnist.FASHION_MNIST_SEARCH_DIRS[0])
    assert find_fashion_mnist_dir(None) == fashion_mnist.FASHION_MNIST_SEARCH_DIRS[0]


@pytest.mark.parametrize("gz", [True, False])
def test_load_fashion_mnist_from_idx_dir(tmp_path, gz):
    sets = write_fake_fashion_mnist(tmp_path / "fm", gz=gz)
    loaded = load_fashion_mnist(tmp_path / "fm")
    assert set(loaded) == {"train", "test"}
    for split in ("train", "test"):
        images, labels = loaded[split]
        assert images.dtype == np.uint8 and images.shape == (len(sets[split][0]), 28, 28, 1)
        assert labels.dtype == np.int64
        np.testing.assert_array_equal(images[..., 0], sets[split][0])
        np.testing.assert_array_equal(labels, sets[split][1])


def test_load_fashion_mnist_accepts_dpkg_extraction_root(tmp_path):
    write_fake_fashion_mnist(tmp_path / "root" / "usr/share/datasets/fashion-mnist")
    assert load_fashion_mnist(tmp_path / "root")["train"][0].shape == (7, 28, 28, 1)


def test_partial_fashion_mnist_dir_names_missing_files(tmp_path):
    write_fake_fashion_mnist(tmp_path / "fm")
    (tmp_path / "fm" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataSourceError, match="t10k-labels-idx1-ubyte"):
        load_fashion_mnist(tmp_path / "fm")


def test_fashion_mnist_label_out_of_range_is_rejected(tmp_path):
    write_fake_fashion_mnist(tmp_path / "fm")
    write_idx(tmp_path / "fm" / "t10k-labels-idx1-ubyte.gz", np.array([0, 1, 10], np.uint8), gz=True)
    with pytest.raises(DataSourceError, match=r"Fashion-MNIST test .*labels must be in 0\.\.9"):
        load_fashion_mnist(tmp_path / "fm")


def test_fashion_mnist_length_mismatch_is_rejected(tmp_path):
    write_fake_fashion_mnist(tmp_path / "fm")
    write_idx(tmp_path / "fm" / "t10k-labels-idx1-ubyte.gz", np.array([0, 1], np.uint8), gz=True)
    with pytest.raises(DataSourceError, match=r"expected 3 labels in a 1-D array, got shape \(2,\)"):
        load_fashion_mnist(tmp_path / "fm")


def test_fashion_mnist_wrong_image_size_names_the_file(tmp_path):
    write_fake_fashion_mnist(tmp_path / "fm")
    write_idx(tmp_path / "fm" / "train-images-idx3-ubyte.gz", np.zeros((7, 32, 32), np.uint8), gz=True)
    with pytest.raises(DataSourceError, match=r"train-images-idx3-ubyte.*shape \(N, 28, 28, 1\)"):
        load_fashion_mnist(tmp_path / "fm")


@needs_real_fm
def test_real_fashion_mnist():
    loaded = load_fashion_mnist(REAL_FM_DIR)
    train_images, train_labels = loaded["train"]
    test_images, test_labels = loaded["test"]
    assert train_images.shape == (60_000, 28, 28, 1) and test_images.shape == (10_000, 28, 28, 1)
    assert train_images.dtype == np.uint8 and train_labels.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(train_labels), np.full(10, 6000))
    np.testing.assert_array_equal(np.bincount(test_labels), np.full(10, 1000))
    assert 60 < train_images.mean() < 90  # Fashion-MNIST's mean pixel is about 73
