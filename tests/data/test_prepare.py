"""Tests of privevo.data.prepare_data: the written sets, the manifest, stratified subsets and the overlap refusal."""

from __future__ import annotations

import json

import numpy as np
import pytest

from data_helpers import SMALL, needs_animals, needs_mlxtend, write_fake_fashion_mnist
from privevo.data import DataSourceError, prepare, prepare_data, stratified_head
from privevo.data.fashion_mnist import load_fashion_mnist
from privevo.data.prepare import load_public_set


def test_stratified_head_keeps_the_first_of_every_class_in_order():
    labels = np.array([2, 0, 1, 0, 2, 1, 0, 2, 1, 1])
    images = np.arange(10, dtype=np.uint8).reshape(10, 1, 1, 1)
    head_images, head_labels = stratified_head(images, labels, 6)  # 2 per class
    np.testing.assert_array_equal(head_images[:, 0, 0, 0], [0, 1, 2, 3, 4, 5])
    np.testing.assert_array_equal(head_labels, [2, 0, 1, 0, 2, 1])
    assert len(stratified_head(images, labels, 1)[1]) == 3  # at least one per class


@needs_animals
@needs_mlxtend
def test_prepare_data_writes_sets_and_manifest(tmp_path):
    fm = write_fake_fashion_mnist(tmp_path / "fm", n_train=20, n_test=10)
    out = tmp_path / "out"
    manifest = prepare_data(out_dir=out, fashion_mnist_dir=tmp_path / "fm", public_sources=None, seed=1, **SMALL)
    for name in ("private_train.npz", "private_test.npz", "public.npz", "data_manifest.json"):
        assert (out / name).is_file()
    with np.load(out / "private_train.npz", allow_pickle=False) as archive:
        np.testing.assert_array_equal(archive["images"][..., 0], fm["train"][0])
        np.testing.assert_array_equal(archive["labels"], fm["train"][1])
    images, source_ids, names = load_public_set(out / "public.npz")
    with np.load(out / "public.npz", allow_pickle=False) as archive:
        assert archive["source_names"].dtype.kind == "U"
        assert archive["source_labels"].shape == source_ids.shape
    assert images.shape[0] == manifest["public"]["count"] >= 10_000
    assert names == manifest["public"]["source_names"]
    assert manifest["public"]["per_source"] == {n: int(c) for n, c in zip(names, np.bincount(source_ids))}
    assert manifest["public"]["settings"] == SMALL
    assert set(manifest["sources"]["public"]) == set(names)
    assert manifest["sources"]["public"]["procedural_shapes"] == "procedural"
    assert manifest["private_train"]["count"] == 20 and manifest["private_test"]["count"] == 10
    assert sum(manifest["private_train"]["per_class"].values()) == 20
    assert manifest["public"]["exact_overlap_with_private"] == 0
    assert manifest["sources"]["private_dir"] == str((tmp_path / "fm").resolve())
    assert json.loads((out / "data_manifest.json").read_text()) == manifest


@needs_animals
@needs_mlxtend
@pytest.mark.parametrize("split", [{}, {"validation_fraction": 0.5, "private_fraction": 0.05}])
def test_prepare_data_refuses_a_public_set_with_private_copies(tmp_path, monkeypatch, split):
    """Also copies of private images that are held out or not kept by the subset: they are private all the same."""
    write_fake_fashion_mnist(tmp_path / "fm", n_train=20, n_test=10)
    private, private_labels = load_fashion_mnist(tmp_path / "fm")["train"]
    real_build = prepare.build_public_set
    kept = prepare.split_private_training(private, private_labels, seed=1, **split)["subset"][0]
    copied = [image for image in private if not any(np.array_equal(image, k) for k in kept)][:5]
    assert len(copied) == (0 if not split else 5)  # with the split: five images private_train.npz does not hold
    copied = copied or list(private[:5])

    def leaky_build(**kwargs):
        images, ids, names, labels = real_build(**kwargs)
        images = images.copy()
        images[:5] = np.stack(copied)
        return images, ids, names, labels

    monkeypatch.setattr(prepare, "build_public_set", leaky_build)
    with pytest.raises(DataSourceError, match="exact copies"):
        prepare_data(out_dir=tmp_path / "out", fashion_mnist_dir=tmp_path / "fm", public_sources=None, seed=1,
                     **split, **SMALL)
    assert not (tmp_path / "out" / "public.npz").exists()


def test_load_public_set_checks_source_ids(tmp_path):
    path = tmp_path / "public.npz"
    np.savez(path, images=np.zeros((3, 28, 28, 1), np.uint8), labels=np.array([0, 1, 2]),
             source_names=np.array(["a", "b"]))
    with pytest.raises(DataSourceError, match=r"labels must be in 0\.\.1"):
        load_public_set(path)
