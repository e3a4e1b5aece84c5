"""The smoke workflow end to end, through Snakemake, as a user runs it."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from privevo.io.artifacts import load_images, load_json, load_npz
from privevo.config.layout import Layout

from conftest import snakemake, write_params

pytestmark = pytest.mark.slow

EPSILON_FREE_RULES = {"prepare_data", "pretrain", "histogram_private_embeddings", "pe_initial_samples",
                      "pe_initial_lookahead"}
ALLOWED_PRIVATE_READERS = re.compile(r"^(histogram|eval|baseline)")
PRIVATE_FILES = re.compile(r"(private_train\.npz|private_train\.npy|private_train_labels\.npy)$")


def planned_jobs(proc) -> dict[str, int]:
    """Rule -> job count from the 'Job stats' table of a Snakemake dry run."""
    table = proc.stdout.split("Job stats:")[1].split("\n\n")[0]
    jobs = {}
    for line in table.splitlines()[3:]:
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] != "total":
            jobs[parts[0]] = int(parts[1])
    return jobs


def test_outputs_exist_with_the_right_shapes(smoke_run):
    layout = Layout(smoke_run["params"])
    per_class = smoke_run["params"]["pe"]["num_samples_per_class"]
    images, labels = load_images(layout.synthetic)
    assert images.shape == (10 * per_class, 28, 28, 1) and images.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(labels), [per_class] * 10)
    # group ids = the selected parent in S_{T-1}, so siblings share one.
    parents = load_npz(layout.iteration_dir(2) + "/selected.npz")["parent_ids"]
    np.testing.assert_array_equal(load_npz(layout.synthetic)["group_ids"], parents)
    privacy = load_json(layout.privacy_report)
    for key in ("epsilon", "delta", "noise_multiplier", "num_iterations", "accountant", "mechanism",
                "sensitivity_l2", "neighbouring", "public", "note"):
        assert key in privacy
    assert privacy["epsilon"] == 1.0 and privacy["num_iterations"] == 2 and privacy["clean_counts_written"] is False
    for t in (1, 2):
        folder = Path(layout.iteration_dir(t))
        table = pd.read_csv(folder / "histogram.csv")
        assert list(table.columns) == ["candidate_id", "class", "noisy_count", "thresholded_count", "selected_count"]
        assert table.groupby("class")["selected_count"].sum().eq(per_class).all()
        assert not any("clean" in key for key in load_npz(folder / "histogram.npz"))
        assert (folder / "lookahead.npy").exists() == (t < 2)
    assert Path(layout.lookahead(0)).exists() and Path(layout.candidates(0)).exists()
    for log in ("prepare_data", "pretrain", "histogram_private_embeddings"):
        assert Path(layout.log(log)).stat().st_size > 0


def test_rerun_has_nothing_to_do(smoke_run):
    proc = snakemake("-n", params_file=smoke_run["params_file"])
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_changing_epsilon_reruns_only_epsilon_dependent_jobs(smoke_run, tmp_path):
    params = {**smoke_run["params"], "privacy": {**smoke_run["params"]["privacy"], "epsilon": 4.0}}
    proc = snakemake("-n", params_file=write_params(tmp_path / "params.yaml", params))
    jobs = planned_jobs(proc)
    assert not EPSILON_FREE_RULES & set(jobs), jobs
    assert jobs["histogram"] == 2 and jobs["pe_variation"] == 2 and jobs["privacy_calibration"] == 1


def test_run_stopped_in_last_iteration_resumes_without_redoing_earlier_ones(smoke_run):
    layout = Layout(smoke_run["params"])
    last = Path(layout.candidates(2))
    kept = last.read_bytes()
    # What a run killed during the last variation leaves behind: nothing from that job on.
    for path in (last, layout.synthetic, layout.privacy_report, layout.latest_privacy_report):
        Path(path).unlink()
    jobs = planned_jobs(snakemake("-n", params_file=smoke_run["params_file"]))
    assert jobs.get("pe_variation") == 1 and "histogram" not in jobs and "pe_lookahead" not in jobs
    snakemake(params_file=smoke_run["params_file"])
    assert last.read_bytes() == kept, "the same params and seed must give the same bytes"


def test_privacy_boundary_only_histogram_eval_baseline_rules_read_private_data(smoke_run):
    proc = snakemake("--detailed-summary", params_file=smoke_run["params_file"])
    rows = [line.split("\t") for line in proc.stdout.splitlines()[1:] if "\t" in line]
    readers = {row[2] for row in rows if any(PRIVATE_FILES.search(f) for f in row[4].split(","))}
    assert readers, "expected some rule to read the private training set"
    assert {"histogram", "histogram_private_embeddings"} <= readers
    offenders = {rule for rule in readers if not ALLOWED_PRIVATE_READERS.match(rule)}
    assert not offenders, f"rules reading private data outside the DP boundary: {offenders}"
    without_log = {row[2] for row in rows if not row[3].strip() or row[3] == "-"}
    assert not without_log, f"rules without a log: {without_log}"


def test_bad_params_stop_snakemake_before_any_job(smoke_run, tmp_path):
    params = {**smoke_run["params"], "pe": {**smoke_run["params"]["pe"], "num_iterations": "two"}}
    proc = snakemake("-n", params_file=write_params(tmp_path / "params.yaml", params), check=False)
    assert proc.returncode != 0 and "pe.num_iterations" in proc.stdout + proc.stderr
    assert "Job stats" not in proc.stdout


def test_evaluation_outputs(smoke_run):
    layout = Layout(smoke_run["params"])
    num_iterations = smoke_run["params"]["pe"]["num_iterations"]
    curve = pd.read_csv(layout.fd_curve)
    assert list(curve.columns) == ["iteration", "class", "metric", "value"]
    assert sorted(curve["iteration"].unique()) == list(range(num_iterations + 1))
    assert set(curve["metric"]) == {"FD-Lite0"} and (curve["value"] >= 0).all()
    metrics = load_json(Path(layout.latest) / "metrics.json")
    for key in ("epsilon", "delta", "noise_multiplier", "fd_final", "accuracy_mean", "accuracy_std",
                "real_data_accuracy_mean"):
        assert isinstance(metrics[key], float), key
    assert metrics["accuracy_seeds"] == len(smoke_run["params"]["evaluation"]["classifier_seeds"]) >= 3
    downstream = load_json(layout.downstream)
    assert downstream["trained_on"] == "synthetic set only" and len(downstream["accuracies"]) >= 3
    summary = pd.read_csv(layout.summary_csv)
    assert len(summary) == 1 and summary["epsilon"].item() == 1.0
    histograms = pd.read_csv(Path(layout.latest) / "histograms.csv")
    assert set(histograms["iteration"]) == set(range(1, num_iterations + 1))


def test_inspect_prints_per_class_summary(smoke_run, tmp_path):
    import subprocess
    import sys

    folder = Layout(smoke_run["params"]).iteration_dir(1)
    proc = subprocess.run([sys.executable, "-m", "privevo", "inspect", folder, "--grid", str(tmp_path / "g.png")],
                          capture_output=True, text=True, check=True)
    for column in ("candidates", "noisy_total", "zeroed_fraction", "effective_sample_size", "top_candidates"):
        assert column in proc.stdout
    assert len([line for line in proc.stdout.splitlines() if re.match(r"\s*\d+\s+\d+\s", line)]) == 10
    assert (tmp_path / "g.png").stat().st_size > 1000


def test_html_report_builds_with_figures(smoke_run, tmp_path):
    report = tmp_path / "report.html"
    snakemake("--report", str(report), params_file=smoke_run["params_file"])
    html = report.read_text(errors="replace")
    for figure in ("fd_curve.png", "histogram.png", "top_bottom.png", "synthetic.png", "privacy.json", "loss.png"):
        assert figure in html, figure
    for category in ("samples", "histograms", "quality", "privacy"):
        assert category in html, category
