"""pe.histogram_threshold_reference_epsilon: H matched per class to a reference epsilon's noise, from the noisy
counts only, so that a larger epsilon selects from as wide a set as the reference."""

import json

import numpy as np
import pytest
import yaml

from privevo.cli import main
from privevo.config.layout import Layout
from privevo.config.triggers import rule_settings
from privevo.config.params import load_params, settings_at_epsilon
from privevo.io.artifacts import load_npz, save_images
from privevo.pe.histogram import matched_threshold
from privevo.pe.loop import select_parents
from privevo.reports.privacy import privacy_report

from conftest import ROOT


def test_at_or_above_the_reference_noise_h_is_unchanged():
    counts = np.array([0.0, 3.0, 25.0, 40.0])
    for sigma in (10.0, 12.0):
        assert matched_threshold(counts, threshold=21.0, noise_multiplier=sigma, reference_noise_multiplier=10.0) == 21.0


def test_golden_value_and_the_expected_zeroed_share():
    """Two counts at H - 1 sigma_extra and two at H + 1 sigma_extra: half are zeroed in expectation, so H' is the
    median of the counts. sigma_extra = sqrt(5^2 - 3^2) = 4."""
    counts = np.array([17.0, 17.0, 25.0, 25.0])
    assert matched_threshold(counts, threshold=21.0, noise_multiplier=3.0,
                             reference_noise_multiplier=5.0) == pytest.approx(21.0)
    # A long tail under H: extra noise lifts some of them, so fewer are zeroed and H' falls below H.
    rng = np.random.default_rng(0)
    clean = rng.exponential(6.0, 2000)
    noisy = clean + rng.normal(0.0, 1.7, clean.shape)
    matched = matched_threshold(noisy, threshold=21.0, noise_multiplier=1.7, reference_noise_multiplier=10.55)
    assert matched < 21.0
    simulated = np.mean([np.mean(clean + rng.normal(0.0, 10.55, clean.shape) <= 21.0) for _ in range(100)])
    assert np.mean(noisy <= matched) == pytest.approx(simulated, abs=0.01)
    assert np.mean(noisy <= 21.0) > simulated + 0.05  # the fixed H zeroes clearly more at the smaller noise


def test_negative_h_is_refused():
    with pytest.raises(ValueError, match="histogram_threshold"):
        matched_threshold(np.ones(3), threshold=-1.0, noise_multiplier=1.0, reference_noise_multiplier=2.0)


def test_select_parents_applies_each_class_its_own_matched_h():
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], 50)
    noisy = np.concatenate([rng.exponential(4.0, 50), rng.exponential(12.0, 50)])
    select = dict(noise_multiplier=1.0, threshold=10.0, selection="proportional", num_samples_per_class=20,
                  iteration=1, seed=0)
    frame, _ = select_parents(noisy, labels, reference_noise_multiplier=8.0, **select)
    per_class = frame.groupby("class")["threshold"].agg(["min", "max"])
    assert (per_class["min"] == per_class["max"]).all()  # one H per class
    assert per_class.loc[0, "min"] != per_class.loc[1, "min"]
    for c in (0, 1):
        rows = frame[frame["class"] == c]
        h = matched_threshold(rows["noisy_count"].to_numpy(), threshold=10.0, noise_multiplier=1.0,
                              reference_noise_multiplier=8.0)
        assert rows["threshold"].iloc[0] == pytest.approx(h)
        np.testing.assert_allclose(rows["thresholded_count"], np.maximum(rows["noisy_count"] - h, 0.0))
    fixed, _ = select_parents(noisy, labels, **select)
    assert (fixed["threshold"] == 10.0).all()


@pytest.fixture
def smoke():
    return yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())


def _params(tmp_path, raw, **pe):
    raw = {**raw, "pe": {**raw["pe"], **pe}}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_params(path)


