"""The robustness report: rows per (method, epsilon), mean and sample std over seeds, refusals, table files, figures."""

import copy
import math

import pandas as pd
import pytest

from privevo.reports.robustness import (
    pooled_reliability,
    robustness_table,
    save_attack_budget_plot,
    save_corruption_severity_plot,
    save_reliability_diagrams,
    write_robustness_tables,
)

PE, DPSGD, PRIOR, REAL = ("PE synthetic -> CNN", "DP-SGD CNN", "public prior (S_0) -> CNN",
                          "non-private CNN on real data")
CORRUPTIONS, SEVERITIES = ("gaussian_noise", "contrast"), (1, 2, 3, 4, 5)


def fake_record(method=PE, epsilon=1.0, seed=0, clean=0.6, ece=0.2, msp=(0.8, 0.6), delta=1e-5, classifier_seed=0):
    """A robustness.json record with the structure evaluate_robustness returns, plus the classifier entry.

    Corruption accuracy is clean - 0.05 * severity for gaussian_noise and clean - 0.01 * severity for contrast,
    so the mean over corruptions and severities is clean - 0.09; FGSM / PGD lose 0.1 / 0.2 per 2/255 and 8/255.
    """
    accuracy = {"gaussian_noise": {str(s): clean - 0.05 * s for s in SEVERITIES},
                "contrast": {str(s): clean - 0.01 * s for s in SEVERITIES}}
    mean = clean - 0.09
    results = [{"attack": attack, "norm": "Linf", "epsilon": budget, "epsilon_255": budget * 255,
                "steps": 1 if attack == "fgsm" else 20, "step_size": budget if attack == "fgsm" else 2.5 * budget / 20,
                "step_size_rule": "epsilon (one step)" if attack == "fgsm" else "2.5 * epsilon / steps",
                "random_start": attack == "pgd", "accuracy": clean - drop * (1 + (budget > 3 / 255)),
                "clean_accuracy": clean, "num_examples": 50, "clean_kept": 0}
               for attack, drop in (("fgsm", 0.1), ("pgd", 0.2)) for budget in (2 / 255, 8 / 255)]
    reliability = [{"lower": 0.0, "upper": 0.5, "confidence": 0.4, "accuracy": 0.3, "count": 10},
                   {"lower": 0.5, "upper": 1.0, "confidence": 0.8, "accuracy": 0.7, "count": 30 + (seed or 0) * 10}]
    return {
        "num_test": 100,
        "clean_accuracy": clean,
        "calibration": {"ece": ece, "ece_bins": 2, "ece_norm": "l1", "nll": 1.0 + (seed or 0), "brier": 0.5,
                        "num_examples": 100, "num_confidence_one": 0, "reliability": reliability},
        "corruptions": {"names": list(CORRUPTIONS), "severities": list(SEVERITIES), "accuracy": accuracy,
                        "mean_accuracy_per_corruption": {}, "mean_accuracy": mean,
                        "relative_drop": (clean - mean) / clean, "seed": classifier_seed},
        "adversarial": {"norm": "Linf", "num_samples": 50, "subsample": "simple random sample",
                        "clean_accuracy_subsample": clean + 0.01, "results": results},
        "ood": {"scores": ["msp", "energy"], "energy_temperature": 1.0, "positive": "in-distribution (test set)",
                "sets": {"letters": {"num_images": 20, "auroc": {"msp": msp[0], "energy": 0.9}},
                         "noise": {"num_images": 20, "auroc": {"msp": msp[1], "energy": 0.7}}}},
        "seconds": {},
        "classifier": {"method": method, "epsilon": epsilon, "delta": delta, "seed": seed,
                       "classifier_seed": classifier_seed, "weights": f"runs/{seed}/cnn.safetensors"},
    }


@pytest.fixture
def records():
    pe1 = [fake_record(seed=s, clean=c, ece=e, msp=(m, m - 0.2))
           for s, c, e, m in zip((0, 1, 2), (0.5, 0.6, 0.7), (0.1, 0.2, 0.3), (0.8, 0.9, 1.0))]
    return [fake_record(epsilon=10.0, seed=0, clean=0.8), *pe1,
            fake_record(DPSGD, epsilon=1.0, seed=0, clean=0.4),
            fake_record(PE, epsilon=None, seed=5, clean=0.3, delta=None),  # an epsilon of None sorts first
            fake_record(REAL, epsilon=None, seed=None, clean=0.95, delta=None, classifier_seed=3)]


def test_one_row_per_method_and_epsilon_in_order(records):
    table = robustness_table(records)
    keys = [(m, None if math.isnan(e) else e) for m, e in zip(table["method"], table["epsilon"])]
    assert keys == [(PE, None), (PE, 1.0), (PE, 10.0), (DPSGD, 1.0), (REAL, None)]
    assert list(table["n_seeds"]) == [1, 3, 1, 1, 1]
    assert table.loc[1, "seeds"] == "0 1 2" and math.isnan(table.loc[4, "delta"])


