"""One table over methods and epsilons: PE synthetic data against DP-SGD, the public prior and real data.

Each row is one (method, epsilon). Accuracy is the mean and sample std (ddof=1) over the sweep's seeds of
each seed's accuracy; for PE and the prior a seed's accuracy is itself the mean over the classifier seeds.
The real-data ceiling has no PE seed: its std is over classifier seeds, and the row says so.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

PE, DPSGD, PRIOR, REAL = "PE synthetic -> CNN", "DP-SGD CNN", "public prior (S_0) -> CNN", "real data, no privacy"
MIX = "PE + DP-SGD (fine-tuned)"
PUBLIC_PE = "public + PE -> CNN"
COLUMNS = ["method", "epsilon", "epsilon_accounted", "delta", "noise_multiplier", "accountant", "accuracy_mean", "accuracy_std",
           "num_seeds", "std_over", "classifier_seeds", "fd_metric", "fd_mean", "fd_std", "seeds", "note"]


def _spread(values: list[float]) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else float("nan")


def _same(records: list[dict], key: str):
    values = {r[key] for r in records}
    if len(values) != 1:
        raise ValueError(f"runs at one epsilon disagree on {key}: {sorted(values)}")
    return values.pop()


def comparison_table(*, pe: list[dict], prior: list[dict], real: dict, dpsgd: list[dict] = (),
                     mix: list[dict] = (), public_pe: list[dict] = ()) -> pd.DataFrame:
    """Rows per (method, epsilon) from PE metrics.json files, prior and real downstream.json files, and DP-SGD
    and "PE + DP-SGD" records (dpsgd.json merged with its test accuracy)."""
    rows = []
    # "public + PE" trains on the same releases (its records are the runs' metrics with its own accuracy).
    for method, records in ((PE, pe), (PUBLIC_PE, public_pe)):
        for epsilon in sorted({m["epsilon"] for m in records}):
            runs = [m for m in records if m["epsilon"] == epsilon]
            mean, std = _spread([m["accuracy_mean"] for m in runs])
            fd_mean, fd_std = _spread([m["fd_final"] for m in runs])
            notes = [] if all(m["is_dp_release"] for m in runs) else ["NOT a DP release (debug noise)"]
            if method == PUBLIC_PE:
                notes.append("CNN starts from a CNN trained on the public set's own labels (no extra privacy cost)")
            rows.append({"method": method, "epsilon": epsilon,
                         "epsilon_accounted": max(m.get("epsilon_accounted", m["epsilon"]) for m in runs),
                         "delta": _same(runs, "delta"),
                         "noise_multiplier": _same(runs, "noise_multiplier"), "accountant": _same(runs, "accountant"),
                         "accuracy_mean": mean, "accuracy_std": std, "num_seeds": len(runs), "std_over": "PE seeds",
                         "classifier_seeds": _same(runs, "accuracy_seeds"), "fd_metric": _same(runs, "fd_metric"),
                         "fd_mean": fd_mean, "fd_std": fd_std, "seeds": " ".join(str(m["seed"]) for m in runs),
                         "note": "; ".join(notes)})
    # DP-SGD is calibrated to the target epsilon; its accountant's value is at most the target (an upper bound
    # on the real cost), so rows group by target and show the largest accounted value over seeds. "PE + DP-SGD"
    # likewise, with epsilon the PLD composition of its PE release and its DP-SGD steps.
    for method, records, seeds_name in ((DPSGD, dpsgd, "DP-SGD seeds"), (MIX, mix, "PE seeds")):
        for epsilon in sorted({r["target_epsilon"] for r in records}):
            runs = [r for r in records if r["target_epsilon"] == epsilon]
            mean, std = _spread([r["accuracy"] for r in runs])
            notes = sorted({w for r in runs for w in r.get("warnings", [])})
            if method == MIX:
                notes.insert(0, f"PE part at epsilon {_same(runs, 'pe_epsilon'):.3g} (pe_fraction "
                                f"{_same(runs, 'pe_fraction'):g}), DP-SGD noise solved for the rest")
            rows.append({"method": method, "epsilon": epsilon, "epsilon_accounted": max(r["epsilon"] for r in runs),
                         "delta": _same(runs, "delta"),
                         "noise_multiplier": _same(runs, "noise_multiplier"), "accountant": _same(runs, "accountant"),
                         "accuracy_mean": mean, "accuracy_std": std, "num_seeds": len(runs), "std_over": seeds_name,
                         "classifier_seeds": 1, "fd_metric": "", "fd_mean": math.nan, "fd_std": math.nan,
                         "seeds": " ".join(str(r["seed"]) for r in runs), "note": "; ".join(notes)})
    if prior:
        mean, std = _spread([p["accuracy_mean"] for p in prior])
        # S_0 is the population PE starts from, so its FD is each seed's first point of the FD curve.
        fd = list({m["seed"]: m["fd_initial"] for m in pe}.values())
        fd_mean, fd_std = _spread(fd) if fd else (math.nan, math.nan)
        rows.append({"method": PRIOR, "epsilon": 0.0, "epsilon_accounted": 0.0, "delta": 0.0, "noise_multiplier": math.nan,
                     "accountant": "none (no private data)", "accuracy_mean": mean, "accuracy_std": std,
                     "num_seeds": len(prior), "std_over": "PE seeds", "classifier_seeds": len(prior[0]["seeds"]),
                     "fd_metric": pe[0]["fd_metric"] if pe else "", "fd_mean": fd_mean, "fd_std": fd_std,
                     "seeds": " ".join(str(p.get("seed", "")) for p in prior),
                     "note": "S_0 from the public foundation model, at zero privacy cost"})
    rows.append({"method": REAL, "epsilon": math.inf, "epsilon_accounted": math.inf, "delta": math.nan, "noise_multiplier": math.nan,
                 "accountant": "none (not private)", "accuracy_mean": real["accuracy_mean"],
                 "accuracy_std": real["accuracy_std"], "num_seeds": len(real["seeds"]), "std_over": "classifier seeds",
                 "classifier_seeds": len(real["seeds"]), "fd_metric": "", "fd_mean": math.nan, "fd_std": math.nan,
                 "seeds": " ".join(str(s) for s in real["seeds"]), "note": "reference ceiling"})
    return pd.DataFrame(rows, columns=COLUMNS)


def _cell(value, digits: int = 4) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if math.isinf(value):
            return "inf"
        return f"{value:.{digits}g}"
    return str(value)


def comparison_markdown(table: pd.DataFrame, *, evaluated_on: str = "test split") -> str:
    lines = ["# Methods compared at equal privacy", "",
             f"Accuracy of the same CNN on the real {evaluated_on} (evaluation: reads private data, not part of any "
             "release).",
             "`accuracy` is mean +- sample std over `num_seeds` seeds (`std_over`); for PE and the prior each seed's",
             "value is itself the mean over `classifier_seeds` CNN seeds.", "",
             "`epsilon` is the target; `accounted` the accountant's value (largest over seeds), never above it.", "",
             "| method | epsilon | accounted | delta | sigma | accountant | accuracy (%) | seeds | FD | note |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in table.itertuples(index=False):
        std = "" if math.isnan(row.accuracy_std) else f" +- {100 * row.accuracy_std:.1f}"
        fd = "-" if math.isnan(row.fd_mean) else f"{row.fd_metric} {row.fd_mean:.0f}" + (
            "" if math.isnan(row.fd_std) else f" +- {row.fd_std:.0f}")
        lines.append(f"| {row.method} | {_cell(row.epsilon)} | {_cell(row.epsilon_accounted)} | {_cell(row.delta)} | {_cell(row.noise_multiplier)} | "
                     f"{row.accountant} | {100 * row.accuracy_mean:.1f}{std} | {row.num_seeds} ({row.std_over}) | "
                     f"{fd} | {row.note} |")
    return "\n".join(lines) + "\n"


def save_comparison_plot(path, table: pd.DataFrame) -> None:
    """Accuracy against epsilon per method (log x); the prior and the ceiling as horizontal lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from privevo.io.artifacts import atomic_path

    fig, ax = plt.subplots(figsize=(6, 4))
    finite = table[np.isfinite(table["epsilon"]) & (table["epsilon"] > 0)]
    for method, group in finite.groupby("method", sort=False):
        group = group.sort_values("epsilon")
        ax.errorbar(group["epsilon"], 100 * group["accuracy_mean"], yerr=100 * group["accuracy_std"].fillna(0),
                    marker="o", capsize=3, label=method)
    for method, style in ((PRIOR, ":"), (REAL, "--")):
        row = table[table["method"] == method]
        if len(row):
            ax.axhline(100 * row["accuracy_mean"].item(), linestyle=style, color="grey", label=method)
    ax.set_xscale("log")
    ax.set_xlabel("epsilon (delta as in the table)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Accuracy against epsilon (mean +- std over seeds)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
