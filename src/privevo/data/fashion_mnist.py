"""Finding Fashion-MNIST's IDX files (the private set) and loading them as checked image sets."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from privevo.data.checks import DataSourceError, check_image_set
from privevo.data.idx import read_idx

logger = logging.getLogger(__name__)

# The data set declares its own classes (label k is the k-th name); nothing else in privevo assumes them.
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

FASHION_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FASHION_MNIST_EXPECTED_COUNTS = {"train": 60_000, "test": 10_000}
# Searched in this order when no directory is given; the first is relative to the working directory
# (where the Makefile extracts the Debian package with ``dpkg -x``).
FASHION_MNIST_SEARCH_DIRS = (
    Path("data/sources/fashion-mnist/usr/share/datasets/fashion-mnist"),
    Path("/usr/share/datasets/fashion-mnist"),
)
_DEB_SUBDIR = Path("usr/share/datasets/fashion-mnist")
FASHION_MNIST_HELP = (
    "Get them with one of:\n"
    "  sudo apt-get install dataset-fashion-mnist   (installs to /usr/share/datasets/fashion-mnist)\n"
    "  apt-get download dataset-fashion-mnist && dpkg -x dataset-fashion-mnist_*.deb data/sources/fashion-mnist"
    "   (no root needed)\n"
    "or pass a directory holding the standard IDX files (optionally gzipped) via the parameter "
    "data.fashion_mnist_dir."
)


def _candidate_dirs(source_dir: str | os.PathLike | None) -> list[Path]:
    if source_dir is None:
        return list(FASHION_MNIST_SEARCH_DIRS)
    base = Path(source_dir).expanduser()
    # Also accept the root of a ``dpkg -x`` extraction.
    return [base, base / _DEB_SUBDIR]


def find_idx(directory: Path, stem: str) -> Path | None:
    """``directory/stem`` or ``directory/stem.gz``, whichever is a file (the plain one first); else ``None``."""
    for name in (stem, stem + ".gz"):
        if (directory / name).is_file():
            return directory / name
    return None


def find_fashion_mnist_dir(source_dir: str | os.PathLike | None = None) -> Path:
    """The first directory holding all four Fashion-MNIST IDX files, or :class:`DataSourceError`."""
    candidates = _candidate_dirs(source_dir)
    stems = [stem for pair in FASHION_MNIST_FILES.values() for stem in pair]
    partial: list[str] = []
    for directory in candidates:
        if not directory.is_dir():
            continue
        missing = [stem for stem in stems if find_idx(directory, stem) is None]
        if not missing:
            return directory
        if len(missing) < len(stems):
            partial.append(f"{directory} lacks {', '.join(missing)}")
    searched = "\n".join(f"  {d.resolve() if not d.is_absolute() else d}" for d in candidates)
    detail = ("\nIncomplete directories: " + "; ".join(partial)) if partial else ""
    raise DataSourceError(
        "Fashion-MNIST not found: need the IDX files "
        + ", ".join(f"{s}[.gz]" for s in stems)
        + f".\nSearched:\n{searched}{detail}\n{FASHION_MNIST_HELP}"
    )


def load_fashion_mnist(source_dir: str | os.PathLike | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Fashion-MNIST as ``{"train": (images, labels), "test": (images, labels)}``.

    Images are uint8 ``(N, 28, 28, 1)``, labels int64 in 0..9. ``source_dir`` (or, when ``None``,
    :data:`FASHION_MNIST_SEARCH_DIRS` in order) must hold the standard IDX files, plain or gzipped.
    """
    directory = find_fashion_mnist_dir(source_dir)
    result: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for split, (image_stem, label_stem) in FASHION_MNIST_FILES.items():
        image_path = find_idx(directory, image_stem)
        label_path = find_idx(directory, label_stem)
        assert image_path is not None and label_path is not None
        images = read_idx(image_path)[..., None]  # IDX holds (N, 28, 28)
        labels = read_idx(label_path)
        check_image_set(
            images, labels, name=f"Fashion-MNIST {split} ({directory}: {image_path.name}, {label_path.name})",
            num_classes=len(FASHION_MNIST_CLASSES),
        )
        labels = labels.astype(np.int64)
        if images.shape[0] != FASHION_MNIST_EXPECTED_COUNTS[split]:
            logger.warning(
                "Fashion-MNIST %s in %s has %d images, not the standard %d",
                split, directory, images.shape[0], FASHION_MNIST_EXPECTED_COUNTS[split],
            )
        result[split] = (images, labels)
    logger.info(
        "loaded Fashion-MNIST from %s: %d train, %d test",
        directory, result["train"][0].shape[0], result["test"][0].shape[0],
    )
    return result
