"""Tests of what all embedders share: input validation, the registry and make_embedder."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from privevo.core.devices import resolve_device
from privevo.core.registry import UnknownNameError
from privevo.embedders import EMBEDDERS, Embedder, PixelEmbedder, make_embedder
from privevo.io.images import ArtifactError


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((2, 8, 8, 1), np.float32), "uint8"),
        (np.zeros((2, 8, 8, 1), np.int64), "uint8"),
        (np.zeros((2, 8, 8), np.uint8), "4-d"),
        (np.zeros((2, 8, 8, 2), np.uint8), "channels"),
        (np.zeros((2, 3, 8, 8), np.uint8), "NCHW"),
        (np.zeros((2, 0, 8, 1), np.uint8), "at least 1x1"),
        ([[[[0]]]], "numpy"),
    ],
)
def test_bad_input_raises(bad, match):
    with pytest.raises(ArtifactError, match=match) as info:
        PixelEmbedder().embed(bad, progress=False)
    assert str(info.value).startswith("PixelEmbedder.embed: ")  # the message names who rejected the images
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("batch_size", [0, -1, 2.0, True])
def test_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        PixelEmbedder().embed(np.zeros((2, 8, 8, 1), np.uint8), batch_size=batch_size, progress=False)


def test_registry_and_unknown_name():
    assert set(EMBEDDERS.names()) == {"lite0", "pixels", "inception"}
    for name in EMBEDDERS.names():  # every entry resolves to an Embedder class that reports the same name
        cls = EMBEDDERS.get(name)
        assert issubclass(cls, Embedder) and cls.name == name
    assert isinstance(make_embedder("pixels"), PixelEmbedder)
    with pytest.raises(UnknownNameError, match="unknown embedder 'resnet'; choose from lite0, pixels, inception"):
        make_embedder("resnet")
    with pytest.raises(ValueError, match="choose from lite0, pixels, inception"):
        make_embedder(["pixels"])  # unhashable
    with pytest.raises(ValueError, match="bad options"):
        make_embedder("pixels", resolution=3)


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError):
        resolve_device("not-a-device")


def test_checking_a_name_imports_no_torch():
    """params validation checks embedding.name against EMBEDDERS; that must stay cheap."""
    code = ("import sys; from privevo.embedders import EMBEDDERS; EMBEDDERS.check('lite0'); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