def test_a_null_reference_keeps_the_run_folder_and_a_number_moves_it(smoke, tmp_path):
    null = _params(tmp_path, smoke)
    matched = _params(tmp_path, smoke, histogram_threshold_reference_epsilon=1.0)
    assert null["pe"]["histogram_threshold_reference_epsilon"] is None
    # config/smoke.yaml's folder since exact noise and keyed-hash membership (issue 40 changed the mechanism and the
    # data split, so its runs must not mix with the continuous-noise folder 9de61650 of 085fbb2).
    assert Layout(load_params(ROOT / "config" / "smoke.yaml")).keys["run"] == "default-4e01cbe5/seed_0/eps_1"
    assert Layout(null).keys["run"] != Layout(matched).keys["run"]
    assert "reference_epsilon" not in rule_settings(null, "pe_histogram")
    assert rule_settings(matched, "pe_histogram")["reference_epsilon"] == 1.0


def test_a_by_epsilon_entry_sets_the_reference_at_one_epsilon_only(smoke, tmp_path):
    params = _params(tmp_path, smoke, by_epsilon=[{"epsilon": 10, "histogram_threshold_reference_epsilon": 1.0}])
    at = lambda eps: settings_at_epsilon({**params, "privacy": {**params["privacy"], "epsilon": eps}})
    assert at(10)["pe"]["histogram_threshold_reference_epsilon"] == 1.0
    assert at(1)["pe"]["histogram_threshold_reference_epsilon"] is None


def test_a_non_positive_reference_is_named_in_one_line(smoke, tmp_path):
    raw = {**smoke, "pe": {**smoke["pe"], "histogram_threshold_reference_epsilon": 0}}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(Exception, match="histogram_threshold_reference_epsilon"):
        load_params(path)


def test_the_privacy_report_states_the_rule(smoke, tmp_path):
    calibration = {"epsilon": 10.0, "delta": 1e-5, "noise_multiplier": 2.0, "num_iterations": 3, "accountant": "pld",
                   "accountant_description": "", "sensitivity_l2": 1.0, "neighbouring": "add/remove",
                   "mechanism": "discrete_gaussian"}
    fixed = privacy_report(_params(tmp_path, smoke), calibration, num_synthetic=10)
    matched = privacy_report(_params(tmp_path, smoke, histogram_threshold_reference_epsilon=1.0), calibration,
                             num_synthetic=10)
    assert "in every class and iteration" in fixed["histogram_threshold_rule"]
    assert "matched to epsilon 1" in matched["histogram_threshold_rule"]
    assert "post-processing" in matched["histogram_threshold_rule"]


