"""The smoke workflow end to end, through Snakemake, as a user runs it: a sweep of 2 epsilons x 2 seeds."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from privevo.io.artifacts import load_images, load_json, load_npz
from privevo.config.layout import Layout
from privevo.evaluation.precision_recall import PRDC_METRICS
from privevo.config.runs import Sweep

from conftest import ROOT, mutate, snakemake, write_params

# Every test that runs Snakemake in the repository root (sharing its .snakemake records and locks) lives in this
# file, so pytest-xdist's --dist loadfile (make test) runs them on one worker, one at a time.
pytestmark = pytest.mark.slow

EPSILON_FREE_RULES = {"prepare_data", "pretrain", "embed_private", "pe_init",
                      "pe_lookahead_initial"}
ALLOWED_PRIVATE_READERS = re.compile(r"^(pe_histogram|embed_private|eval|dpsgd)")
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
        assert list(table.columns) == ["candidate_id", "class", "noisy_votes", "noisy_count", "thresholded_count",
                                       "selected_count", "threshold", "uniform_fallback"]
        # The exact mechanism's integer output, and the weighted counts derived from it: nothing finer is stored.
        m = smoke_run["params"]["pe"]["num_nearest_neighbours"]
        assert table["noisy_votes"].dtype == np.int64
        np.testing.assert_allclose(table["noisy_count"], table["noisy_votes"] / np.sqrt(m), rtol=1e-15)
        assert table.groupby("class")["selected_count"].sum().eq(per_class).all()
        # The smoke config keeps one H (no reference epsilon): H = histogram_threshold x sigma in every row.
        np.testing.assert_allclose(table["threshold"], privacy["histogram_threshold"])
        np.testing.assert_allclose(table["thresholded_count"],
                                   np.maximum(table["noisy_count"] - table["threshold"], 0.0))
        assert not any("clean" in key for key in load_npz(folder / "histogram.npz"))
        assert (folder / "lookahead.npy").exists() == (t < 2)
    assert Path(layout.lookahead(0)).exists() and Path(layout.candidates(0)).exists()
    for log in (f"prepare_data_{layout.keys['data']}", f"pretrain_{layout.keys['model']}",
                f"embed_private_{layout.keys['embedding']}"):
        assert Path(layout.log(log)).stat().st_size > 0


def executed_jobs(output: str) -> dict[str, int]:
    """Rule -> number of jobs Snakemake ran, from its own job records in the run's log."""
    jobs = {}
    for rule in re.findall(r"^(?:local)?rule (\w+):$", output, flags=re.MULTILINE):
        jobs[rule] = jobs.get(rule, 0) + 1
    return jobs


def test_sweep_does_the_epsilon_free_work_once_per_seed(smoke_run):
    jobs = executed_jobs(smoke_run["output"])
    epsilons, seeds = len(smoke_run["params"]["sweep"]["epsilons"]), len(smoke_run["params"]["sweep"]["seeds"])
    num_iterations = smoke_run["params"]["pe"]["num_iterations"]
    # Shared by every seed (sweep.model_seeds is false) and every epsilon:
    for rule in ("prepare_data", "pretrain", "embed_private", "eval_reference_stats",
                 "eval_downstream_real"):
        assert jobs[rule] == 1, (rule, jobs)
    # Once per seed, shared by every epsilon:
    for rule in ("pe_init", "pe_lookahead_initial", "eval_downstream_prior"):
        assert jobs[rule] == seeds, (rule, jobs)
    # Once per (epsilon, seed):
    assert jobs["pe_histogram"] == epsilons * seeds * num_iterations
    for rule in ("calibrate", "pe_release", "dpsgd", "eval_downstream", "eval_metrics"):
        assert jobs[rule] == epsilons * seeds, (rule, jobs)
    sweep = Sweep(smoke_run["params"])
    assert len({Path(run.layout.run_dir) for run in sweep.runs}) == epsilons * seeds
    assert all(Path(run.layout.synthetic).exists() for run in sweep.runs)


