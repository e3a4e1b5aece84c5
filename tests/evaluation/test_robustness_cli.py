"""`privevo robustness` on a saved classifier: the record names what was evaluated, the long CSV has one row per
(corruption, severity), and the OOD sets are the public sources."""

import json

import numpy as np
import pandas as pd
import torch
import yaml

from privevo.cli import main
from privevo.io.artifacts import save_images
from privevo.models.classifier import SmallCNN
from privevo.models.io import save_classifiers

from conftest import ROOT, squares, write_params

SETTINGS = {"enabled": True, "max_test_samples": 40, "corruptions": ["gaussian_noise", "contrast"], "severities": [1, 5],
            "attacks": ["pgd"], "attack_budgets": [8], "pgd_steps": 2, "attack_max_samples": 10, "ood_max_samples": 15,
            "batch_size": 64}


def _inputs(tmp_path):
    params = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    params["robustness"] = SETTINGS
    params["evaluation"]["classifier_seeds"] = [4, 2]
    params_file = write_params(tmp_path / "params.yaml", params)
    test_images, test_labels = squares(8, seed=1)
    save_images(tmp_path / "private_test.npz", test_images, test_labels)
    public = np.random.default_rng(0).integers(0, 256, size=(50, 28, 28, 1), dtype=np.uint8)
    save_images(tmp_path / "public.npz", public, np.repeat([0, 1], 25),
                source_names=np.array(["digits", "shapes"]))
    torch.manual_seed(0)
    save_classifiers(tmp_path / "classifiers.safetensors", {4: SmallCNN(1, 10), 2: SmallCNN(1, 10)})
    return params_file


def _run(tmp_path, params_file, method, *extra, name=None):
    out = tmp_path / (name or method)
    code = main(["robustness", "--params", str(params_file), *extra, "--method", method,
                 "--classifier", str(tmp_path / "classifiers.safetensors"), "--test", str(tmp_path / "private_test.npz"),
                 "--public", str(tmp_path / "public.npz"), "--out-json", str(out / "robustness.json"),
                 "--out-csv", str(out / "robustness.csv"), "--out-png", str(out / "reliability.png")])
    assert code == 0
    return json.loads((out / "robustness.json").read_text()), pd.read_csv(out / "robustness.csv"), out


def test_record_names_the_classifier_and_the_settings(tmp_path):
    params_file = _inputs(tmp_path)
    summary, rows, out = _run(tmp_path, params_file, "pe", "--set", "seed=3", "--set", "privacy.epsilon=4")
    assert summary["classifier"]["method"] == "PE synthetic -> CNN"
    assert summary["classifier"]["epsilon"] == 4 and summary["classifier"]["seed"] == 3
    assert summary["classifier"]["classifier_seed"] == 4  # the first of evaluation.classifier_seeds
    assert summary["num_test"] == 40
    assert sorted(summary["ood"]["sets"]) == ["digits", "shapes"]
    assert all(s["num_images"] == 15 for s in summary["ood"]["sets"].values())
    assert summary["adversarial"]["num_samples"] == 10
    assert "not part of any DP release" in summary["note"]
    assert list(rows.columns) == ["metric", "corruption", "severity", "value"]
    per_severity = rows[rows.metric == "corruption_accuracy"]
    assert sorted(zip(per_severity.corruption, per_severity.severity)) == [
        ("contrast", 1), ("contrast", 5), ("gaussian_noise", 1), ("gaussian_noise", 5)]
    assert (out / "reliability.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_zero_cost_classifiers_carry_no_epsilon(tmp_path):
    params_file = _inputs(tmp_path)
    prior, _, _ = _run(tmp_path, params_file, "prior", "--set", "seed=1")
    real, _, _ = _run(tmp_path, params_file, "real")
    assert prior["classifier"]["epsilon"] is None and prior["classifier"]["seed"] == 1
    assert real["classifier"]["epsilon"] is None and real["classifier"]["seed"] is None


def test_rerun_gives_the_same_rows(tmp_path):
    params_file = _inputs(tmp_path)
    _, first, _ = _run(tmp_path, params_file, "pe")
    _, second, _ = _run(tmp_path, params_file, "pe")
    pd.testing.assert_frame_equal(first, second)


def test_table_has_one_row_per_method_and_epsilon(tmp_path):
    params_file = _inputs(tmp_path)
    inputs = []
    for seed in (0, 1):
        for epsilon in (1, 4):
            _, _, out = _run(tmp_path, params_file, "pe", "--set", f"seed={seed}", "--set", f"privacy.epsilon={epsilon}",
                             name=f"pe_{seed}_{epsilon}")
            inputs.append(out / "robustness.json")
    _, _, real = _run(tmp_path, params_file, "real")
    inputs.append(real / "robustness.json")
    out = tmp_path / "table"
    assert main(["robustness-table", "--inputs", *map(str, inputs), "--out-csv", str(out / "r.csv"),
                 "--out-md", str(out / "r.md"), "--out-corruptions-png", str(out / "c.png"),
                 "--out-attacks-png", str(out / "a.png"), "--out-reliability-png", str(out / "rel.png")]) == 0
    table = pd.read_csv(out / "r.csv")
    assert len(table) == 3 and list(table.n_seeds) == [2, 2, 1]
    assert "±" in (out / "r.md").read_text()