def test_the_histogram_step_records_the_matched_h_per_class(smoke, tmp_path, capsys):
    """The CLI solves the reference's sigma with the accountant and writes each class's H next to its counts."""
    smoke["pe"].update(num_samples_per_class=20, num_iterations=3, lookahead_degree=2, histogram_threshold=2.0,
                       histogram_threshold_unit="count", histogram_threshold_reference_epsilon=1.0,
                       selection="proportional")
    smoke["privacy"].update(epsilon=10.0)
    params_path = tmp_path / "params.yaml"
    params_path.write_text(yaml.safe_dump(smoke))
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(10), 20)
    save_images(tmp_path / "candidates.npz", np.zeros((200, 4, 4, 1), np.uint8), labels)
    np.save(tmp_path / "lookahead.npy", rng.normal(size=(200, 5)).astype(np.float32))
    np.save(tmp_path / "private.npy", rng.normal(size=(3000, 5)).astype(np.float32))
    np.save(tmp_path / "private_labels.npy", np.repeat(np.arange(10), 300))
    (tmp_path / "calibration.json").write_text(json.dumps({"noise_multiplier": 0.5, "mechanism": "discrete_gaussian"}))
    out = tmp_path / "iter_001"
    assert main(["pe-histogram", "--params", str(params_path), "--iteration", "1",
                 "--private-embeddings", str(tmp_path / "private.npy"),
                 "--private-labels", str(tmp_path / "private_labels.npy"),
                 "--candidates", str(tmp_path / "candidates.npz"), "--lookahead", str(tmp_path / "lookahead.npy"),
                 "--calibration", str(tmp_path / "calibration.json"), "--out-dir", str(out)]) == 0
    histogram = load_npz(out / "histogram.npz")
    assert float(histogram["threshold"]) == 2.0
    from privevo.config.privacy import reference_noise_multiplier

    # The reference's sigma is solved for the mechanism the run draws (exact), not the continuous one.
    reference_sigma = reference_noise_multiplier(load_params(params_path, at_epsilon=True))
    for c in range(10):
        mask = histogram["labels"] == c
        expected = matched_threshold(histogram["noisy_count"][mask], threshold=2.0, noise_multiplier=0.5,
                                     reference_noise_multiplier=reference_sigma)
        assert histogram["candidate_threshold"][mask] == pytest.approx(np.full(mask.sum(), expected))
    assert "threshold" in (out / "histogram.csv").read_text().splitlines()[0]
    capsys.readouterr()
    assert main(["inspect", str(out), "--plot", str(tmp_path / "counts.png")]) == 0
    assert "matched per class" in capsys.readouterr().out
    assert (tmp_path / "counts.png").stat().st_size > 1000


def test_the_h_reported_is_the_h_applied_with_unit_sigma_below_the_reference(smoke, tmp_path):
    """Before issue 40, unit sigma at epsilon 0.5 with reference epsilon 1 applied H x sigma_ref (21.1) while
    privacy.json reported H x sigma (39.8). One function now gives both."""
    from privevo.accountants.gdp import calibrate
    from privevo.config.privacy import calibration_arguments

    smoke["pe"].update(num_samples_per_class=20, num_iterations=3, histogram_threshold=2.0,
                       histogram_threshold_unit="sigma", histogram_threshold_reference_epsilon=1.0,
                       selection="proportional", variation_degrees=[0.9, 0.6, 0.3])
    smoke["privacy"].update(epsilon=0.5)
    params_path = tmp_path / "params.yaml"
    params_path.write_text(yaml.safe_dump(smoke))
    params = load_params(params_path, at_epsilon=True)
    calibration = calibrate(epsilon=0.5, delta=params["privacy"]["delta"], num_iterations=3, cross_check=False,
                            **calibration_arguments(params))
    (tmp_path / "calibration.json").write_text(json.dumps(calibration))
    rng = np.random.default_rng(4)
    labels = np.repeat(np.arange(10), 20)
    save_images(tmp_path / "candidates.npz", np.zeros((200, 4, 4, 1), np.uint8), labels)
    np.save(tmp_path / "lookahead.npy", rng.normal(size=(200, 5)).astype(np.float32))
    np.save(tmp_path / "private.npy", rng.normal(size=(3000, 5)).astype(np.float32))
    np.save(tmp_path / "private_labels.npy", np.repeat(np.arange(10), 300))
    assert main(["pe-histogram", "--params", str(params_path), "--iteration", "1",
                 "--private-embeddings", str(tmp_path / "private.npy"),
                 "--private-labels", str(tmp_path / "private_labels.npy"),
                 "--candidates", str(tmp_path / "candidates.npz"), "--lookahead", str(tmp_path / "lookahead.npy"),
                 "--calibration", str(tmp_path / "calibration.json"), "--out-dir", str(tmp_path / "iter_001")]) == 0
    applied = float(load_npz(tmp_path / "iter_001" / "histogram.npz")["threshold"])
    reported = privacy_report(params, calibration, num_synthetic=10)["histogram_threshold"]
    assert reported == pytest.approx(applied, rel=1e-12)
    assert applied < 2.0 * calibration["noise_multiplier"]  # H x sigma_ref, the reference's (smaller) noise
