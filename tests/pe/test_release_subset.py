"""benchmarks/ablation/release_subset.py: the head of a larger release has the parents of a smaller release."""

import numpy as np
import pytest

from conftest import load_script
from privevo.pe.loop import expand_release
from test_release import ShiftAPI, population

SCRIPT = "benchmarks/ablation/release_subset.py"


def test_the_head_of_a_larger_release_is_the_smaller_release():
    images, labels = population()
    big, big_labels, big_parents, _ = expand_release(ShiftAPI(), images, labels, per_class=10, degree=0.5, seed=3)
    small, small_labels, small_parents, _ = expand_release(ShiftAPI(), images, labels, per_class=5, degree=0.5, seed=3)
    head = load_script(SCRIPT).release_head({"images": big, "labels": big_labels, "parents": big_parents}, 5)
    np.testing.assert_array_equal(head["labels"], small_labels)
    np.testing.assert_array_equal(head["parents"], small_parents)
    np.testing.assert_array_equal(head["images"], small)  # ShiftAPI has no noise of its own


def test_a_head_larger_than_a_class_is_refused():
    images, labels = population()
    with pytest.raises(ValueError, match="--per-class 4"):
        load_script(SCRIPT).release_head({"images": images, "labels": labels}, 4)