def test_comparison_has_one_row_per_method_and_epsilon(smoke_run):
    layout = Layout(smoke_run["params"])
    table = pd.read_csv(layout.comparison_csv)
    seeds = len(smoke_run["params"]["sweep"]["seeds"])
    pe = table[table["method"] == "PE synthetic -> CNN"]
    assert sorted(pe["epsilon"]) == [1.0, 4.0] and (pe["num_seeds"] == seeds).all()
    assert (pe["std_over"] == "PE seeds").all() and pe["fd_mean"].notna().all()
    dpsgd = table[table["method"] == "DP-SGD CNN"]
    assert sorted(dpsgd["epsilon"]) == [1.0, 4.0] and set(dpsgd["accountant"]) == {"prv"}
    assert set(table["method"]) == {"PE synthetic -> CNN", "DP-SGD CNN", "public prior (S_0) -> CNN",
                                    "real data, no privacy", "PE + DP-SGD (fine-tuned)", "public + PE -> CNN"}
    public_pe = table[table["method"] == "public + PE -> CNN"]
    assert sorted(public_pe["epsilon"]) == [1.0, 4.0] and list(public_pe["noise_multiplier"]) == list(pe["noise_multiplier"])
    # The smoke config mixes at total epsilon 4 with pe_fraction 0.25: its PE part is the sweep's own run at 1.
    mix = table[table["method"] == "PE + DP-SGD (fine-tuned)"]
    assert list(mix["epsilon"]) == [4.0] and (mix["epsilon_accounted"] <= 4.0).all() and (mix["num_seeds"] == seeds).all()
    assert mix["note"].item().startswith("PE part at epsilon 1 (pe_fraction 0.25)")
    assert ((table["accuracy_mean"] >= 0) & (table["accuracy_mean"] <= 1)).all()
    markdown = Path(layout.comparison_md).read_text()
    assert "mean +- sample std" in markdown and "| DP-SGD CNN | 4 |" in markdown
    assert Path(layout.comparison_plot).stat().st_size > 1000


def test_every_classifier_is_saved_and_gets_robustness(smoke_run):
    runs = Sweep(smoke_run["params"]).runs
    folders = {("PE synthetic -> CNN", run.epsilon, run.seed): run.layout.robustness for run in runs}
    folders.update({("DP-SGD CNN", run.epsilon, run.seed): run.layout.dpsgd_robustness for run in runs})
    folders.update({("public + PE -> CNN", run.epsilon, run.seed): run.layout.public_pe_robustness for run in runs})
    folders.update({("public prior (S_0) -> CNN", None, run.seed): run.layout.prior_robustness for run in runs})
    folders[("real data, no privacy", None, None)] = runs[0].layout.real_robustness
    folders.update({("PE + DP-SGD (fine-tuned)", mix.total.epsilon, mix.total.seed): mix.total.layout.mix_robustness
                    for mix in Sweep(smoke_run["params"]).mixes})
    for (method, epsilon, seed), folder in folders.items():
        summary = load_json(Path(folder) / "robustness.json")
        assert (summary["classifier"]["method"], summary["classifier"]["epsilon"], summary["classifier"]["seed"]) \
            == (method, epsilon, seed)
        assert Path(summary["classifier"]["weights"]).exists() and Path(summary["classifier"]["weights"]).suffix == ".safetensors"
        assert 0 <= summary["clean_accuracy"] <= 1 and summary["calibration"]["ece_bins"] == 15
        rows = pd.read_csv(Path(folder) / "robustness.csv")
        assert list(rows.columns) == ["metric", "corruption", "severity", "value"]
    # The non-private CNN's weights come from private data without noise: its record says so.
    real_record = load_json(Path(runs[0].layout.real_classifiers).with_suffix(".json"))
    assert real_record["privacy_label"].startswith("PRIVATE")
    assert "privacy_label" not in load_json(Path(runs[0].layout.classifiers).with_suffix(".json"))
    layout = Layout(smoke_run["params"])
    table = pd.read_csv(layout.robustness_csv)
    pe = table[table["method"] == "PE synthetic -> CNN"]
    assert sorted(pe["epsilon"]) == [1.0, 4.0] and (pe["n_seeds"] == len(smoke_run["params"]["sweep"]["seeds"])).all()
    # PE, public + PE and DP-SGD at each epsilon, the prior, real data, the mix at 4
    assert len(table) == 2 + 2 + 2 + 1 + 1 + 1
    assert all(Path(p).stat().st_size > 1000 for p in layout.robustness_plots.values())


