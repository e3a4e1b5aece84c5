"""Membership by a keyed hash of each image's own bytes (issue 40): removing one private image changes every split
and subset by that image alone, the keys are public and stored, and the split reruns to the same bytes."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
import yaml

from data_helpers import SMALL, needs_animals, needs_mlxtend
from real_mode import write_image_folder
from privevo.data import neighbouring_relation_record, prepare_data
from privevo.data.membership import (MEMBERSHIP_ROLES, hash_members, hash_subset, membership_key,
                                     membership_uniforms)
from privevo.data.prepare import read_neighbouring_relation, split_private_training
from privevo.io.artifacts import load_images

from conftest import ROOT

SPLIT = {"validation_fraction": 0.2, "private_fraction": 0.5}


def image_set(n: int = 400, classes: int = 2, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 6, 5, 1), dtype=np.uint8), np.arange(n) % classes


def as_multiset(images: np.ndarray) -> Counter:
    return Counter(image.tobytes() for image in images)


def difference(before: np.ndarray, after: np.ndarray) -> tuple[Counter, Counter]:
    """(images only in ``before``, images only in ``after``), as multisets of their bytes."""
    a, b = as_multiset(before), as_multiset(after)
    return a - b, b - a


def splits_with_dpsgd(images, labels, seed):
    split = split_private_training(images, labels, seed=seed, **SPLIT)
    split["dpsgd"] = hash_subset(*split["subset"], seed=seed + 1, role="dpsgd_subset", fraction=0.5)
    return split


def test_removing_one_image_changes_each_split_by_that_image_alone():
    images, labels = image_set()
    full = splits_with_dpsgd(images, labels, seed=3)
    in_validation = as_multiset(full["validation"][0])
    in_subset = as_multiset(full["subset"][0])
    in_dpsgd = as_multiset(full["dpsgd"][0])
    # one removed image of each kind: held out; training but not voting; voting but not DP-SGD; voting and DP-SGD
    kinds = {}
    for row, image in enumerate(images):
        key = image.tobytes()
        kind = ("validation" if key in in_validation else "training only" if key not in in_subset
                else "subset only" if key not in in_dpsgd else "subset and dpsgd")
        kinds.setdefault(kind, row)
    assert len(kinds) == 4, kinds
    for kind, row in kinds.items():
        keep = np.arange(len(labels)) != row
        neighbour = splits_with_dpsgd(images[keep], labels[keep], seed=3)
        removed = Counter([images[row].tobytes()])
        for name in ("validation", "training", "subset", "dpsgd"):
            only_before, only_after = difference(full[name][0], neighbour[name][0])
            was_member = images[row].tobytes() in as_multiset(full[name][0])
            assert only_after == Counter(), (kind, name)
            assert only_before == (removed if was_member else Counter()), (kind, name)
        # the hold-out and the subset still partition what they did, labels travelling with their images
        np.testing.assert_array_equal(
            np.sort(np.concatenate([neighbour["validation"][1], neighbour["training"][1]])), np.sort(labels[keep]))


def test_membership_depends_on_the_image_alone_not_on_its_row_or_the_set():
    images, _ = image_set(200)
    key = membership_key(5, "validation")
    u = membership_uniforms(images, key)
    assert u.shape == (200,) and np.all((u >= 0) & (u < 1))
    order = np.random.default_rng(1).permutation(200)
    np.testing.assert_array_equal(membership_uniforms(images[order], key), u[order])
    np.testing.assert_array_equal(membership_uniforms(images[:7], key), u[:7])
    # the shape is hashed with the bytes: the same bytes as another shape are another image
    assert not np.array_equal(membership_uniforms(images.reshape(200, 5, 6, 1), key), u)
    with pytest.raises(ValueError, match="uint8"):
        membership_uniforms(images.astype(np.float32), key)


def test_each_role_has_its_own_public_key_and_the_fractions_hold_on_average():
    images, _ = image_set(20_000, seed=2)
    keys = {(seed, role): membership_key(seed, role) for seed in (0, 1) for role in MEMBERSHIP_ROLES}
    assert len(set(keys.values())) == len(keys) and all(len(k) == 32 for k in keys.values())
    assert membership_key(0, "validation") == membership_key(0, "validation")  # derived, so rerun to the same key
    held = hash_members(images, seed=0, role="validation", fraction=0.1)
    kept = hash_members(images, seed=0, role="private_subset", fraction=0.3)
    # Binomial(20000, p): 5 standard deviations are under 0.0165 for every p here
    assert abs(held.mean() - 0.1) < 0.011 and abs(kept.mean() - 0.3) < 0.017
    assert abs((held & kept).mean() - 0.03) < 0.006  # independent hashes: P(both) = 0.1 * 0.3
    assert not hash_members(images, seed=0, role="validation", fraction=0.0).any()
    assert hash_members(images, seed=0, role="validation", fraction=1.0).all()
    assert hash_subset(images, np.zeros(20_000), seed=0, role="private_subset", fraction=None)[0] is images
    with pytest.raises(ValueError, match="unknown membership role"):
        membership_key(0, "voting")


def test_the_neighbouring_relation_record_names_the_public_keys_and_claims_no_amplification():
    record = neighbouring_relation_record(7, validation_fraction=0.1, private_fraction=0.25)
    json.dumps(record)  # JSON-ready
    assert record["neighbouring"] == "add/remove one private image"
    assert record["amplification_by_subsampling"] is False
    assert record["membership"]["validation"]["key"] == membership_key(7, "validation").hex()
    assert record["membership"]["private_subset"]["key"] == membership_key(7, "private_subset").hex()
    assert record["membership"]["private_subset"]["fraction"] == 0.25
    assert "keyed hash of its own bytes" in record["meaning"] and "no amplification" in record["meaning"].lower()
    whole = neighbouring_relation_record(7)
    assert "whole private training set" in whole["meaning"] and whole["membership"]["validation"]["fraction"] is None
    with_dpsgd = neighbouring_relation_record(7, dpsgd_seed=2, dpsgd_private_fraction=0.5)
    assert with_dpsgd["membership"]["dpsgd_subset"]["key"] == membership_key(2, "dpsgd_subset").hex()
    assert "DP-SGD" in with_dpsgd["meaning"]


def two_class_folder(root, *, drop: str | None = None):
    write_image_folder(root, per_class={"train": 30, "test": 2}, shape=(8, 8, 1), class_names=["a", "b"])
    if drop:
        (root / "train" / drop).unlink()
    return root


def read_split(out):
    return {split: load_images(out / f"private_{split}.npz") for split in ("train", "validation", "test")}


@needs_animals
@needs_mlxtend
def test_prepare_data_on_a_folder_less_one_image_gives_splits_that_differ_in_that_image(tmp_path):
    settings = {"private_set": "image_folder", "public_sources": None, "seed": 4, **SPLIT, **SMALL}
    full = prepare_data(out_dir=tmp_path / "full", private_dir=two_class_folder(tmp_path / "f"), **settings)
    dropped = "b/0031.png"  # one private image of class b
    from PIL import Image

    removed = np.asarray(Image.open(tmp_path / "f" / "train" / dropped))[..., None].tobytes()
    two_class_folder(tmp_path / "g", drop=dropped)
    prepare_data(out_dir=tmp_path / "less", private_dir=tmp_path / "g", **settings)
    before, after = read_split(tmp_path / "full"), read_split(tmp_path / "less")
    changed = []
    for split in ("train", "validation", "test"):
        only_before, only_after = difference(before[split][0], after[split][0])
        assert only_after == Counter() and set(only_before) <= {removed}, split
        changed += list(only_before.elements())
    assert changed in ([], [removed])  # in the split it was in (or in neither, when the subset dropped it)
    assert as_multiset(before["validation"][0]) and as_multiset(before["train"][0])  # both splits are in use
    # the public keys are stored; the same inputs rerun to the same bytes
    membership = full["membership"]["membership"]
    assert membership["validation"]["key"] == membership_key(4, "validation").hex()
    assert membership["private_subset"]["key"] == membership_key(4, "private_subset").hex()
    assert full["validation"]["fraction"] == 0.2
    assert read_neighbouring_relation(tmp_path / "full" / "data_manifest.json") == full["membership"]
    prepare_data(out_dir=tmp_path / "again", private_dir=tmp_path / "f", **settings)
    again = read_split(tmp_path / "again")
    for split in ("train", "validation"):
        assert again[split][0].tobytes() == before[split][0].tobytes()
        assert again[split][1].tobytes() == before[split][1].tobytes()
    manifest = tmp_path / "again" / "data_manifest.json"
    assert manifest.read_bytes() == (tmp_path / "full" / "data_manifest.json").read_bytes()


@needs_animals
@needs_mlxtend
def test_the_prepare_data_step_warns_when_delta_is_not_below_one_over_n_without_printing_n(tmp_path, caplog):
    from privevo.config.params import validate_params
    from privevo.steps.prepare_data import prepare_data as prepare_data_step

    params = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    params["data"].update(private_set="image_folder", private_dir=str(two_class_folder(tmp_path / "f")),
                          private_fraction=None, validation_fraction=None,
                          augmented_count=SMALL["augmented_count"], shapes_count=SMALL["shapes_count"])
    params["pe"].update(api="diffusion", api_schedule=[])
    caplog.set_level("INFO", logger="privevo")
    prepare_data_step(validate_params(params), out_dir=str(tmp_path / "quiet"))  # delta 1e-5, 60 images
    assert "privacy.delta" not in caplog.text
    caplog.clear()
    prepare_data_step(validate_params({**params, "privacy": {**params["privacy"], "delta": 0.02}}),
                      out_dir=str(tmp_path / "loud"))  # 0.02 >= 1/60
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and "privacy.delta" in r.getMessage()]
    assert len(warnings) == 1 and "well below 1/N" in warnings[0].getMessage()
    assert "60" not in warnings[0].getMessage()  # the private count is never printed
