"""The clean-fid cross-check: skipped where clean-fid does not import (here), and with a stand-in clean-fid the
glue writes the same images as PNGs, passes clean-fid's "clean" mode and the user's weights, and reports both FIDs."""

from __future__ import annotations

import json
import logging
import sys
import types

import numpy as np
import pytest
import torch
from PIL import Image

from privevo.cli import main
from privevo.embedders import INCEPTION_FILENAME
from privevo.embedders.base import to_rgb
from privevo.evaluation import cleanfid_check as check
from privevo.evaluation.frechet import FeatureStats, frechet_distance
from privevo.io.artifacts import save_images
from privevo.reports.summary import run_metrics, summary_table

from conftest import ROOT


def images(n, seed, channels=3, size=8):
    return np.random.default_rng(seed).integers(0, 256, size=(n, size, size, channels), dtype=np.uint8)


class MeanColourEmbedder:
    """Stands in for InceptionEmbedder: 3-d features (RGB channel means, grey repeated as InceptionEmbedder
    does), and records how it was built."""

    built_with: dict = {}

    def __init__(self, **options):
        MeanColourEmbedder.built_with = options

    def embed(self, batch, batch_size=128, progress=True):
        return to_rgb(batch).astype(np.float32).mean(axis=(1, 2))


@pytest.fixture
def weights(tmp_path):
    path = tmp_path / "w" / INCEPTION_FILENAME
    path.parent.mkdir()
    path.write_bytes(b"only its existence matters to these tests")
    return path


@pytest.fixture
def fake_cleanfid(monkeypatch):
    """A stand-in clean-fid package (fid + inception_torchscript) that records its calls; compute_fid reads the
    PNG folders back and returns the FD of their mean colours, so the number depends on the files written."""
    calls = {}

    class InceptionV3W(torch.nn.Module):
        def __init__(self, path, download=True, resize_inside=False):
            super().__init__()
            calls["weights_folder"], calls["download"], calls["resize_inside"] = path, download, resize_inside

    def read_folder(folder):
        from pathlib import Path

        files = sorted(Path(folder).glob("*.png"))
        return np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])

    def compute_fid(fdir1, fdir2, **kwargs):
        calls.update(kwargs, fdir1=fdir1, fdir2=fdir2, read1=read_folder(fdir1), read2=read_folder(fdir2))
        stats = [FeatureStats.from_features(calls[k].astype(np.float64).mean(axis=(1, 2))) for k in ("read1", "read2")]
        return frechet_distance(*stats) + 0.25  # a visible, known disagreement

    package = types.ModuleType("cleanfid")
    fid = types.ModuleType("cleanfid.fid")
    fid.compute_fid = compute_fid
    torchscript = types.ModuleType("cleanfid.inception_torchscript")
    torchscript.InceptionV3W = InceptionV3W
    package.fid, package.inception_torchscript = fid, torchscript
    for name, module in (("cleanfid", package), ("cleanfid.fid", fid), ("cleanfid.inception_torchscript", torchscript)):
        monkeypatch.setitem(sys.modules, name, module)
    return calls


def test_skipped_with_the_reason_where_cleanfid_does_not_import(weights, monkeypatch):
    def broken():
        raise ImportError("RuntimeError: operator torchvision::nms does not exist")

    monkeypatch.setattr(check, "import_cleanfid", broken)
    record = check.cleanfid_check(images(4, 0), images(4, 1), weights=weights, embedder_factory=MeanColourEmbedder)
    assert record["status"] == "skipped" and "torchvision::nms" in record["reason"] and "clean-fid" in record["reason"]
    assert "privevo_fid" not in record and "cleanfid_fid" not in record
    assert "not part of the DP release" in record["note"]


def test_import_failure_of_any_kind_is_an_import_error(monkeypatch):
    # A broken torchvision raises RuntimeError or OSError on import, not only ImportError.
    class Exploding(types.ModuleType):
        def __getattr__(self, name):
            raise RuntimeError("torchvision has no CPU build here")

    monkeypatch.setitem(sys.modules, "cleanfid", None)  # "import cleanfid" raises ImportError
    with pytest.raises(ImportError, match="cleanfid"):
        check.import_cleanfid()
    monkeypatch.setitem(sys.modules, "cleanfid", Exploding("cleanfid"))
    monkeypatch.setitem(sys.modules, "cleanfid.fid", None)
    with pytest.raises(ImportError):
        check.import_cleanfid()


