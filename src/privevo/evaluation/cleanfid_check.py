"""Cross-check of privevo's Inception FID against clean-fid's ``compute_fid`` on the same images.

clean-fid imports torchvision, which only works on some machines (CUDA builds); elsewhere the check records that
it was skipped and why, so the workflow's outputs do not depend on the machine. Where it imports, both FIDs are
computed from the same two image sets: privevo's from the InceptionEmbedder (clean-fid's "clean" resize) and
frechet.py, clean-fid's from PNG folders of the same images, read, resized and scored by clean-fid itself. Only
the weights file is shared (clean-fid would otherwise download it, and nothing downloads at run time here).

Evaluation: it reads private images, so it is not part of the DP release.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

logger = logging.getLogger("privevo.evaluation.cleanfid_check")

CLEANFID_MODE = "clean"
NOTE = ("evaluation on private images, not part of the DP release; both FIDs are Inception-v3 pool features at "
        "299 with clean-fid's 'clean' resize (PIL bicubic per channel in float) on the same images")


def import_cleanfid():
    """clean-fid's ``fid`` module, or raise ImportError (any failure to import it, e.g. a broken torchvision)."""
    try:
        import cleanfid.fid as cleanfid_fid
    except Exception as exc:  # torchvision without a working build raises RuntimeError/OSError, not only ImportError
        raise ImportError(f"{type(exc).__name__}: {exc}") from exc
    return cleanfid_fid


def skipped(reason: str, **extra: Any) -> dict:
    """The record of a check that did not run."""
    return {"status": "skipped", "reason": reason, "metric": "FID", "mode": CLEANFID_MODE, **extra, "note": NOTE}


def write_png_folder(images: np.ndarray, folder: str | Path) -> Path:
    """Every image of a uint8 (N, H, W, C) array as one PNG (grey stays grey: clean-fid converts to RGB on read,
    as to_rgb does for privevo's embedder)."""
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"expected uint8 (N, H, W, 1|3) images, got {images.dtype} {images.shape}")
    width = len(str(max(len(images) - 1, 0)))
    for i, image in enumerate(images):
        Image.fromarray(image[:, :, 0] if image.shape[-1] == 1 else image).save(folder / f"{i:0{width}d}.png")
    return folder


def _weights_folder(weights: Path, scratch: Path) -> Path:
    """A folder holding the weights as inception-2015-12-05.pt, the only name clean-fid's loader takes."""
    from privevo.embedders.inception import INCEPTION_FILENAME

    if weights.name == INCEPTION_FILENAME:
        return weights.parent
    folder = scratch / "weights"
    folder.mkdir()
    try:
        os.symlink(weights.resolve(), folder / INCEPTION_FILENAME)
    except OSError:
        shutil.copyfile(weights, folder / INCEPTION_FILENAME)
    return folder


def cleanfid_folder_fid(cleanfid_fid, synthetic_dir: Path, real_dir: Path, *, weights: Path, device: str,
                        batch_size: int, scratch: Path) -> float:
    """clean-fid's ``compute_fid`` between two PNG folders, in "clean" mode, with the user's weights file."""
    import torch
    from cleanfid.inception_torchscript import InceptionV3W

    model = InceptionV3W(str(_weights_folder(weights, scratch)), download=False, resize_inside=False)
    model = model.to(torch.device(device)).eval()
    return float(cleanfid_fid.compute_fid(
        str(synthetic_dir), str(real_dir), mode=CLEANFID_MODE, custom_feat_extractor=model,
        device=torch.device(device), batch_size=batch_size, num_workers=min(8, os.cpu_count() or 1), verbose=False))


def privevo_fid(synthetic: np.ndarray, real: np.ndarray, embedder, *, batch_size: int) -> float:
    from privevo.evaluation.frechet import FeatureStats, frechet_distance

    stats = [FeatureStats.from_features(embedder.embed(images, batch_size=batch_size, progress=False))
             for images in (synthetic, real)]
    return frechet_distance(*stats)


def cleanfid_check(synthetic: np.ndarray, real: np.ndarray, *, weights: str | Path, device: str = "cpu",
                   batch_size: int = 128, embedder_factory: Callable[..., Any] | None = None,
                   cleanfid_folder: Callable[..., float] = cleanfid_folder_fid) -> dict:
    """Both FIDs of ``synthetic`` against ``real`` (uint8 NHWC arrays) and their difference, or a skipped record
    when clean-fid does not import. The weights file must exist (a missing one raises FileNotFoundError)."""
    from privevo.embedders.inception import InceptionEmbedder, find_inception_weights

    weights = find_inception_weights(weights)
    try:
        cleanfid_fid = import_cleanfid()
    except ImportError as exc:
        logger.warning("clean-fid does not import here (%s): cross-check skipped", exc)
        return skipped(f"clean-fid does not import on this machine ({exc}); it needs a working torchvision",
                       weights_file=weights.name)
    embedder = (embedder_factory or InceptionEmbedder)(weights_path=weights, device=device,
                                                       quantize_after_resize=False)
    ours = privevo_fid(synthetic, real, embedder, batch_size=batch_size)
    with tempfile.TemporaryDirectory(prefix="privevo-cleanfid-") as tmp:
        scratch = Path(tmp)
        synthetic_dir = write_png_folder(synthetic, scratch / "synthetic")
        real_dir = write_png_folder(real, scratch / "real")
        theirs = cleanfid_folder(cleanfid_fid, synthetic_dir, real_dir, weights=weights, device=device,
                                 batch_size=batch_size, scratch=scratch)
    difference = ours - theirs
    logger.info("FID: privevo %.4f, clean-fid %.4f (difference %.3g)", ours, theirs, difference)
    return {
        "status": "compared", "metric": "FID", "mode": CLEANFID_MODE,
        "privevo_fid": ours, "cleanfid_fid": theirs, "difference": difference,
        "relative_difference": abs(difference) / max(abs(theirs), 1e-12),
        "num_synthetic": int(len(synthetic)), "num_real": int(len(real)),
        "cleanfid_version": _version("clean-fid"), "weights_file": weights.name, "note": NOTE,
    }


def _version(distribution: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None
