"""The findings campaign: cells narrow a shipped config to one (epsilon, seed) and validate; the tables are built
from recorded cells alone, mean +- std over PE seeds, with real data's own row and the DDPM rows renamed."""

import json
import math
import sys

import pandas as pd
import pytest
import yaml

from conftest import ROOT
from privevo.config.params import load_params
from privevo.config.runs import Sweep
from privevo.reports.comparison import COLUMNS

sys.path.insert(0, str(ROOT / "benchmarks" / "findings"))
import cells as findings_cells  # noqa: E402
import tables  # noqa: E402


def test_every_cell_is_one_run_of_its_shipped_config(tmp_path):
    cells = findings_cells.load_campaign()
    assert len({c.cell_id for c in cells}) == len(cells) == 15
    assert dict(cells[0].overrides)["mixing.enabled"] is False  # compare.yaml mixes at epsilon 10 only
    assert dict(next(c for c in cells if c.epsilon == 10.0).overrides)["mixing.epsilons"] == [10]
    assert [c.epsilon for c in cells[:9]] == [1.0] * 9  # epsilon 1 first
    assert [c.cell_id for c in cells if c.config == "mix"] == [f"mix-eps1-seed{s}" for s in range(3)]
    for cell in (cells[0], next(c for c in cells if c.config == "ddpm"), next(c for c in cells if c.config == "mix")):
        path = tmp_path / "results" / "findings" / "cells" / f"{cell.cell_id}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(cell.params_text(path, ROOT))
        sweep = Sweep(load_params(path))
        runs = sweep.runs
        if cell.config == "mix":  # PE + DP-SGD at 1: its PE part a run at 0.1 of its own, no DP-SGD baseline
            assert [m.pe.epsilon for m in sweep.mixes] == [pytest.approx(0.1)]
            assert runs[0].params["dpsgd"]["enabled"] is False
        assert len(runs) == 1 and runs[0].seed == cell.seed and runs[0].epsilon == cell.epsilon
        if cell.config == "ddpm":
            assert runs[0].params["dpsgd"]["enabled"] is False and runs[0].params["pe"]["api"] == "diffusion"


def comparison_row(method, epsilon, accuracy, *, fd=50.0, seed=0, std=math.nan, num_seeds=1):
    row = dict.fromkeys(COLUMNS)
    row.update(method=method, epsilon=epsilon, epsilon_accounted=epsilon, delta=1e-5, noise_multiplier=3.0,
               accountant="pld", accuracy_mean=accuracy, accuracy_std=std, num_seeds=num_seeds,
               std_over="PE seeds", fd_mean=fd, seeds=str(seed))
    return row


def robustness_record(method, epsilon, seed, *, ece, contrast, classifier_seed=0):
    """The parts of a robustness.json record the tables read: contrast accuracy per severity is (contrast, contrast
    - 0.1), so the family's mean over severities is contrast - 0.05."""
    return {"num_test": 100, "clean_accuracy": 0.9, "calibration": {"ece": ece, "ece_bins": 15, "ece_norm": "l1"},
            "corruptions": {"names": ["contrast"], "severities": [1, 2], "mean_accuracy": contrast - 0.05,
                            "accuracy": {"contrast": {"1": contrast, "2": contrast - 0.1}}},
            "classifier": {"method": method, "epsilon": epsilon, "delta": None if epsilon is None else 1e-5,
                           "seed": seed, "classifier_seed": classifier_seed, "weights": f"w/{method}/{seed}"}}