@pytest.mark.parametrize("channels", [1, 3])
def test_both_fids_on_the_same_images(fake_cleanfid, weights, channels):
    synthetic, real = images(6, 2, channels), images(5, 3, channels)
    record = check.cleanfid_check(synthetic, real, weights=weights, device="cpu", batch_size=7,
                                  embedder_factory=MeanColourEmbedder)
    # privevo's side: clean-fid's float resize (no quantisation), the user's weights
    assert MeanColourEmbedder.built_with == {"weights_path": weights, "device": "cpu", "quantize_after_resize": False}
    ours = frechet_distance(*(FeatureStats.from_features(to_rgb(x).astype(np.float32).mean(axis=(1, 2)))
                              for x in (synthetic, real)))
    assert record["privevo_fid"] == pytest.approx(ours, rel=1e-6)
    # clean-fid's side read back exactly these images (as RGB, in order) from PNG folders
    np.testing.assert_array_equal(fake_cleanfid["read1"], np.broadcast_to(synthetic, (6, 8, 8, 3)))
    np.testing.assert_array_equal(fake_cleanfid["read2"], np.broadcast_to(real, (5, 8, 8, 3)))
    assert fake_cleanfid["mode"] == "clean" and fake_cleanfid["batch_size"] == 7
    assert fake_cleanfid["custom_feat_extractor"] is not None  # the user's file, never a download
    assert fake_cleanfid["download"] is False and fake_cleanfid["resize_inside"] is False
    assert fake_cleanfid["weights_folder"] == str(weights.parent)
    # the stand-in disagrees by exactly 0.25
    assert record["status"] == "compared" and record["cleanfid_fid"] == pytest.approx(ours + 0.25, rel=1e-6)
    assert record["difference"] == pytest.approx(-0.25, abs=1e-6)
    assert (record["num_synthetic"], record["num_real"], record["weights_file"]) == (6, 5, INCEPTION_FILENAME)


def test_weights_under_another_name_reach_cleanfid_under_its_name(fake_cleanfid, tmp_path):
    other = tmp_path / "my-inception.pt"
    other.write_bytes(b"x")
    check.cleanfid_check(images(3, 4), images(3, 5), weights=other, embedder_factory=MeanColourEmbedder)
    # clean-fid's loader only takes <folder>/inception-2015-12-05.pt; the folder it got held that name
    # (a temporary folder, gone after the check)
    assert fake_cleanfid["weights_folder"] != str(tmp_path)
    assert fake_cleanfid["weights_folder"].endswith("weights")


def test_missing_weights_one_line_through_the_cli(tmp_path, caplog):
    synthetic, real = tmp_path / "s.npz", tmp_path / "r.npz"
    save_images(synthetic, images(4, 6), np.arange(4) % 10)
    save_images(real, images(4, 7), np.arange(4) % 10)
    missing = tmp_path / "nowhere" / INCEPTION_FILENAME
    args = ["eval-cleanfid-check", "--params", str(ROOT / "config" / "smoke.yaml"), "--set", "embedding.name=inception",
            "--set", f"embedding.inception_path={missing}", "--set", "device=cpu",
            "--synthetic", str(synthetic), "--real", str(real), "--out", str(tmp_path / "check.json")]
    with caplog.at_level(logging.ERROR, logger="privevo"):
        assert main(args) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "\n" not in errors[0]
    for part in (INCEPTION_FILENAME, str(missing), "embedding.inception_path", "https://"):
        assert part in errors[0]
    assert not (tmp_path / "check.json").exists()


def test_cli_records_a_skip_for_other_embedders(tmp_path, capsys):
    out = tmp_path / "check.json"
    assert main(["eval-cleanfid-check", "--params", str(ROOT / "config" / "smoke.yaml"), "--synthetic", "s.npz",
                 "--real", "r.npz", "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["status"] == "skipped" and "'lite0'" in record["reason"]
    assert record["synthetic"] == "s.npz" and record["real"] == "r.npz"


def _privacy():
    return {"epsilon": 2.59, "delta": 1e-5, "noise_multiplier": 7.07, "num_iterations": 20, "accountant": "gdp",
            "is_dp_release": True, "noise": {"source": "os"}, "num_synthetic": 50000, "seed": 0}


def _metrics(check_record):
    import pandas as pd

    fd = pd.DataFrame({"iteration": [0, 1], "class": ["all", "all"], "metric": ["FID", "FID"], "value": [40.0, 9.5]})
    return run_metrics(_privacy(), downstream={"accuracy_mean": 0.5, "accuracy_std": 0.01, "seeds": [0]},
                       real={"accuracy_mean": 0.9, "accuracy_std": 0.0}, fd_curve=fd, run="r",
                       cleanfid_check=check_record)


def test_metrics_and_summary_print_both_fids():
    compared = {"status": "compared", "privevo_fid": 9.5, "cleanfid_fid": 9.4996, "difference": 0.0004,
                "num_synthetic": 50000, "num_real": 50000}
    metrics = _metrics(compared)
    assert (metrics["fid_privevo"], metrics["fid_cleanfid"], metrics["fid_difference"]) == (9.5, 9.4996, 0.0004)
    assert metrics["cleanfid_check"] == "compared"
    skipped = _metrics(check.skipped("clean-fid does not import on this machine (x)"))
    assert skipped["cleanfid_check"].startswith("skipped (clean-fid does not import") and "fid_cleanfid" not in skipped
    frame, markdown = summary_table([metrics, skipped])
    assert list(frame.columns[-4:]) == ["fid_privevo", "fid_cleanfid", "fid_difference", "cleanfid_check"]
    assert "| 9.5 | 9.5 | 0.0004 | compared |" in markdown and "skipped (clean-fid does not import" in markdown
    # Runs without the check (every non-Inception run) keep the table they had.
    frame, markdown = summary_table([_metrics(None)])
    assert "fid_cleanfid" not in frame.columns and "cleanfid" not in markdown
