"""Loading CIFAR-10 from its python pickle batches (``cifar-10-batches-py``) as checked image sets."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from privevo.data.checks import DataSourceError, check_image_set
from privevo.data.pickled import load_numpy_pickle

logger = logging.getLogger(__name__)

CIFAR10_DIRNAME = "cifar-10-batches-py"
CIFAR10_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST_BATCH = "test_batch"
CIFAR10_META = "batches.meta"
CIFAR10_FILES = (*CIFAR10_TRAIN_BATCHES, CIFAR10_TEST_BATCH, CIFAR10_META)
CIFAR10_IMAGE_SHAPE = (32, 32, 3)
# The data set declares its classes (batches.meta's label_names, in label order), so a run can be planned before
# the files are there.
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR10_NUM_CLASSES = len(CIFAR10_CLASSES)
CIFAR10_EXPECTED_COUNTS = {"train": 50_000, "test": 10_000}
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


def find_cifar10_dir(source_dir: str | os.PathLike) -> Path:
    """The folder holding CIFAR-10's batches: ``source_dir`` itself or its ``cifar-10-batches-py``.

    Either the extracted folder or the folder the archive was extracted in is accepted; anything
    else is a one-line :class:`DataSourceError` saying what to place where.
    """
    base = Path(source_dir).expanduser()
    for directory in (base, base / CIFAR10_DIRNAME):
        if (directory / CIFAR10_TRAIN_BATCHES[0]).is_file():
            missing = [name for name in CIFAR10_FILES if not (directory / name).is_file()]
            if missing:
                raise DataSourceError(
                    f"CIFAR-10 in {directory} is incomplete: missing {', '.join(missing)}; "
                    f"re-extract {CIFAR10_URL} there so that all of {', '.join(CIFAR10_FILES)} exist"
                )
            return directory
    # The archive holds the folder, so extracting it in ``base`` gives base/cifar-10-batches-py/data_batch_1.
    raise DataSourceError(
        f"CIFAR-10 not found in {base}: download {CIFAR10_URL} and extract it with "
        f"'tar -xzf cifar-10-python.tar.gz -C {base}' so that {base / CIFAR10_DIRNAME / CIFAR10_TRAIN_BATCHES[0]} "
        f"exists (or pass the {CIFAR10_DIRNAME} folder itself)"
    )


def _field(record: object, key: str, path: Path) -> object:
    """``record[b"key"]`` (Python 2 pickles, as distributed) or ``record["key"]`` (re-pickled by Python 3)."""
    if not isinstance(record, dict):
        raise DataSourceError(f"{path}: expected a pickled dict, got {type(record).__name__}")
    for candidate in (key.encode("ascii"), key):
        if candidate in record:
            return record[candidate]
    raise DataSourceError(f"{path}: no {key!r} entry (found {sorted(map(repr, record))})")


def read_cifar10_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file as uint8 NHWC images ``(N, 32, 32, 3)`` and int64 labels in 0..9."""
    batch = load_numpy_pickle(path, encoding="bytes")
    data = _field(batch, "data", path)
    labels = np.asarray(_field(batch, "labels", path))
    size = int(np.prod(CIFAR10_IMAGE_SHAPE))
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != size:
        raise DataSourceError(
            f"{path}: 'data' must be a uint8 array of shape (N, {size}); "
            f"got {getattr(data, 'dtype', type(data).__name__)} {getattr(data, 'shape', '')}"
        )
    if labels.ndim != 1 or (labels.size and not np.issubdtype(labels.dtype, np.integer)):
        raise DataSourceError(f"{path}: 'labels' must be a list of ints; got {labels.dtype} of shape {labels.shape}")
    height, width, channels = CIFAR10_IMAGE_SHAPE
    # Each row is three planes (red, green, blue), each a row-major 32x32 image: CHW, hence the transpose.
    images = np.ascontiguousarray(data.reshape(-1, channels, height, width).transpose(0, 2, 3, 1))
    labels = labels.astype(np.int64)
    check_image_set(images, labels, name=f"CIFAR-10 {path}", num_classes=CIFAR10_NUM_CLASSES, shape=CIFAR10_IMAGE_SHAPE)
    return images, labels


def read_cifar10_label_names(path: Path) -> list[str]:
    """The ten class names in ``batches.meta`` (``label_names``), in label order."""
    names = _field(load_numpy_pickle(path, encoding="bytes"), "label_names", path)
    if not isinstance(names, list) or len(names) != CIFAR10_NUM_CLASSES:
        raise DataSourceError(f"{path}: 'label_names' must be a list of {CIFAR10_NUM_CLASSES} names; got {names!r}")
    try:
        return [name.decode("utf-8") if isinstance(name, bytes) else str(name) for name in names]
    except UnicodeDecodeError as exc:
        raise DataSourceError(f"{path}: 'label_names' are not UTF-8 text ({exc})") from exc


def load_cifar10(
    source_dir: str | os.PathLike,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray], list[str]]:
    """CIFAR-10 as ``(train_images, train_labels), (test_images, test_labels), class_names``.

    Images are uint8 ``(N, 32, 32, 3)``, labels int64 in 0..9 indexing ``class_names``. ``source_dir``
    is the extracted ``cifar-10-batches-py`` folder or the folder holding it (see :func:`find_cifar10_dir`).
    The pickles are read by an unpickler that refuses every global but numpy's array ones.
    """
    directory = find_cifar10_dir(source_dir)
    splits = {"train": CIFAR10_TRAIN_BATCHES, "test": (CIFAR10_TEST_BATCH,)}
    result: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for split, names in splits.items():
        batches = [read_cifar10_batch(directory / name) for name in names]
        images = np.concatenate([images for images, _ in batches])
        labels = np.concatenate([labels for _, labels in batches])
        if images.shape[0] != CIFAR10_EXPECTED_COUNTS[split]:
            logger.warning(
                "CIFAR-10 %s in %s has %d images, not the standard %d",
                split, directory, images.shape[0], CIFAR10_EXPECTED_COUNTS[split],
            )
        result[split] = (images, labels)
    class_names = read_cifar10_label_names(directory / CIFAR10_META)
    logger.info(
        "loaded CIFAR-10 from %s: %d train, %d test", directory, result["train"][0].shape[0], result["test"][0].shape[0]
    )
    return result["train"], result["test"], class_names