def test_privacy_ledger_composes_every_release(smoke_run):
    ledger = load_json(Layout(smoke_run["params"]).ledger_json)
    sweep = Sweep(smoke_run["params"])
    runs = len(sweep.runs)
    # PE and DP-SGD at every (epsilon, seed), and PE + DP-SGD at epsilon 4 for every seed (its PE part shared).
    assert len(sweep.mixes) == 2 and len(sweep.pe_runs) == runs
    assert ledger["num_releases"] == 2 * runs + 2
    largest = max(r["epsilon"] for r in ledger["releases"])
    assert largest < ledger["composed_epsilon_all"] <= ledger["sum_of_epsilons"] * 1.001
    assert set(ledger["composed_epsilon_per_method"]) == {"PE", "DP-SGD", "PE + DP-SGD"}
    mixes = [r for r in ledger["releases"] if r["method"] == "PE + DP-SGD"]
    assert all(r["builds_on"].endswith("/eps_1") and r["epsilon"] <= 4.0 for r in mixes)
    mix_report = load_json(sweep.mixes[0].total.layout.mix_report)
    assert mix_report["epsilon"] <= 4.0 and mix_report["prior_epsilon"] < mix_report["epsilon"]
    assert mix_report["pe_epsilon"] == pytest.approx(1.0, rel=0.02) and mix_report["init_classifier"].endswith(".safetensors")


def test_rerun_has_nothing_to_do(smoke_run):
    proc = snakemake("-n", params_file=smoke_run["params_file"])
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_adding_an_epsilon_reruns_only_epsilon_dependent_jobs(smoke_run, tmp_path):
    params = mutate(smoke_run["params"], "sweep.epsilons", [1.0, 4.0, 8])
    proc = snakemake("-n", params_file=write_params(tmp_path / "params.yaml", params))
    jobs = planned_jobs(proc)
    seeds = len(params["sweep"]["seeds"])
    assert not EPSILON_FREE_RULES & set(jobs), jobs
    assert jobs["pe_histogram"] == 2 * seeds and jobs["pe_variation"] == 2 * seeds
    assert jobs["calibrate"] == seeds and jobs["dpsgd"] == seeds


def test_an_epsilon_entry_reruns_only_that_epsilons_pe_runs(smoke_run, tmp_path):
    params = smoke_run["params"]
    longer = params["pe"]["num_iterations"] + 1
    params = mutate(params, "pe.by_epsilon", [{"epsilon": 4.0, "num_iterations": longer}])
    jobs = planned_jobs(snakemake("-n", params_file=write_params(tmp_path / "params.yaml", params)))
    seeds = len(params["sweep"]["seeds"])
    # The runs at epsilon 1, S_0, DP-SGD and the mix's PE part (at 1) are untouched; epsilon 4 runs T + 1 iterations.
    assert not EPSILON_FREE_RULES & set(jobs), jobs
    assert jobs["pe_histogram"] == longer * seeds and jobs["calibrate"] == seeds
    assert "dpsgd" not in jobs


def test_fd_in_another_space_embeds_the_private_set_again_and_reruns_no_pe_job(smoke_run, tmp_path):
    params = mutate(smoke_run["params"], "evaluation.fd_embedding", "pixels")
    proc = snakemake("-n", "-p", params_file=write_params(tmp_path / "params.yaml", params))
    jobs = planned_jobs(proc)
    runs = len(params["sweep"]["seeds"]) * len(params["sweep"]["epsilons"])
    assert jobs["embed_private"] == 1 and jobs["eval_reference_stats"] == 1
    assert jobs["eval_fd_curve"] >= runs
    assert not {"pe_histogram", "pe_variation", "pe_lookahead", "pe_release", "dpsgd"} & set(jobs), jobs
    embed = [line for line in proc.stdout.splitlines() if " embed-private " in line]
    assert len(embed) == 1 and "--set embedding.name=pixels" in embed[0] and "/embeddings/pixels-" in embed[0]
    curves = [line for line in proc.stdout.splitlines() if " eval-fd-curve " in line]
    assert curves and all("/eval/reference-pixels-" in line for line in curves)


