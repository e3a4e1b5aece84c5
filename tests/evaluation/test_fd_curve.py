import numpy as np
import pytest

from privevo.evaluation.inspect import effective_sample_size, histogram_summary, selection_sensitivity
from privevo.evaluation.fd_curve import (ALL_CLASSES, equal_size_rows, fd_curve_frame, load_stats,
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


def test_selection_sensitivity_grows_with_the_noise_and_shrinks_with_more_draws():
    noisy = np.random.default_rng(1).gamma(4.0, 25.0, size=200)  # about 100 votes per candidate, as at N = 200
    tvs = [selection_sensitivity(noisy, threshold=21.0, noise_multiplier=s, num_draws=200)[0]
           for s in (0.0, 1.41, 10.55, 37.6)]
    assert tvs[0] == pytest.approx(0.0) and tvs == sorted(tvs) and tvs[-1] < 1
    draw_tvs = [selection_sensitivity(noisy, threshold=21.0, noise_multiplier=1.0, num_draws=n)[1]
                for n in (50, 200, 5000)]
    assert draw_tvs == sorted(draw_tvs, reverse=True)
    assert selection_sensitivity(noisy, threshold=21.0, noise_multiplier=10.55, num_draws=200) == \
        selection_sensitivity(noisy, threshold=21.0, noise_multiplier=10.55, num_draws=200)


def test_histogram_summary_reports_the_noise_against_the_selection_draws():
    rng = np.random.default_rng(2)
    noisy = rng.gamma(4.0, 25.0, size=400)
    histogram = {"candidate_id": np.arange(400), "labels": np.repeat([0, 1], 200), "noisy_count": noisy,
                 "thresholded_count": np.maximum(noisy - 21.0, 0), "selected_count": np.full(400, 1),
                 "noise_multiplier": np.array(10.55), "threshold": np.array(21.0)}
    summary = histogram_summary(histogram).set_index("class")
    assert summary.loc[0, "mean_count_over_sigma"] == pytest.approx(noisy[:200].mean() / 10.55)
    # At about 100 votes per candidate, sigma 10.55 moves P_t far less than 200 draws from it do.
    assert (summary["noise_tv"] < summary["draw_tv"]).all()


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


def test_populations_of_different_sizes_are_compared_at_the_smallest():
    labels = np.repeat(np.arange(3), [10, 4, 7])
    rows = equal_size_rows(labels, 4, seed=0, iteration=2)
    assert np.bincount(labels[rows]).tolist() == [4, 4, 4] and len(set(rows)) == 12
    assert rows.tolist() == equal_size_rows(labels, 4, seed=0, iteration=2).tolist()  # seeded: reruns agree
    assert rows.tolist() != equal_size_rows(labels, 4, seed=0, iteration=3).tolist()
    assert equal_size_rows(labels, 10, seed=0, iteration=0).tolist() == list(range(21))  # no class above: all rows


def test_a_one_image_class_has_no_per_class_reference_and_no_per_class_fd():
    """Small classes run (issue 40): a class of one private image cannot have a covariance, so it is left out of
    the per-class FD instead of stopping the evaluation."""
    import numpy as np

    from privevo.evaluation.fd_curve import population_distances, reference_stats

    rng = np.random.default_rng(0)
    embeddings, labels = rng.normal(size=(21, 3)), np.array([0] * 20 + [1])
    reference = reference_stats(embeddings, labels)
    assert set(reference) == {"all", "0"}
    distances = population_distances(rng.normal(size=(10, 3)), np.repeat([0, 1], 5), reference)
    assert set(distances) == {"all", "0"}
