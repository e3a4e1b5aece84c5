"""Loading a folder of class subfolders of PNGs (``root/<class name>/*.png``), or one flat folder of PNGs (an
unlabelled set, ``root/*.png``), as a checked image set."""

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


def image_folder_class_counts(root: str | os.PathLike, *, labelled: bool = True) -> dict[str, int]:
    """The number of PNGs of each class under ``root`` (``labelled`` false: of the one flat folder, under the key
    ""), from the file names alone: cheap enough to check a run's settings before any job reads a pixel."""
    root = Path(root).expanduser()
    if not labelled:
        return {"": len(_flat_image_files(root))}
    return {d.name: len(_image_files(d)) for d in _class_dirs(root)}


def _flat_image_files(root: Path) -> list[Path]:
    """The PNGs directly in ``root`` (an unlabelled set), sorted by name; class subfolders are refused."""
    if not root.is_dir():
        raise DataSourceError(f"image folder {root} not found: with data.labelled false, place the private PNGs "
                              f"directly in {root} (no class subfolders)")
    subfolders = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if subfolders:
        raise DataSourceError(f"{root} has subfolders ({', '.join(subfolders[:5])}{', ...' if len(subfolders) > 5 else ''})"
                              f" but data.labelled is false: set data.labelled true for class subfolders, or place "
                              f"the images directly in {root}")
    entries = [p for p in root.iterdir() if p.is_file() and not p.name.startswith(".")]
    files = sorted((p for p in entries if p.suffix.lower() in IMAGE_SUFFIXES), key=lambda p: p.name)
    if len(entries) > len(files):
        logger.warning("%s: ignored %d file(s) that are not %s", root, len(entries) - len(files), "/".join(IMAGE_SUFFIXES))
    if not files:
        raise DataSourceError(f"image folder {root} holds no PNG files: with data.labelled false, place the private "
                              f"*.png images directly there")
    return files


def image_folder_shape(root: str | os.PathLike, *, labelled: bool = True) -> tuple[int, int, int]:
    """(H, W, C) of the image folder at ``root``, read from its first class's first image only (``labelled``
    false: the first PNG of the flat folder)."""
    root = Path(root).expanduser()
    first = _image_files(_class_dirs(root)[0])[0] if labelled else _flat_image_files(root)[0]
    image = _read_image(first, None)
    return image.size[1], image.size[0], 1 if image.mode == "L" else 3


def _read_checked(files: list[Path], target: tuple[int, int] | None) -> np.ndarray:
    """``files`` as one uint8 NHWC array: one mode and (unless resized) one size, else the first offender named."""
    arrays: list[np.ndarray] = []
    first: tuple[Path, str, tuple[int, int]] | None = None
    for path in files:
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
    return np.stack(arrays)


def load_flat_image_folder(root: str | os.PathLike, *, size: int | tuple[int, int] | None = None) -> np.ndarray:
    """The PNGs directly in ``root`` (an unlabelled set: no class subfolders) as uint8 NHWC, in sorted file-name
    order, with :func:`load_image_folder`'s mode and size rules."""
    root = Path(root).expanduser()
    images = _read_checked(_flat_image_files(root), _normalize_size(size))
    check_image_set(images, None, name=f"image folder {root}", shape=tuple(images.shape[1:]))
    # The count of a private folder is a private fact: it goes to data_manifest.json (labelled private), not the log.
    logger.info("loaded the unlabelled images of %s", root)
    return images


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
    per_class = [_image_files(class_dir) for class_dir in class_dirs]
    images = _read_checked([path for files in per_class for path in files], target)
    labels = [label for label, files in enumerate(per_class) for _ in files]
    label_array = np.asarray(labels, dtype=np.int64)
    class_names = [d.name for d in class_dirs]
    check_image_set(images, label_array, name=f"image folder {root}", num_classes=len(class_names),
                    shape=tuple(images.shape[1:]))
    # The counts of a private folder are private facts: they go to data_manifest.json (labelled private), not the log.
    logger.info("loaded the images of %d classes from %s", len(class_names), root)
    return images, label_array, class_names