def test_retrieval_runs_read_the_prepared_public_set_and_pretrain_nothing(smoke_run, tmp_path):
    params = mutate(smoke_run["params"], "pe.api", "retrieval")
    proc = snakemake("-n", "-p", params_file=write_params(tmp_path / "params.yaml", params))
    jobs = planned_jobs(proc)
    assert "pretrain" not in jobs and "prepare_data" not in jobs  # the public set is already prepared
    assert jobs["pe_init"] == len(params["sweep"]["seeds"]) and jobs["pe_release"] >= 4
    public = Layout(params).public
    api_steps = [line for line in proc.stdout.splitlines()
                 if any(f" {step} " in line for step in ("pe-init", "pe-lookahead", "pe-variation", "pe-release"))]
    assert api_steps and all(f"--public {public}" in line for line in api_steps)
    histogram = [line for line in proc.stdout.splitlines() if " pe-histogram " in line]
    assert histogram and not any("--public" in line for line in histogram)


def test_run_stopped_in_last_iteration_resumes_without_redoing_earlier_ones(smoke_run):
    layout = Layout(smoke_run["params"])
    last = Path(layout.candidates(2))
    kept = last.read_bytes()
    # What a run killed during the last variation leaves behind: nothing from that job on.
    for path in (last, layout.synthetic, layout.privacy_report, layout.latest_privacy_report):
        Path(path).unlink()
    jobs = planned_jobs(snakemake("-n", params_file=smoke_run["params_file"]))
    assert jobs.get("pe_variation") == 1 and "pe_histogram" not in jobs and "pe_lookahead" not in jobs
    snakemake(params_file=smoke_run["params_file"])
    assert last.read_bytes() == kept, "the same params and seed must give the same bytes"


def test_privacy_boundary_only_histogram_eval_dpsgd_rules_read_private_data(smoke_run):
    proc = snakemake("--detailed-summary", params_file=smoke_run["params_file"])
    rows = [line.split("\t") for line in proc.stdout.splitlines()[1:] if "\t" in line]
    readers = {row[2] for row in rows if any(PRIVATE_FILES.search(f) for f in row[4].split(","))}
    assert readers, "expected some rule to read the private training set"
    assert {"pe_histogram", "embed_private"} <= readers
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
    assert set(curve["metric"]) == {"FD-Lite0", *PRDC_METRICS} and (curve["value"] >= 0).all()
    # precision, recall and coverage are fractions of a set; density, an average count over k, may exceed 1
    fractions = curve[curve["metric"].isin(["precision", "recall", "coverage"])]
    assert (fractions["class"] == "all").all() and (fractions["value"] <= 1).all()
    assert set(pd.read_csv(Path(layout.latest) / "fd_curve.csv")["metric"]) == {"FD-Lite0"}
    metrics = load_json(Path(layout.latest) / "metrics.json")
    assert 0 <= metrics["precision_final"] <= 1 and 0 <= metrics["recall_final"] <= 1
    for key in ("epsilon", "delta", "noise_multiplier", "fd_final", "accuracy_mean", "accuracy_std",
                "real_data_accuracy_mean"):
        assert isinstance(metrics[key], float), key
    assert metrics["accuracy_seeds"] == len(smoke_run["params"]["evaluation"]["classifier_seeds"]) >= 3
    downstream = load_json(layout.downstream)
    assert downstream["trained_on"] == "synthetic set only" and len(downstream["accuracies"]) >= 3
    summary = pd.read_csv(layout.summary_csv)
    assert len(summary) == 4 and sorted(set(summary["epsilon"])) == [1.0, 4.0] and set(summary["seed"]) == {0, 1}
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
    assert "robustness_corruptions.png" in html and "robustness_reliability.png" in html
    for category in ("samples", "histograms", "quality", "privacy", "robustness"):
        assert category in html, category


