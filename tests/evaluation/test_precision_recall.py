import numpy as np
import pytest

from privevo.evaluation.precision_recall import PRDC_METRICS, precision_recall


def test_identical_sets_score_full_precision_and_recall():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(300, 8))
    result = precision_recall(real, real.copy(), nearest_k=5)
    assert set(result) == set(PRDC_METRICS)
    assert result["precision"] == result["recall"] == result["coverage"] == 1.0


def test_a_collapsed_set_is_precise_but_has_no_recall():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(400, 4))
    collapsed = real[:1] + 1e-3 * rng.normal(size=(200, 4))  # every synthetic row on one private image
    result = precision_recall(real, collapsed, nearest_k=5)
    assert result["precision"] == 1.0 and result["recall"] < 0.05 and result["coverage"] < 0.05


def test_a_far_set_has_no_precision():
    rng = np.random.default_rng(2)
    real = rng.normal(size=(200, 4))
    result = precision_recall(real, real + 100.0, nearest_k=3)
    assert result["precision"] == 0.0 and result["density"] == 0.0


def test_subsampling_is_seeded_and_bad_shapes_fail():
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(500, 4)), rng.normal(size=(500, 4))
    a = precision_recall(real, fake, max_samples=100, rng=np.random.default_rng(7))
    b = precision_recall(real, fake, max_samples=100, rng=np.random.default_rng(7))
    assert a == b
    with pytest.raises(ValueError, match="one width"):
        precision_recall(real, fake[:, :3])
    with pytest.raises(ValueError, match="at least 3 rows"):
        precision_recall(real, fake[:2])
    small = precision_recall(real, fake[:6], nearest_k=5)  # k drops to 4: prdc's k-th neighbour counts the row
    assert set(small) == set(PRDC_METRICS)