def test_golden_mean_and_sample_std_over_three_seeds(records):
    row = robustness_table(records).iloc[1]
    assert row["clean_accuracy_mean"] == pytest.approx(0.6) and row["clean_accuracy_std"] == pytest.approx(0.1)
    assert row["ece_mean"] == pytest.approx(0.2) and row["ece_std"] == pytest.approx(0.1)
    assert row["nll_mean"] == pytest.approx(2.0) and row["nll_std"] == pytest.approx(1.0)
    assert row["brier_std"] == 0.0
    assert row["mean_corruption_accuracy_mean"] == pytest.approx(0.51)
    assert row["mean_corruption_accuracy_std"] == pytest.approx(0.1)
    # Each family: the mean over its five severities (clean - 0.05 * 3, clean - 0.01 * 3), then over seeds.
    assert row["gaussian_noise_accuracy_mean"] == pytest.approx(0.45)
    assert row["gaussian_noise_accuracy_std"] == pytest.approx(0.1)
    assert row["contrast_accuracy_mean"] == pytest.approx(0.57)
    assert row["pgd_accuracy@8/255_mean"] == pytest.approx(0.2) and row["pgd_accuracy@8/255_std"] == pytest.approx(0.1)
    assert row["fgsm_accuracy@2/255_mean"] == pytest.approx(0.5)
    assert row["attack_subset_clean_accuracy_mean"] == pytest.approx(0.61)
    # AUROC: per record the mean over the two OOD sets (0.7, 0.8, 0.9), then over seeds.
    assert row["ood_auroc_msp_mean"] == pytest.approx(0.8) and row["ood_auroc_msp_std"] == pytest.approx(0.1)
    assert row["ood_auroc_energy_mean"] == pytest.approx(0.8) and row["ood_auroc_energy_std"] == pytest.approx(0.0, abs=1e-12)
    single = robustness_table(records).iloc[0]
    assert single["clean_accuracy_std"] == 0.0 and single["n_seeds"] == 1  # ddof=1 is undefined for one seed
    assert row["ece_bins"] == 2 and row["attack_samples"] == 50 and row["severities"] == "1, 2, 3, 4, 5"


@pytest.mark.parametrize("change, setting", [
    (lambda r: r["classifier"].update(delta=1e-6), "delta"),
    (lambda r: r["calibration"].update(ece_bins=15), "ECE bins"),
    (lambda r: r["adversarial"].update(num_samples=500), "number of attacked samples"),
    (lambda r: r["corruptions"].update(severities=[1, 2]), "corruption severities"),
    (lambda r: r["corruptions"].update(names=["contrast"]), "corruption names"),
    (lambda r: r["adversarial"]["results"][-1].update(steps=10), "attacks"),
])
def test_refuses_to_average_records_with_different_settings(records, change, setting):
    odd = copy.deepcopy(records[2])
    change(odd)
    with pytest.raises(ValueError, match=rf"PE synthetic -> CNN, eps 1 disagree on {setting}"):
        robustness_table([*records[1:2], odd, *records[3:]])


def test_refuses_the_same_classifier_twice_and_records_without_a_method(records):
    with pytest.raises(ValueError, match="repeat"):
        robustness_table([records[1], records[1]])
    with pytest.raises(ValueError, match="no 'classifier'"):
        robustness_table([{"clean_accuracy": 0.5}])


def test_tables_markdown_with_plus_minus_and_footnotes(tmp_path, records):
    table = robustness_table(records)
    write_robustness_tables(tmp_path / "robustness.csv", tmp_path / "robustness.md", table, notes=["debug run"])
    markdown = (tmp_path / "robustness.md").read_text()
    assert "| PE synthetic -> CNN | 1 | 1e-05 | 3 | 60.0 ± 10.0 | 0.200 ± 0.100 | 2.000 ± 1.000 |" in markdown
    assert "| PE synthetic -> CNN | none | none | 1 |" in markdown.splitlines()[6]
    assert "PGD 8/255 (%)" in markdown and "20.0 ± 10.0" in markdown and "OOD AUROC msp" in markdown
    assert "| gaussian noise (%) | contrast (%) |" in markdown and "45.0 ± 10.0 | 57.0 ± 10.0" in markdown
    for footnote in ("ddof=1", "PE synthetic -> CNN, eps 1: 3 (seeds 0 1 2)", "2 equal-width bins",
                     "gaussian_noise, contrast at severities 1, 2, 3, 4, 5", "Linf at budgets 2/255, 8/255",
                     "pgd: 20 steps of 2.5 * epsilon / steps, random start", "on 50 test images",
                     "letters (20 images), noise (20 images)", "real test set", "not part of any DP release",
                     "debug run"):
        assert footnote in markdown, footnote
    csv = pd.read_csv(tmp_path / "robustness.csv")
    assert csv.loc[1, "clean_accuracy_mean"] == pytest.approx(0.6) and "pgd_accuracy@8/255_std" in csv.columns
    assert sorted(p.name for p in tmp_path.iterdir()) == ["robustness.csv", "robustness.md"]


def test_reliability_bins_pool_by_count(records):
    pooled = pooled_reliability(records[1:4])
    assert [b["count"] for b in pooled] == [30, 120]
    assert pooled[1]["accuracy"] == pytest.approx(0.7) and pooled[0]["confidence"] == pytest.approx(0.4)
    uneven = copy.deepcopy(records[1:3])
    uneven[1]["calibration"]["reliability"][1].update(accuracy=0.9)
    assert pooled_reliability(uneven)[1]["accuracy"] == pytest.approx((30 * 0.7 + 40 * 0.9) / 70)


def test_three_figures_are_valid_pngs_and_no_temp_files_remain(tmp_path, records):
    figures = {"corruptions.png": save_corruption_severity_plot, "attacks.png": save_attack_budget_plot,
               "reliability.png": save_reliability_diagrams}
    for name, save in figures.items():
        save(tmp_path / name, records)
    for name in figures:
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, name
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(figures)
