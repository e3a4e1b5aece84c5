import numpy as np
import pytest

from privevo.evaluation.inspect import effective_sample_size, histogram_summary
from privevo.evaluation.fd_curve import (ALL_CLASSES, fd_curve_frame, load_stats,
                                population_distances, reference_stats, save_stats)


def test_effective_sample_size_extremes():
    assert effective_sample_size(np.ones(50)) == pytest.approx(50)
    assert effective_sample_size(np.array([0.0, 7.0, 0.0])) == pytest.approx(1)
    assert effective_sample_size(np.zeros(4)) == 0.0


def test_histogram_summary_per_class():
    histogram = {
        "candidate_id": np.arange(6),
        "labels": np.array([0, 0, 0, 1, 1, 1]),
        "noisy_count": np.array([10.0, 2.0, -1.0, 5.0, 5.0, 5.0]),
        "thresholded_count": np.array([8.0, 0.0, 0.0, 3.0, 3.0, 3.0]),
    }
    summary = histogram_summary(histogram, top=2).set_index("class")
    assert summary.loc[0, "zeroed_fraction"] == pytest.approx(2 / 3)
    assert summary.loc[0, "effective_sample_size"] == pytest.approx(1.0)
    assert summary.loc[1, "effective_sample_size"] == pytest.approx(3.0)
    assert summary.loc[0, "top_share"] == pytest.approx(1.0)
    assert summary.loc[0, "top_candidates"].startswith("0:10.0 1:2.0")
    assert summary.loc[1, "noisy_total"] == pytest.approx(15.0)


def test_reference_stats_round_trip_and_self_distance(tmp_path):
    rng = np.random.default_rng(0)
    features = rng.normal(size=(400, 8))
    labels = np.repeat(np.arange(4), 100)
    stats = reference_stats(features, labels)
    save_stats(tmp_path / "ref.npz", stats)
    loaded = load_stats(tmp_path / "ref.npz")
    assert set(loaded) == {ALL_CLASSES, "0", "1", "2", "3"}
    distances = population_distances(features, labels, loaded)
    assert all(v == pytest.approx(0.0, abs=1e-8) for v in distances.values())
    shifted = population_distances(features + 1.0, labels, loaded)
    assert shifted[ALL_CLASSES] == pytest.approx(8.0, rel=1e-6)  # ||mu shift||^2 = 8 * 1^2


def test_fd_curve_frame_is_long_format():
    frame = fd_curve_frame({0: {"all": 3.0, "0": 4.0}, 1: {"all": 2.0, "0": 1.0}}, "FD-Lite0")
    assert list(frame.columns) == ["iteration", "class", "metric", "value"]
    assert frame.query("iteration == 1 and `class` == 'all'")["value"].item() == 2.0
