"""The release: S_T plus variations of it up to pe.release_size per class (post-processing of S_T)."""

import numpy as np
import pytest

from privevo.apis.simulator import GarmentSimulatorAPI
from privevo.pe.loop import expand_release, initial_population_with_state


class ShiftAPI:
    """A stand-in VARIATION_API: adds (degree * 100) to every pixel, so children are told apart from parents."""

    def variation(self, images, *, degree, seed, desc=""):
        return (images.astype(int) + int(degree * 100)).clip(0, 255).astype(np.uint8)


def population(per_class=3):
    labels = np.repeat(np.arange(10), per_class)
    images = np.zeros((len(labels), 4, 4, 1), np.uint8)
    images[:, 0, 0, 0] = np.arange(len(labels))  # identity of each candidate
    return images, labels


def test_release_keeps_the_candidates_and_adds_balanced_children():
    images, labels = population()
    out, out_labels, parents, state = expand_release(ShiftAPI(), images, labels, per_class=8, degree=0.5, seed=0)
    assert out.shape == (80, 4, 4, 1) and state is None
    assert np.bincount(out_labels).tolist() == [8] * 10
    for c in range(10):
        rows = np.flatnonzero(out_labels == c)
        np.testing.assert_array_equal(out[rows[:3]], images[labels == c])  # the candidates come first, unchanged
        assert np.all(labels[parents[rows]] == c)
        children = parents[rows[3:]]
        assert sorted(np.bincount(children - 3 * c, minlength=3)) == [1, 2, 2]  # round-robin: 5 children over 3
        np.testing.assert_array_equal(out[rows[3:], 0, 0, 0], images[children, 0, 0, 0] + 50)
    again = expand_release(ShiftAPI(), images, labels, per_class=8, degree=0.5, seed=0)
    np.testing.assert_array_equal(again[2], parents)
    assert not np.array_equal(expand_release(ShiftAPI(), images, labels, per_class=8, degree=0.5, seed=1)[2], parents)


def test_release_size_below_the_population_is_refused():
    images, labels = population()
    with pytest.raises(ValueError, match="release_size"):
        expand_release(ShiftAPI(), images, labels, per_class=2, degree=0.5, seed=0)


def test_a_stateful_api_varies_the_carried_parameters():
    api = GarmentSimulatorAPI()
    images, labels, state = initial_population_with_state(api, classes=list(range(10)), num_samples_per_class=2, seed=0)
    out, out_labels, parents, out_state = expand_release(api, images, labels, per_class=5, degree=0.3, seed=0,
                                                         state=state)
    assert out.shape == (50, 28, 28, 1) and out_state.shape == (50, state.shape[1])
    np.testing.assert_array_equal(out_state[:2], state[:2])
    assert not np.array_equal(out_state[2], state[parents[2]])  # a child's parameters moved