# Last: it rewrites the sweep-wide views (summary, comparison, latest/) for a one-run params file.
def test_changing_t_makes_a_new_run_and_leaves_the_old_one_intact(smoke_run, tmp_path):
    old = Sweep(smoke_run["params"]).runs
    stamps = {p: p.stat().st_mtime_ns for run in old for p in Path(run.layout.run_dir).rglob("*") if p.is_file()}
    params = mutate(mutate(smoke_run["params"], "pe.num_iterations", 1), "sweep.epsilons", [1.0])
    params = mutate(mutate(params, "sweep.seeds", [0]), "paths.results_dir", smoke_run["params"]["paths"]["results_dir"])
    params_file = write_params(tmp_path / "params.yaml", params)
    jobs = planned_jobs(snakemake("-n", params_file=params_file))
    assert jobs["pe_histogram"] == 1 and not EPSILON_FREE_RULES & set(jobs), jobs
    snakemake(params_file=params_file)
    new = Layout(params)
    assert new.run_dir not in {run.layout.run_dir for run in old}
    assert not Path(new.iteration_dir(2)).exists(), "a shorter run must not see a longer run's iterations"
    assert set(pd.read_csv(Path(new.latest) / "histograms.csv")["iteration"]) == {1}
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps, "the old runs were touched"
    assert len(pd.read_csv(new.summary_csv)) == 1


# ---------------------------------------------------------------------------------------------------------------
# Beyond one machine through Snakemake's executors: the SLURM profile plans a sweep, and the generic cluster
# executor runs the smoke workflow with every job in its own process, sharing nothing but files.

LOGS = ROOT / ".snakemake" / "cluster-generic-logs"


def smoke_params_file(tmp_path, **sweep):
    params = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    params["paths"] = {"data_dir": str(tmp_path / "data"), "results_dir": str(tmp_path / "results")}
    params["sweep"].update(sweep)
    return params, write_params(tmp_path / "params.yaml", params)


def test_slurm_profile_plans_the_sweep_with_declared_resources(tmp_path):
    params, params_file = smoke_params_file(tmp_path, epsilons=[1, 10], seeds=[0, 1])
    proc = snakemake("--profile", "workflow/profiles/slurm", "--dry-run", params_file=params_file)
    assert "pe_histogram" in proc.stdout and re.search(r"^total\s+\d+", proc.stdout, flags=re.MULTILINE)
    # Every job the cluster would run declares its memory and runtime.
    jobs = proc.stdout.split("\n\n")
    heavy = [job for job in jobs if re.search(r"^rule (pretrain|pe_histogram|pe_variation|dpsgd):", job, re.M)]
    assert heavy and all("mem_mb=" in job and "runtime=" in job for job in heavy), heavy[:1]


def test_generic_cluster_executor_runs_each_job_as_its_own_process(smoke_run, tmp_path):
    # A new one-iteration run beside the smoke sweep's (its data, model and private embeddings are reused), so
    # that only the run's own jobs, each with its interpreter start-up, go through the executor.
    params = mutate(mutate(smoke_run["params"], "pe.num_iterations", 1), "pe.variation_degrees", [0.6])
    params = mutate(mutate(params, "sweep.epsilons", [1.0]), "sweep.seeds", [0])
    params_file = write_params(tmp_path / "params.yaml", params)
    layout = Layout(params)
    assert layout.run_dir not in {run.layout.run_dir for run in Sweep(smoke_run["params"]).runs}
    before = set(LOGS.glob("*.status")) if LOGS.exists() else set()
    proc = snakemake("--profile", "workflow/profiles/cluster-generic", layout.privacy_report,
                     params_file=params_file, check=False)
    assert proc.returncode == 0, proc.stderr[-5000:]
    statuses = set(LOGS.glob("*.status")) - before
    submitted = len(re.findall(r"Submitted job \d+ with external jobid", proc.stdout + proc.stderr))
    assert submitted >= 4 and len(statuses) == submitted, (submitted, len(statuses))
    assert all(path.read_text().strip() == "0" for path in statuses)
    assert Path(layout.synthetic).exists() and Path(layout.privacy_report).exists()
