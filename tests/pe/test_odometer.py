"""Every draw on the private data is charged before it is made (issue 39): an append-only odometer per data set, one
draw per (run, iteration) or an explicit charged redraw, a budget that refuses, and a ledger that is its view."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import yaml

from privevo.cli import main
from privevo.config.odometer import odometer
from privevo.config.params import load_params
from privevo.io.artifacts import load_json, load_npz, save_images
from privevo.io.odometer import Odometer

from conftest import ROOT
from pe_helpers import write_tiny_params


def make_inputs(folder, seed=1):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    labels = np.repeat(np.arange(10), 3)
    save_images(folder / "candidates.npz", np.zeros((30, 4, 4, 1), np.uint8), labels)
    np.save(folder / "lookahead.npy", rng.normal(size=(30, 5)).astype(np.float32))
    np.save(folder / "private.npy", rng.normal(size=(300, 5)).astype(np.float32))
    np.save(folder / "private_labels.npy", rng.integers(0, 10, 300))
    (folder / "calibration.json").write_text(json.dumps({"noise_multiplier": 0.5, "mechanism": "discrete_gaussian",
                                                         "votes_per_sample": 1}))


def histogram_argv(params_path, inputs, out_dir, iteration=1):
    return ["pe-histogram", "--params", str(params_path), "--iteration", str(iteration),
            "--private-embeddings", str(inputs / "private.npy"), "--private-labels", str(inputs / "private_labels.npy"),
            "--candidates", str(inputs / "candidates.npz"), "--lookahead", str(inputs / "lookahead.npy"),
            "--calibration", str(inputs / "calibration.json"), "--out-dir", str(out_dir)]


def book(params_path):
    return odometer(load_params(params_path))


def test_a_draw_is_charged_once_and_a_reused_draw_charges_nothing(tmp_path):
    params = write_tiny_params(tmp_path)
    make_inputs(tmp_path / "in")
    out = tmp_path / "run" / "iter_001"
    assert main(histogram_argv(params, tmp_path / "in", out)) == 0
    charges = book(params).charges()
    assert len(charges) == 1 and charges[0]["completed"] and charges[0]["mechanism"] == "pe_histogram"
    assert charges[0]["event"] == {"kind": "discrete_gaussian", "noise_multiplier": 0.5, "count": 1,
                                   "votes_per_sample": 1}
    assert charges[0]["run"] == str((tmp_path / "run").resolve()) and charges[0]["iteration"] == 1
    stored = load_npz(next((out / "draws").glob("*.npz")))
    assert str(stored["odometer_charge"]) == charges[0]["id"]
    for name in ("histogram.npz", "histogram.csv", "selected.npz"):
        (out / name).unlink()
    assert main(histogram_argv(params, tmp_path / "in", out)) == 0
    assert len(book(params).charges()) == 1  # the stored draw was reused: no new release, no new charge


def test_re_embedding_the_private_set_refuses_a_second_draw_unless_allowed_and_then_charges_it(tmp_path):
    """Before issue 39: `touch` on the private embeddings and the same command gave two draw files in iter_001/draws,
    rc 0, and one release in the ledger."""
    params = write_tiny_params(tmp_path)
    make_inputs(tmp_path / "in")
    out = tmp_path / "run" / "iter_001"
    assert main(histogram_argv(params, tmp_path / "in", out)) == 0
    stamp = os.stat(tmp_path / "in" / "private.npy").st_mtime_ns
    os.utime(tmp_path / "in" / "private.npy", ns=(stamp + 10**9, stamp + 10**9))  # re-embedded
    with pytest.raises(SystemExit, match="already holds a noisy draw.*privacy.allow_redraw: true"):
        main(histogram_argv(params, tmp_path / "in", out))
    assert len(list((out / "draws").glob("*.npz"))) == 1 and len(book(params).charges()) == 1
    allowed = write_tiny_params(tmp_path, allow_redraw=True)
    assert main(histogram_argv(allowed, tmp_path / "in", out)) == 0
    charges = book(allowed).charges()
    draws = sorted((out / "draws").glob("*.npz"))
    assert len(draws) == 2 and len(charges) == 2 and all(c["completed"] for c in charges)
    assert {str(load_npz(d)["odometer_charge"]) for d in draws} == {c["id"] for c in charges}
    # The release names both draws and their charges; the ledger composes both.
    from privevo.steps.pe_release import release_draws

    named = release_draws([str(out / "histogram.npz")])
    assert {d["odometer_charge"] for d in named} == {c["id"] for c in charges}
    from privevo.accountants.gdp import calibrate
    from privevo.config.privacy import calibration_arguments
    from privevo.reports.privacy import privacy_report

    run_params = load_params(allowed, at_epsilon=True)
    calibration = calibrate(noise_multiplier=0.5, delta=1e-5, num_iterations=1, cross_check=False,
                            **calibration_arguments(run_params))
    report = privacy_report(run_params, calibration, num_synthetic=30, draws=named)
    assert report["events"][0]["count"] == 2 and report["redraws"]["draws"] == 2
    assert report["redraws"]["epsilon_of_all_draws"] > report["epsilon"]
    assert main(["ledger", "--params", str(allowed), "--out", str(tmp_path / "ledger.json"),
                 "--out-md", str(tmp_path / "ledger.md")]) == 0
    view = load_json(tmp_path / "ledger.json")["odometer"]
    assert view["num_dp_charges"] == 2 and view["runs"][0]["num_charges"] == 2
    one = view["composed_epsilon_all_charges"]
    from privevo.accountants.analysis.discrete import pld_epsilon

    assert one == pytest.approx(pld_epsilon(noise_multiplier=0.5, num_iterations=2, votes_per_sample=1, delta=1e-5,
                                            discretization=1e-3), rel=0.02)


def test_two_runs_on_the_same_data_are_both_composed(tmp_path):
    """Runs of other settings (another H: another folder) on the same private data charge one odometer."""
    params = write_tiny_params(tmp_path)
    make_inputs(tmp_path / "in")
    for run in ("h21", "h5"):
        assert main(histogram_argv(params, tmp_path / "in", tmp_path / run / "iter_001")) == 0
    assert main(["ledger", "--params", str(params), "--out", str(tmp_path / "ledger.json"),
                 "--out-md", str(tmp_path / "ledger.md")]) == 0
    view = load_json(tmp_path / "ledger.json")["odometer"]
    assert sorted(r["run"] for r in view["runs"]) == sorted(str((tmp_path / r).resolve()) for r in ("h21", "h5"))
    assert view["composed_epsilon_all_charges"] > max(r["composed_epsilon"] for r in view["runs"])
    assert "Everything ever charged" in (tmp_path / "ledger.md").read_text()


def test_a_kill_between_the_charge_and_the_draw_leaves_the_charge_and_the_rerun_adds_none(tmp_path):
    params = write_tiny_params(tmp_path)
    make_inputs(tmp_path / "in")
    out = tmp_path / "run" / "iter_001"
    killer = textwrap.dedent(f"""
        import os, signal, sys
        import privevo.pe.loop as loop
        loop.noisy_histograms = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
        import privevo.steps.pe_histogram  # noqa: F401
        from privevo.cli import main
        sys.exit(main({histogram_argv(params, tmp_path / "in", out)!r}))
    """)
    proc = subprocess.run([sys.executable, "-c", killer], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr
    charges = book(params).charges()
    assert len(charges) == 1 and not charges[0]["completed"]  # paid for, never stored
    assert not list((out / "draws").glob("*.npz"))
    assert main(histogram_argv(params, tmp_path / "in", out)) == 0
    after = book(params).charges()
    assert len(after) == 1 and after[0]["id"] == charges[0]["id"] and after[0]["completed"]


def test_a_budget_refuses_the_draw_that_would_exceed_it(tmp_path):
    make_inputs(tmp_path / "in")
    # One draw at sigma 0.5 costs epsilon 9.96 at delta 1e-5; two would cost about 14.5.
    params = write_tiny_params(tmp_path, total_budget={"epsilon": 12.0, "delta": 1e-5})
    assert main(histogram_argv(params, tmp_path / "in", tmp_path / "a" / "iter_001")) == 0
    spent = book(params).charges()
    with pytest.raises(SystemExit, match="total_budget is epsilon 12 .*holds epsilon 9.9.*would bring it to .*refused"):
        main(histogram_argv(params, tmp_path / "in", tmp_path / "b" / "iter_001"))
    assert book(params).charges() == spent and not (tmp_path / "b" / "iter_001" / "draws").exists()


def test_a_plan_over_the_budget_is_refused_at_validation_before_any_job(tmp_path):
    """Two planned epsilon-1 runs (seeds 0 and 1) compose to about 1.5 at delta 1e-5 (PLD; the naive sum is 2), so a
    budget of epsilon 1.4 refuses them, in validate-params and in Snakemake's parse, naming both totals."""
    params = write_tiny_params(tmp_path, total_budget={"epsilon": 1.4, "delta": 1e-5})
    raw = yaml.safe_load(params.read_text())
    raw["sweep"].update(epsilons=[1.0], seeds=[0, 1])
    raw["dpsgd"]["enabled"] = False
    raw["mixing"]["enabled"] = False
    params.write_text(yaml.safe_dump(raw))
    proc = subprocess.run([sys.executable, "-m", "privevo", "validate-params", "--params", str(params)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode != 0
    line = [l for l in proc.stderr.splitlines() if "total_budget" in l]
    assert len(line) == 1 and "odometer holds epsilon 0 " in line[0], proc.stderr
    assert 1.45 < float(line[0].split("would bring it to ")[1].split(":")[0]) < 1.6
    snake = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--config",
                            f"params_file={params}"], capture_output=True, text=True, cwd=ROOT)
    assert snake.returncode != 0 and "total_budget is epsilon 1.4" in snake.stdout + snake.stderr
    assert not Odometer.of(tmp_path / "odometer", "x").path.parent.exists() or not book(params).charges()