def write_cell(results, config, epsilon, seed, rows, records=None, *, timings=None, mix_pe_epsilon=None):
    folder = results / f"{config}-eps{epsilon:g}-seed{seed}"
    folder.mkdir(parents=True)
    if mix_pe_epsilon is not None:
        (folder / "mix.json").write_text(json.dumps({"method": "PE + DP-SGD", "pe_epsilon": mix_pe_epsilon}))
    pd.DataFrame(rows, columns=COLUMNS).to_csv(folder / "comparison.csv", index=False)
    for role, record in (records or {}).items():
        (folder / "robustness").mkdir(exist_ok=True)
        (folder / "robustness" / f"{role}.json").write_text(json.dumps(record))
    (folder / "provenance.json").write_text(json.dumps({
        "cell": folder.name, "config": config, "epsilon": epsilon, "seed": seed, "settings_hash": "h",
        "commit": "abc", "cpu": "cpu", "cores": 2, "wall_seconds": 10.0, "cpu_seconds": 20.0, "finished": "now"}))
    (folder / "timings.json").write_text(json.dumps([
        {"log": "results/pe/runs/r/seed_0/eps_1/logs/histogram_001.log", "rule": "histogram_001",
         "step": "pe-histogram", "step_seconds": 2.0},
        {"log": "results/pe/runs/r/seed_0/eps_1/logs/pe_variation_001.log", "rule": "pe_variation_001",
         "step": "pe-variation", "step_seconds": 5.0 + seed},
        {"log": "results/pe/base/b/logs/pe_initial_samples.log", "rule": "pe_initial_samples", "step": "pe-init",
         "step_seconds": 40.0},  # S_0: public, not the DP part
        {"log": "results/dpsgd/d/seed_0/eps_1/logs/baseline_dpsgd.log", "rule": "baseline_dpsgd", "step": "dpsgd",
         "step_seconds": 30.0},
        {"log": "results/pe/runs/r/seed_0/eps_1/eval-x/logs/eval_downstream.log", "rule": "eval_downstream",
         "step": "eval-downstream", "step_seconds": 99.0}, *(timings or [])]))


