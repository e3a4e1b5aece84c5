"""Loading a folder of class subfolders of PNGs (``root/<class name>/*.png``) as a checked image set."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
from PIL import Image

from privevo.data.checks import DataSourceError, check_image_set

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png",)
# The mode rule: grey stays grey (C=1), colour becomes RGB (C=3). Alpha is dropped, not composited
# over a background, and a palette is expanded to RGB even when its colours are grey.
# 16-bit and float modes ("I;16", "I", "F") are refused: PIL's conversion to 8 bits clips them.
_GREY_MODES = {"L": "L", "1": "L", "LA": "L"}
_COLOUR_MODES = {"RGB": "RGB", "RGBA": "RGB", "RGBX": "RGB", "P": "RGB", "PA": "RGB", "CMYK": "RGB", "YCbCr": "RGB"}
_MODE_RULE = "L, 1 and LA load as grey; RGB, RGBA, P (palette), CMYK and YCbCr load as RGB"


def _class_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        raise DataSourceError(
            f"image folder {root} not found: place one subfolder per class there, holding that class's PNGs "
            f"({root}/<class name>/*.png)"
        )
    # Hidden folders (.ipynb_checkpoints, .git) are not classes.
    dirs = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)
    if not dirs:
        raise DataSourceError(f"{root} has no class subfolders: place each class's PNGs in {root}/<class name>/")
    return dirs


def _image_files(class_dir: Path) -> list[Path]:
    entries = [p for p in class_dir.iterdir() if p.is_file() and not p.name.startswith(".")]
    files = sorted((p for p in entries if p.suffix.lower() in IMAGE_SUFFIXES), key=lambda p: p.name)
    skipped = len(entries) - len(files)
    if skipped:
        logger.warning("%s: ignored %d file(s) that are not %s", class_dir, skipped, "/".join(IMAGE_SUFFIXES))
    if not files:
        raise DataSourceError(f"class folder {class_dir} holds no PNG files: place that class's *.png images there")
    return files


def _normalize_size(size: int | tuple[int, int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    height, width = (size, size) if isinstance(size, int) else tuple(size)
    if int(height) < 1 or int(width) < 1:
        raise ValueError(f"size must be positive, got {size!r}")
    return int(height), int(width)


def _read_image(path: Path, size: tuple[int, int] | None) -> Image.Image:
    """``path`` in its load mode (see :data:`_MODE_RULE`), resized bicubically to ``size`` (H, W) if given."""
    try:
        with Image.open(path) as opened:
            opened.load()
            image = opened.copy()  # detached from the file, which the with-block closes
    except (OSError, ValueError, Image.DecompressionBombError) as exc:  # UnidentifiedImageError is an OSError
        raise DataSourceError(f"{path}: cannot read the image ({exc})") from exc
    mode = _GREY_MODES.get(image.mode) or _COLOUR_MODES.get(image.mode)
    if mode is None:
        raise DataSourceError(f"{path}: unsupported image mode {image.mode!r} ({_MODE_RULE})")
    image = image.convert(mode)
    if size is not None:
        height, width = size
        image = image.resize((width, height), Image.Resampling.BICUBIC)  # PIL sizes are (W, H)
    return image


def image_folder_class_names(root: str | os.PathLike) -> list[str]:
    """The class names under ``root`` (its subfolders, sorted: label k is the k-th), without reading images."""
    return [d.name for d in _class_dirs(Path(root).expanduser())]


def image_folder_shape(root: str | os.PathLike) -> tuple[int, int, int]:
    """(H, W, C) of the image folder at ``root``, read from its first class's first image only."""
    image = _read_image(_image_files(_class_dirs(Path(root).expanduser())[0])[0], None)
    return image.size[1], image.size[0], 1 if image.mode == "L" else 3


def load_image_folder(
    root: str | os.PathLike, *, size: int | tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The PNGs under ``root/<class name>/`` as ``images, labels, class_names``.

    Classes are the subfolders sorted by name, labelled 0..K-1 in that order; images within a class
    are read in sorted file-name order. Images are uint8 NHWC: grey modes give C=1, colour modes C=3
    (alpha dropped, palettes expanded; see :data:`_MODE_RULE`). All images must load in one mode
    and, unless ``size`` is given, share one size; otherwise the first offending file is named.
    ``size`` (an int for a square, or ``(height, width)``) resizes every image with PIL's bicubic
    filter, so then the original sizes may differ.
    """
    root = Path(root).expanduser()
    target = _normalize_size(size)
    class_dirs = _class_dirs(root)
    arrays: list[np.ndarray] = []
    labels: list[int] = []
    first: tuple[Path, str, tuple[int, int]] | None = None
    for label, class_dir in enumerate(class_dirs):
        for path in _image_files(class_dir):
            image = _read_image(path, target)
            if first is None:
                first = (path, image.mode, image.size)
            elif image.mode != first[1]:
                raise DataSourceError(
                    f"{path} loads as {image.mode} but {first[0]} as {first[1]}: all images must be grey "
                    f"or all colour ({_MODE_RULE})"
                )
            elif image.size != first[2]:
                raise DataSourceError(
                    f"{path} is {image.size[0]}x{image.size[1]} (WxH) but {first[0]} is {first[2][0]}x{first[2][1]}: "
                    "all images must share one size (or pass size= to resize them)"
                )
            array = np.asarray(image, dtype=np.uint8)
            arrays.append(array[..., None] if array.ndim == 2 else array)
            labels.append(label)
    images = np.stack(arrays)
    label_array = np.asarray(labels, dtype=np.int64)
    class_names = [d.name for d in class_dirs]
    check_image_set(images, label_array, name=f"image folder {root}", num_classes=len(class_names),
                    shape=tuple(images.shape[1:]))
    logger.info("loaded %d images of %d classes from %s", len(labels), len(class_names), root)
    return images, label_array, class_names
