"""Tests of the FID Inception embedder, on a stand-in TorchScript file (and the real one where available)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from embedder_samples import one_torch_thread, random_images, structured_images  # noqa: F401

from privevo.embedders import INCEPTION_ENV_VAR, INCEPTION_FILENAME, InceptionEmbedder, make_embedder


def test_inception_missing_file(tmp_path):
    missing = tmp_path / "nowhere" / INCEPTION_FILENAME
    with pytest.raises(FileNotFoundError) as info:
        InceptionEmbedder(weights_path=missing)
    msg = str(info.value)
    assert INCEPTION_FILENAME in msg and str(missing) in msg and "https://" in msg
    # one line that says where to put the file: the params key and the environment variable
    assert "\n" not in msg and "embedding.inception_path" in msg and INCEPTION_ENV_VAR in msg
    # a folder without the file: the message names the file inside it
    with pytest.raises(FileNotFoundError, match=INCEPTION_FILENAME):
        InceptionEmbedder(weights_path=tmp_path)


def test_inception_missing_via_env_and_registry(tmp_path, monkeypatch):
    monkeypatch.setenv(INCEPTION_ENV_VAR, str(tmp_path / "x" / INCEPTION_FILENAME))
    with pytest.raises(FileNotFoundError, match=INCEPTION_ENV_VAR):
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
    x = random_images(4, channels, size=16, seed=7)
    f = e.embed(x, batch_size=3, progress=False)
    assert f.shape == (4, 2048) and f.dtype == np.float32 and f.flags.c_contiguous
    # the module saw float NCHW RGB at 299 x 299, values 0..255 (not normalised)
    np.testing.assert_array_equal(f[:, :3], np.tile([3.0, 299.0, 299.0], (4, 1)))
    assert (f[:, 3] <= 255.0).all() and (f[:, 3] > 1.0).all()
    # by default the resize is clean-fid's "clean" mode: PIL bicubic per channel in float, clipped to 0..255
    rgb = np.repeat(x, 3, axis=3) if channels == 1 else x
    expected_mean = [np.mean([np.clip(np.asarray(Image.fromarray(im[:, :, c].astype(np.float32), mode="F")
                                                 .resize((299, 299), Image.BICUBIC), np.float64), 0, 255)
                              for c in range(3)]) for im in rgb]
    np.testing.assert_allclose(f[:, 4], expected_mean, rtol=1e-5)
    # deterministic, batch-size independent, different images differ
    np.testing.assert_array_equal(f, e.embed(x, batch_size=3, progress=False))
    np.testing.assert_allclose(f, e.embed(x, batch_size=4, progress=False), atol=1e-4)
    assert np.linalg.norm(f[0] - f[1]) > 1e-3


def test_inception_float_resize_mode(fake_inception_dir):
    x = random_images(2, 1, size=16, seed=8)
    q = InceptionEmbedder(weights_path=fake_inception_dir / INCEPTION_FILENAME,
                          quantize_after_resize=True).embed(x, progress=False)
    fl = InceptionEmbedder(weights_path=fake_inception_dir).embed(x, progress=False)  # the default: clean-fid's float
    assert InceptionEmbedder(weights_path=fake_inception_dir).config["quantize_after_resize"] is False
    assert q.shape == fl.shape == (2, 2048)
    assert not np.array_equal(q, fl)
    np.testing.assert_allclose(q[:, 4], fl[:, 4], atol=1.0)  # nearly the same mean intensity


def test_inception_not_torchscript(tmp_path):
    bad = tmp_path / INCEPTION_FILENAME
    bad.write_bytes(b"not a torchscript file")
    with pytest.raises(ValueError, match="TorchScript"):
        InceptionEmbedder(weights_path=bad)


_REAL_INCEPTION = os.environ.get(INCEPTION_ENV_VAR, "")


@pytest.mark.skipif(
    not (_REAL_INCEPTION and Path(_REAL_INCEPTION).exists()),
    reason=f"real {INCEPTION_FILENAME} not available (set {INCEPTION_ENV_VAR})",
)
def test_inception_real_weights():
    e = InceptionEmbedder()  # found through the environment variable
    x = structured_images(3)
    f = e.embed(x, batch_size=2, progress=False)
    assert f.shape == (3, 2048) and f.dtype == np.float32 and np.isfinite(f).all()
    assert (f >= 0).all()  # pool features follow a ReLU
    np.testing.assert_allclose(f, e.embed(x, batch_size=3, progress=False), atol=1e-4)
    assert np.linalg.norm(f[0] - f[1]) > 1e-3


def test_workflow_fid_uses_cleanfid_resize(fake_inception_dir):
    """The workflow's embedder for embedding.name: inception (fd curve, histogram, clean-fid check) is the
    Inception FID at 299 with clean-fid's "clean" resize, and the FD curve names it FID."""
    from privevo.steps import common
    from privevo.config.params import load_params

    root = Path(__file__).resolve().parents[2]
    params = load_params(root / "config" / "smoke.yaml",
                         ["embedding.name=inception", f"embedding.inception_path={fake_inception_dir}", "device=cpu"])
    embedder = common.embedder(params)
    assert isinstance(embedder, InceptionEmbedder) and embedder.config["quantize_after_resize"] is False
    assert common.fd_metric_name(params["embedding"]["name"]) == "FID"
    x = random_images(2, 3, size=12, seed=9)
    features = embedder.embed(x, progress=False)
    np.testing.assert_array_equal(features[:, 1:3], np.full((2, 2), 299.0))  # the module saw 299 x 299