def test_tables_are_mean_and_std_over_pe_seeds_from_the_records_alone(tmp_path):
    real = dict(comparison_row(tables.REAL, 1.0, 0.91, std=0.004, num_seeds=3), std_over="classifier seeds")
    for seed, (pe, dpsgd) in enumerate([(0.60, 0.80), (0.70, 0.82), (0.80, 0.78)]):
        write_cell(tmp_path, "default", 1.0, seed,
                   [comparison_row(tables.PE, 1.0, pe, seed=seed), comparison_row("DP-SGD CNN", 1.0, dpsgd, seed=seed),
                    comparison_row(tables.PRIOR, 0.0, 0.5 + 0.1 * seed, seed=seed), real],
                   {"pe": robustness_record(tables.PE, 1.0, seed, ece=0.1 * (seed + 1), contrast=0.5 + 0.1 * seed),
                    # the real-data CNN is in every cell: counted once
                    "real": robustness_record(tables.REAL, None, None, ece=0.02, contrast=0.8, classifier_seed=3)})
    # epsilon 10's cell of seed 0 holds seed 0's prior row again (the same classifier): it counts once
    write_cell(tmp_path, "default", 10.0, 0, [comparison_row(tables.PE, 10.0, 0.75),
                                              comparison_row(tables.PRIOR, 0.0, 0.5), real])
    # a mix cell at epsilon 1: its PE part (0.1) runs inside it beside PE at 1; only its mix row counts
    write_cell(tmp_path, "mix", 1.0, 0, [comparison_row(tables.MIX, 1.0, 0.77), comparison_row(tables.PE, 1.0, 0.1)],
               timings=[{"log": "results/pe/runs/r/seed_0/eps_0.1/logs/histogram_001.log", "rule": "histogram_001",
                         "step": "pe-histogram", "step_seconds": 7.0},
                        {"log": "results/mix/m/seed_0/eps_1/logs/mix.log", "rule": "mix", "step": "dpsgd",
                         "step_seconds": 11.0}], mix_pe_epsilon=0.1)
    write_cell(tmp_path, "ddpm", 1.0, 0, [comparison_row(tables.PE, 1.0, 0.5), real],
               {"pe": robustness_record(tables.PE, 1.0, 0, ece=0.4, contrast=0.3),
                "real": robustness_record(tables.REAL, None, None, ece=0.03, contrast=0.7, classifier_seed=3)})
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\nprose\n<!-- findings:tables:start -->\nold\n<!-- findings:tables:end -->\nafter\n")
    assert tables.main(["--results", str(tmp_path), "--readme", str(readme)]) == 0
    table = pd.read_csv(tmp_path / "comparison.csv").set_index("method")
    prior = table.loc[tables.PRIOR]
    assert prior["n"] == 3 and prior["pe_seeds"] == "0 1 2" and prior["accuracy_std"] == pytest.approx(0.10)
    table = table[table["epsilon"] != 10.0]
    assert table.loc[tables.PE, "accuracy_mean"] == pytest.approx(0.70)
    assert table.loc[tables.PE, "accuracy_std"] == pytest.approx(0.10)
    assert table.loc[tables.PE, "n"] == 3 and table.loc[tables.PE, "pe_seeds"] == "0 1 2"
    assert table.loc[tables.PE, "dp_seconds_mean"] == pytest.approx(2.0 + 6.0)  # histogram + variation, not eval
    assert table.loc["DP-SGD CNN", "dp_seconds_mean"] == pytest.approx(30.0)
    assert table.loc[tables.MIX, "accuracy_mean"] == pytest.approx(0.77) and table.loc[tables.MIX, "n"] == 1
    assert table.loc[tables.MIX, "dp_seconds_mean"] == pytest.approx(7.0 + 11.0)  # its PE part at 0.1, not PE at 1
    assert table.loc[tables.REAL, "accuracy_std"] == pytest.approx(0.004)  # its own, over classifier seeds
    assert table.loc["PE, DDPM only -> CNN", "accuracy_mean"] == pytest.approx(0.5)
    assert math.isnan(table.loc["PE, DDPM only -> CNN", "accuracy_std"])  # one seed: no std, never a zero
    robust = pd.read_csv(tmp_path / "robustness.csv").set_index("method")
    assert robust.loc[tables.PE, "ece_mean"] == pytest.approx(0.2) and robust.loc[tables.PE, "n_seeds"] == 3
    assert robust.loc[tables.PE, "contrast_accuracy_mean"] == pytest.approx(0.55)  # (0.45, 0.55, 0.65)
    assert robust.loc[tables.PE, "contrast_accuracy_std"] == pytest.approx(0.1)
    assert robust.loc[tables.REAL, "n_seeds"] == 1 and robust.loc[tables.REAL, "ece_mean"] == pytest.approx(0.02)
    assert robust.loc["PE, DDPM only -> CNN", "ece_mean"] == pytest.approx(0.4)  # the ddpm cell's real CNN is left out
    report = (tmp_path / "comparison.md").read_text()
    assert "70.0 ± 10.0" in report and "](accuracy.png)" in report  # the figure is in the report
    assert (tmp_path / "accuracy.png").stat().st_size > 1000
    text = readme.read_text()
    assert text.startswith("# x\n\nprose\n<!-- findings:tables:start -->") and text.endswith("<!-- findings:tables:end -->\nafter\n")
    assert "old" not in text and "| PE synthetic -> CNN | 1 | 1e-05 |" in text and "accuracy.png" in text
    assert "| real data, no privacy | ∞ (no privacy) | 1 |" in text  # the robustness rows, with no epsilon
    assert "contrast (%)" in text and "Not yet recorded:" in text


def test_runner_copies_each_classifiers_robustness_record_by_role(tmp_path):
    import run_cells

    repo, record = tmp_path / "repo", tmp_path / "record"
    record.mkdir()
    for role in ("pe", "real"):
        source = repo / "results" / role / "robustness.json"
        source.parent.mkdir(parents=True)
        source.write_text(json.dumps({"role": role}))
    settings = {"robustness_records": {"pe": "results/pe/robustness.json", "real": "results/real/robustness.json",
                                       "dpsgd": "results/dpsgd/robustness.json"}}  # not run: no file, not copied
    copied = run_cells.copy_robustness_records(settings, repo, record)
    assert copied == {"robustness/pe.json": "results/pe/robustness.json",
                      "robustness/real.json": "results/real/robustness.json"}
    assert json.loads((record / "robustness" / "real.json").read_text()) == {"role": "real"}
    # reading settings never rewrites the params file a running cell's jobs read
    cell = findings_cells.load_campaign()[0]
    running = run_cells.cell_params_file(cell, repo)
    running.write_text("the running cell's params")
    scratch = run_cells.cell_params_file(cell, repo, "scratch-params.yaml")
    assert running.read_text() == "the running cell's params" and scratch.parent == running.parent
