"""Tests of privevo.data.check_image_set: the data sets' check over privevo.io.images' one validator."""

from __future__ import annotations

import numpy as np
import pytest

from privevo.data import DataSourceError, check_image_set
from privevo.io.images import ArtifactError


def test_check_image_set_accepts_a_good_set():
    check_image_set(np.zeros((4, 28, 28, 1), np.uint8), np.array([0, 1, 2, 9]), name="ok", num_classes=10)
    check_image_set(np.zeros((4, 28, 28, 1), np.uint8), None, name="unlabelled")
    check_image_set(np.zeros((4, 28, 28, 1), np.uint8), np.array([0, 7, 99, 3]), name="any ids")


@pytest.mark.parametrize(
    "images, labels, match",
    [
        ([[0]], None, "numpy"),
        (np.zeros((4, 28, 28, 1), np.float32), np.zeros(4, np.int64), "uint8"),
        (np.zeros((4, 28, 28), np.uint8), np.zeros(4, np.int64), "shape"),
        (np.zeros((4, 32, 32, 1), np.uint8), np.zeros(4, np.int64), "shape"),
        (np.zeros((4, 28, 28, 3), np.uint8), np.zeros(4, np.int64), "shape"),
        (np.zeros((4, 28, 28, 1), np.uint8), np.array([0, 1, 2, 10]), "0..9"),
        (np.zeros((4, 28, 28, 1), np.uint8), np.array([0, -1, 2, 3]), "0..9"),
        (np.zeros((4, 28, 28, 1), np.uint8), np.zeros(3, np.int64), r"expected 4 labels .*got shape \(3,\)"),
        (np.zeros((4, 28, 28, 1), np.uint8), np.zeros((4, 1), np.int64), r"1-D array, got shape \(4, 1\)"),
        (np.zeros((4, 28, 28, 1), np.uint8), np.zeros(4, np.float64), "integer"),
        (np.zeros((0, 28, 28, 1), np.uint8), None, "no images"),
    ],
)
def test_check_image_set_rejects(images, labels, match):
    with pytest.raises(DataSourceError, match=match) as info:
        check_image_set(images, labels, name="my-set", num_classes=10)
    assert str(info.value).startswith("my-set: ")
    assert isinstance(info.value.__cause__, ArtifactError)  # the one validator said it
