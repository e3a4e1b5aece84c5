"""What the reports say about the noise: its source, and a loud warning when it is not a DP release."""

import jinja2
import pandas as pd
import pytest

from privevo.accountants.gdp import calibrate
from privevo.config.params import load_params
from privevo.pe.noise import NOT_DP_WARNING
from privevo.reports.privacy import privacy_report
from privevo.reports.summary import run_metrics, summary_table

from conftest import ROOT


def report_for(**privacy):
    params = load_params(ROOT / "params.yaml")
    params["privacy"].update(privacy)
    calibration = calibrate(epsilon=1.0, delta=1e-5, num_iterations=8, cross_check=False)
    return privacy_report(params, calibration, num_synthetic=1000)


def test_default_report_names_the_os_entropy_source_and_no_seed():
    report = report_for()
    assert report["is_dp_release"] is True and "warning" not in report
    assert report["noise"]["source"] == "os-entropy" and report["noise"]["seed_stored"] is False
    assert report["private_data"]["max_private_samples"] is None
    for key in ("epsilon", "delta", "noise_multiplier", "num_iterations", "accountant"):
        assert key in report


def test_secure_noise_is_named():
    assert report_for(secure_noise=True)["noise"]["source"] == "secure"


def test_reproducible_noise_is_flagged_everywhere():
    report = report_for(reproducible_noise=True)
    assert report["is_dp_release"] is False and report["warning"] == NOT_DP_WARNING
    curve = pd.DataFrame({"class": ["all", "all"], "iteration": [0, 8], "metric": ["FD-Lite0"] * 2, "value": [2.0, 1.0]})
    metrics = run_metrics(report, downstream={"accuracy_mean": 0.4, "accuracy_std": 0.01, "seeds": [0, 1, 2]},
                          real={"accuracy_mean": 0.9, "accuracy_std": 0.0}, fd_curve=curve, run="eps_1.0")
    assert metrics["warning"] == NOT_DP_WARNING and metrics["is_dp_release"] is False
    _, markdown = summary_table([metrics])
    assert "NOT a DP release" in markdown


def test_max_private_samples_is_recorded_with_its_meaning():
    params = load_params(ROOT / "params.yaml")
    params["data"]["max_private_samples"] = 2000
    calibration = calibrate(epsilon=1.0, delta=1e-5, num_iterations=8, cross_check=False)
    record = privacy_report(params, calibration, num_synthetic=10)["private_data"]
    assert record["max_private_samples"] == 2000 and "subset" in record["meaning"]


def test_a_scheduled_population_size_is_stated_per_iteration():
    params = load_params(ROOT / "params.yaml", ["pe.num_samples_per_class=1000",
                                                "pe.api_schedule=[{from_iteration: 6, api: diffusion, "
                                                "num_samples_per_class: 200}]"])
    calibration = calibrate(epsilon=1.0, delta=1e-5, num_iterations=8, cross_check=False)
    budget = privacy_report(params, calibration, num_synthetic=10)["public"]["per_class_budget"]
    assert "[1000, 1000, 1000, 1000, 1000, 1000, 200, 200, 200]" in budget and "independent of private data" in budget
    plain = load_params(ROOT / "params.yaml", ["pe.num_samples_per_class=200", "pe.api_schedule=[]"])
    budget = privacy_report(plain, calibration, num_synthetic=10)["public"]["per_class_budget"]
    assert budget.startswith("equal: 200 synthetic samples per class")


@pytest.mark.parametrize("caption", ["privacy", "synthetic", "histogram_table"])
@pytest.mark.parametrize("reproducible", [False, True])
def test_html_report_captions_warn_when_not_dp(caption, reproducible):
    text = (ROOT / "workflow" / "report" / f"{caption}.rst").read_text()
    snakemake = type("S", (), {"config": {"privacy": {"reproducible_noise": reproducible}}})
    rendered = jinja2.Environment().from_string(text).render(snakemake=snakemake)
    assert ("NOT a DP release" in rendered) == reproducible
