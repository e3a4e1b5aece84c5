"""The error every data source raises, and the check every image set passes (over privevo.io.images)."""

from __future__ import annotations

import numpy as np

from privevo.io.images import ArtifactError, check_images, check_labels

# All sets are uint8 NHWC (N, 28, 28, 1); labels are int64.
IMAGE_SHAPE = (28, 28, 1)


class DataSourceError(ValueError):
    """A data source is missing, malformed or does not hold what it should."""


def check_image_set(
    images: np.ndarray,
    labels: np.ndarray | None,
    *,
    name: str,
    num_classes: int | None = None,
    shape: tuple[int, ...] = IMAGE_SHAPE,
) -> None:
    """Check a non-empty set: uint8 images of ``(N, *shape)``, integer labels (if any) in ``0..num_classes-1``.

    The checks are :func:`privevo.io.images.check_images` and :func:`~privevo.io.images.check_labels`;
    their :class:`~privevo.io.images.ArtifactError` comes back as a :class:`DataSourceError` naming the set.
    """
    try:
        check_images(images, name=name, shape=shape, allow_empty=False)
        if labels is not None:
            check_labels(labels, num_images=images.shape[0], num_classes=num_classes, name=name)
    except ArtifactError as exc:
        raise DataSourceError(str(exc)) from exc
