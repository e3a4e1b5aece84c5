"""What the reports say about the noise: its source, and a loud warning when it is not a DP release."""

import jinja2
import pandas as pd
import pytest

from privevo.accountants.gdp import calibrate
from privevo.config.params import load_params
from privevo.config.privacy import calibration_arguments
from privevo.pe.noise import NOT_DP_WARNING
from privevo.reports.privacy import privacy_report
from privevo.reports.summary import run_metrics, summary_table

from conftest import ROOT


def _calibration(params):
    return calibrate(epsilon=1.0, delta=1e-5, num_iterations=8, cross_check=False, **calibration_arguments(params))


def report_for(**privacy):
    params = load_params(ROOT / "params.yaml")
    params["privacy"].update(privacy)
    return privacy_report(params, _calibration(params), num_synthetic=1000)


def test_default_report_names_the_exact_source_and_no_seed():
    report = report_for()
    assert report["is_dp_release"] is True and "warning" not in report
    assert report["noise"]["source"] == "discrete-gaussian-opendp" and report["noise"]["seed_stored"] is False
    assert report["noise"]["exact"] is True and "continuous_warning" not in report["noise"]
    assert report["events"] == [{"kind": "discrete_gaussian", "noise_multiplier": report["noise_multiplier"],
                                 "count": 8, "votes_per_sample": 10}]
    assert report["accountant"] == "pld" and report["discrete"]["zcdp_epsilon"] >= report["epsilon"]
    assert report["private_data"]["amplification_by_subsampling"] is False
    for key in ("epsilon", "delta", "noise_multiplier", "num_iterations", "accountant"):
        assert key in report


def test_the_continuous_sampler_is_named_and_warned_about():
    report = report_for(histogram_noise="continuous_gaussian", secure_noise=True)
    assert report["noise"]["source"] == "secure" and report["noise"]["exact"] is False
    assert "floating-point" in report["noise"]["continuous_warning"]
    assert report["accountant"] == "gdp" and report["events"][0]["kind"] == "gaussian"
    assert "continuous" in report["mechanism"]


def test_a_calibration_of_another_mechanism_is_refused():
    params = load_params(ROOT / "params.yaml")
    continuous = calibrate(epsilon=1.0, delta=1e-5, num_iterations=8, cross_check=False)
    with pytest.raises(ValueError, match="recalibrate"):
        privacy_report(params, continuous, num_synthetic=10)


def test_h_is_reported_in_the_noise_units_with_the_raw_votes_beside_it():
    """At m = 10 the default's H = 21 weighted votes is 21 sqrt(10) = 66.4 raw votes, the units the exact noise is
    added in; the continuous mechanism adds noise in weighted votes."""
    exact = report_for()["histogram_threshold_units"]
    assert exact["weighted_votes"] == 21.0
    assert exact["raw_votes"] == exact["in_noise_units"] == pytest.approx(21 * 10 ** 0.5)
    continuous = report_for(histogram_noise="continuous_gaussian")["histogram_threshold_units"]
    assert continuous["in_noise_units"] == 21.0 and continuous["raw_votes"] == pytest.approx(21 * 10 ** 0.5)


def test_the_report_lists_the_settings_chosen_on_private_data():
    record = report_for()["selected_on_private_data"]
    assert record["status"] == "selected on private data, not accounted"
    chosen = {entry["setting"]: entry for entry in record["pe"]}
    assert chosen["pe.num_nearest_neighbours"]["in_effect"] and chosen["embedding.name"]["in_effect"]
    assert all(entry["in_effect"] for entry in record["pe"])  # the shipped default uses every chosen value


def test_secure_noise_is_named_for_the_continuous_sampler():
    assert report_for(histogram_noise="continuous_gaussian", secure_noise=True)["noise"]["source"] == "secure"


def test_reproducible_noise_is_flagged_everywhere():
    params = load_params(ROOT / "params.yaml")
    params["privacy"].update(reproducible_noise=True)
    report = privacy_report(params, _calibration(params), num_synthetic=1000)
    assert report["is_dp_release"] is False and report["warning"] == NOT_DP_WARNING
    curve = pd.DataFrame({"class": ["all", "all"], "iteration": [0, 8], "metric": ["FD-Lite0"] * 2, "value": [2.0, 1.0]})
    metrics = run_metrics(report, downstream={"accuracy_mean": 0.4, "accuracy_std": 0.01, "seeds": [0, 1, 2]},
                          real={"accuracy_mean": 0.9, "accuracy_std": 0.0}, fd_curve=curve, run="eps_1.0")
    assert metrics["warning"] == NOT_DP_WARNING and metrics["is_dp_release"] is False
    _, markdown = summary_table([metrics])
    assert "NOT a DP release" in markdown


def test_a_private_subset_is_recorded_with_its_neighbouring_relation():
    params = load_params(ROOT / "params.yaml")
    params["data"]["private_fraction"] = 0.25
    record = privacy_report(params, _calibration(params), num_synthetic=10)["private_data"]
    assert "keyed hash" in record["meaning"] and record["membership"]["private_subset"]["fraction"] == 0.25


def test_a_scheduled_population_size_is_stated_per_iteration():
    params = load_params(ROOT / "params.yaml", ["pe.num_samples_per_class=1000",
                                                "pe.api_schedule=[{from_iteration: 6, api: diffusion, "
                                                "num_samples_per_class: 200}]"])
    budget = privacy_report(params, _calibration(params), num_synthetic=10)["public"]["per_class_budget"]
    assert "[1000, 1000, 1000, 1000, 1000, 1000, 200, 200, 200]" in budget and "independent of private data" in budget
    plain = load_params(ROOT / "params.yaml", ["pe.num_samples_per_class=200", "pe.api_schedule=[]"])
    budget = privacy_report(plain, _calibration(plain), num_synthetic=10)["public"]["per_class_budget"]
    assert budget.startswith("equal: 200 synthetic samples per class")


@pytest.mark.parametrize("caption", ["privacy", "synthetic", "histogram_table"])
@pytest.mark.parametrize("reproducible", [False, True])
def test_html_report_captions_warn_when_not_dp(caption, reproducible):
    text = (ROOT / "workflow" / "report" / f"{caption}.rst").read_text()
    snakemake = type("S", (), {"config": {"privacy": {"reproducible_noise": reproducible}}})
    rendered = jinja2.Environment().from_string(text).render(snakemake=snakemake)
    assert ("NOT a DP release" in rendered) == reproducible
