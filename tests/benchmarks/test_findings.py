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
    assert len({c.cell_id for c in cells}) == len(cells) == 12
    assert dict(cells[0].overrides)["mixing.enabled"] is False  # compare.yaml mixes at epsilon 10 only
    assert dict(next(c for c in cells if c.epsilon == 10.0).overrides)["mixing.epsilons"] == [10]
    assert [c.epsilon for c in cells[:6]] == [1.0] * 6  # epsilon 1 first
    for cell in (cells[0], next(c for c in cells if c.config == "ddpm")):
        path = tmp_path / "results" / "findings" / "cells" / f"{cell.cell_id}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(cell.params_text(path, ROOT))
        runs = Sweep(load_params(path)).runs
        assert len(runs) == 1 and runs[0].seed == cell.seed and runs[0].epsilon == cell.epsilon
        if cell.config == "ddpm":
            assert runs[0].params["dpsgd"]["enabled"] is False and runs[0].params["pe"]["api"] == "diffusion"


def comparison_row(method, epsilon, accuracy, *, fd=50.0, seed=0, std=math.nan, num_seeds=1):
    row = dict.fromkeys(COLUMNS)
    row.update(method=method, epsilon=epsilon, epsilon_accounted=epsilon, delta=1e-5, noise_multiplier=3.0,
               accountant="pld", accuracy_mean=accuracy, accuracy_std=std, num_seeds=num_seeds,
               std_over="PE seeds", fd_mean=fd, seeds=str(seed))
    return row


def write_cell(results, config, epsilon, seed, rows, robustness_rows=()):
    folder = results / f"{config}-eps{epsilon:g}-seed{seed}"
    folder.mkdir(parents=True)
    pd.DataFrame(rows, columns=COLUMNS).to_csv(folder / "comparison.csv", index=False)
    if robustness_rows:
        pd.DataFrame(robustness_rows).to_csv(folder / "robustness.csv", index=False)
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
         "step": "eval-downstream", "step_seconds": 99.0}]))


def test_tables_are_mean_and_std_over_pe_seeds_from_the_records_alone(tmp_path):
    real = dict(comparison_row(tables.REAL, 1.0, 0.91, std=0.004, num_seeds=3), std_over="classifier seeds")
    for seed, (pe, dpsgd) in enumerate([(0.60, 0.80), (0.70, 0.82), (0.80, 0.78)]):
        write_cell(tmp_path, "default", 1.0, seed,
                   [comparison_row(tables.PE, 1.0, pe, seed=seed), comparison_row("DP-SGD CNN", 1.0, dpsgd, seed=seed),
                    real],
                   [{"method": tables.PE, "epsilon": 1.0, "ece_mean": 0.1 * (seed + 1), "ece_std": math.nan},
                    {"method": tables.REAL, "epsilon": 1.0, "ece_mean": 0.02, "ece_std": 0.001}])
    write_cell(tmp_path, "ddpm", 1.0, 0, [comparison_row(tables.PE, 1.0, 0.5), real])
    assert tables.main(["--results", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "comparison.csv").set_index("method")
    assert table.loc[tables.PE, "accuracy_mean"] == pytest.approx(0.70)
    assert table.loc[tables.PE, "accuracy_std"] == pytest.approx(0.10)
    assert table.loc[tables.PE, "n"] == 3 and table.loc[tables.PE, "pe_seeds"] == "0 1 2"
    assert table.loc[tables.PE, "dp_seconds_mean"] == pytest.approx(2.0 + 6.0)  # histogram + variation, not eval
    assert table.loc["DP-SGD CNN", "dp_seconds_mean"] == pytest.approx(30.0)
    assert table.loc[tables.REAL, "accuracy_std"] == pytest.approx(0.004)  # its own, over classifier seeds
    assert table.loc["PE, DDPM only -> CNN", "accuracy_mean"] == pytest.approx(0.5)
    assert math.isnan(table.loc["PE, DDPM only -> CNN", "accuracy_std"])  # one seed: no std, never a zero
    robust = pd.read_csv(tmp_path / "robustness.csv").set_index("method")
    assert robust.loc[tables.PE, "ece_mean"] == pytest.approx(0.2) and robust.loc[tables.PE, "n"] == 3
    assert "70.0 ± 10.0" in (tmp_path / "comparison.md").read_text()
    assert (tmp_path / "accuracy.png").stat().st_size > 1000
