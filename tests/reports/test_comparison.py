"""The comparison table: one row per (method, epsilon), mean and sample std over seeds, privacy triple."""

import math

import numpy as np
import pytest

from privevo.reports.comparison import DPSGD, PE, PRIOR, REAL, comparison_markdown, comparison_table
from privevo.reports.publish import headline


def pe_metrics(epsilon, seed, accuracy, fd=100.0):
    return {"epsilon": epsilon, "delta": 1e-5, "noise_multiplier": 10.0 / epsilon, "accountant": "gdp",
            "accuracy_mean": accuracy, "accuracy_seeds": 3, "fd_metric": "FD-Lite0", "fd_initial": 500.0 + seed,
            "fd_final": fd, "seed": seed, "is_dp_release": True}


@pytest.fixture
def table():
    pe = [pe_metrics(1, 0, 0.40), pe_metrics(1, 1, 0.30), pe_metrics(1, 2, 0.35),
          pe_metrics(10, 0, 0.50), pe_metrics(10, 1, 0.52), pe_metrics(10, 2, 0.54)]
    prior = [{"accuracy_mean": a, "seeds": [0, 1, 2], "seed": s} for s, a in enumerate([0.2, 0.25, 0.3])]
    dpsgd = [{"epsilon": 0.998 - s / 1000, "target_epsilon": 1, "delta": 1e-5, "noise_multiplier": 1.1,
              "accountant": "prv", "accuracy": a, "seed": s} for s, a in enumerate([0.7, 0.72])]
    real = {"accuracy_mean": 0.9, "accuracy_std": 0.01, "seeds": [0, 1, 2]}
    return comparison_table(pe=pe, prior=prior, real=real, dpsgd=dpsgd)


def test_one_row_per_method_and_epsilon(table):
    assert list(zip(table["method"], table["epsilon"])) == [(PE, 1), (PE, 10), (DPSGD, 1), (PRIOR, 0.0),
                                                           (REAL, math.inf)]


def test_mean_and_sample_std_over_seeds(table):
    row = table.iloc[0]
    assert row["accuracy_mean"] == pytest.approx(0.35) and row["accuracy_std"] == pytest.approx(np.std([.4, .3, .35], ddof=1))
    assert row["num_seeds"] == 3 and row["std_over"] == "PE seeds" and row["classifier_seeds"] == 3
    assert row["seeds"] == "0 1 2" and row["noise_multiplier"] == 10.0 and row["accountant"] == "gdp"
    prior = table[table["method"] == PRIOR].iloc[0]
    assert prior["fd_mean"] == pytest.approx(501.0) and prior["accuracy_mean"] == pytest.approx(0.25)
    assert table[table["method"] == REAL].iloc[0]["std_over"] == "classifier seeds"


def test_runs_at_one_epsilon_must_agree_on_the_privacy_triple():
    pe = [pe_metrics(1, 0, 0.4), {**pe_metrics(1, 1, 0.3), "delta": 1e-6}]
    with pytest.raises(ValueError, match="disagree on delta"):
        comparison_table(pe=pe, prior=[], real={"accuracy_mean": 0.9, "accuracy_std": 0.0, "seeds": [0]})


def test_markdown_and_dvc_headline_columns(table):
    markdown = comparison_markdown(table)
    assert "| PE synthetic -> CNN | 1 | 1 | 1e-05 | 10 | gdp | 35.0 +- 5.0 | 3 (PE seeds) | FD-Lite0 100 +- 0 |" in markdown
    assert "| DP-SGD CNN | 1 | 0.998 |" in markdown
    columns = headline(table)
    assert columns["pe_eps_1_accuracy"] == pytest.approx(0.35) and columns["dpsgd_eps_1_accuracy"] == pytest.approx(0.71)
    assert columns["real_accuracy"] == 0.9 and "pe_eps_10_fd" in columns


def test_dpsgd_warnings_reach_the_table():
    dpsgd = [{"epsilon": 1, "target_epsilon": 1, "delta": 1e-5, "noise_multiplier": 1.1, "accountant": "prv",
              "accuracy": 0.7, "seed": 0, "warnings": ["accounting assumes Poisson sampling"]}]
    table = comparison_table(pe=[pe_metrics(1, 0, 0.4)], prior=[], dpsgd=dpsgd,
                             real={"accuracy_mean": 0.9, "accuracy_std": 0.0, "seeds": [0]})
    assert table[table["method"] == DPSGD]["note"].item() == "accounting assumes Poisson sampling"


def test_pe_plus_dpsgd_rows_name_the_split():
    from privevo.reports.comparison import MIX

    mix = [{"epsilon": 3.98, "target_epsilon": 4, "delta": 1e-5, "noise_multiplier": 1.3, "accountant": "pld",
            "accuracy": a, "seed": s, "pe_epsilon": 1.0, "pe_fraction": 0.25} for s, a in enumerate([0.6, 0.64])]
    table = comparison_table(pe=[pe_metrics(4, 0, 0.4)], prior=[], mix=mix,
                             real={"accuracy_mean": 0.9, "accuracy_std": 0.0, "seeds": [0]})
    row = table[table["method"] == MIX].iloc[0]
    assert row["epsilon"] == 4 and row["epsilon_accounted"] == 3.98 and row["accuracy_mean"] == pytest.approx(0.62)
    assert row["note"].startswith("PE part at epsilon 1 (pe_fraction 0.25)") and row["std_over"] == "PE seeds"
    assert headline(table)["mix_eps_4_accuracy"] == pytest.approx(0.62)


def test_public_plus_pe_rows_use_the_runs_privacy_triple():
    from privevo.reports.comparison import PUBLIC_PE

    public_pe = [{**pe_metrics(1, s, 0.0), "accuracy_mean": a} for s, a in enumerate([0.5, 0.6])]
    table = comparison_table(pe=[pe_metrics(1, 0, 0.4), pe_metrics(1, 1, 0.3)], prior=[], public_pe=public_pe,
                             real={"accuracy_mean": 0.9, "accuracy_std": 0.0, "seeds": [0]})
    row = table[table["method"] == PUBLIC_PE].iloc[0]
    assert row["epsilon"] == 1 and row["noise_multiplier"] == 10.0 and row["accuracy_mean"] == pytest.approx(0.55)
    assert "no extra privacy cost" in row["note"] and headline(table)["public_pe_eps_1_accuracy"] == pytest.approx(0.55)
