"""Tests of the pixels embedder."""

from __future__ import annotations

import numpy as np
import pytest
from embedder_samples import random_images

from privevo.embedders import PixelEmbedder


@pytest.mark.parametrize("channels", [1, 3])
def test_pixels(channels):
    x = random_images(7, channels, size=8)
    e = PixelEmbedder()
    f = e.embed(x, batch_size=3, progress=False)
    assert f.shape == (7, 8 * 8 * channels) and e.dim == 8 * 8 * channels
    assert f.dtype == np.float32 and f.flags.c_contiguous
    np.testing.assert_allclose(f, x.reshape(7, -1) / 255.0, atol=1e-7)
    assert f.min() >= 0.0 and f.max() <= 1.0
    np.testing.assert_array_equal(f, e.embed(x, batch_size=7, progress=False))


def test_pixels_dim_and_shape_checks():
    e = PixelEmbedder(image_shape=(4, 5, 1))
    assert e.dim == 20
    with pytest.raises(ValueError, match="fixed to"):
        e.embed(random_images(2, 1, size=4), progress=False)
    with pytest.raises(RuntimeError, match="image_shape"):
        PixelEmbedder().dim
    with pytest.raises(ValueError):
        PixelEmbedder(image_shape=(4, 4, 2))


def test_empty_input():
    f = PixelEmbedder(image_shape=(8, 8, 1)).embed(np.zeros((0, 8, 8, 1), np.uint8), progress=False)
    assert f.shape == (0, 64) and f.dtype == np.float32
