"""Build the findings tables and figure from the recorded cells alone (results/<cell>/), never from a live run.

    python benchmarks/findings/tables.py          # writes results/comparison.md, robustness.md, accuracy.png, cells.md

Each cell's comparison.csv / robustness.csv hold one PE seed's rows (its sweep is one epsilon and one seed). A row of
the tables is one (method, epsilon): the mean and sample std over the PE seeds recorded for it, with n; the
real-data row has no PE seed, so its std is over the classifier seeds, as its own row says. The ddpm cells
contribute their PE and prior rows under "(DDPM only)" names. Wall times of each method's DP part come from the
privevo TIMING lines the cell's logs hold (timings.json), by step and folder.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cells import RESULTS  # noqa: E402

REAL = "real data, no privacy"
PE = "PE synthetic -> CNN"
PRIOR = "public prior (S_0) -> CNN"
# The rows a non-default config contributes, renamed so the tables tell them apart.
CONFIG_ROWS = {"ddpm": {PE: "PE, DDPM only -> CNN", PRIOR: "public prior (DDPM S_0) -> CNN"}}
# Each method's DP part, as (privevo step, a folder its log sits under): PE's iterations 1..T (the votes and the
# variations they steer, in the run folder), the DP-SGD baseline's training, and the DP-SGD fine-tuning of
# "PE + DP-SGD" (its PE part is a PE run of its own). Steps and folders, not rule names, so a renamed rule still counts.
DP_PART_STEPS = {"PE": ({"pe-histogram", "pe-variation", "pe-lookahead", "pe-release"}, "/pe/runs/"),
                 "DP-SGD": ({"dpsgd"}, "/dpsgd/"), "PE + DP-SGD (fine-tuning)": ({"dpsgd"}, "/mix/")}


def load_cells(results: Path = RESULTS) -> list[dict]:
    cells = []
    for provenance in sorted(results.glob("*/provenance.json")):
        folder = provenance.parent
        cell = {"dir": folder, **json.loads(provenance.read_text())}
        for name in ("comparison", "robustness"):
            path = folder / f"{name}.csv"
            cell[name] = pd.read_csv(path) if path.exists() else None
        timings = folder / "timings.json"
        cell["timings"] = json.loads(timings.read_text()) if timings.exists() else []
        cells.append(cell)
    return cells


def _rows_of(cell: dict, table: str) -> pd.DataFrame:
    frame = cell[table]
    if frame is None or frame.empty:
        return pd.DataFrame()
    frame = frame.copy()
    renames = CONFIG_ROWS.get(cell["config"])
    if renames is not None:  # a non-default config adds only the rows it exists for
        frame = frame[frame["method"].isin(renames)]
        frame["method"] = frame["method"].map(renames)
    frame["cell"] = cell["cell"]
    frame["pe_seed"] = cell["seed"]
    return frame


def _mean_std(values) -> tuple[float, float, int]:
    values = np.asarray([v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))],
                        dtype=float)
    if values.size == 0:
        return math.nan, math.nan, 0
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else math.nan, int(values.size)


def _dp_seconds(cell: dict, part: str) -> float | None:
    steps, folder = DP_PART_STEPS[part]
    seconds = [t["step_seconds"] for t in cell["timings"] if t["step"] in steps and folder in "/" + t["log"]]
    return float(sum(seconds)) if seconds else None


def comparison(cells: list[dict]) -> pd.DataFrame:
    """One row per (method, epsilon): accuracy and FD, mean +- std over PE seeds, with the privacy columns."""
    frames = [_rows_of(c, "comparison") for c in cells]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame()
    rows = pd.concat(frames, ignore_index=True)
    out = []
    for (method, epsilon), group in rows.groupby(["method", "epsilon"], sort=False, dropna=False):
        if method == REAL:  # one record shared by every cell: its own std over classifier seeds
            first = group.iloc[0]
            out.append({"method": method, "epsilon": epsilon, "delta": first["delta"], "accountant": "none",
                        "noise_multiplier": first["noise_multiplier"], "accuracy_mean": first["accuracy_mean"],
                        "accuracy_std": first["accuracy_std"], "n": int(first["num_seeds"]),
                        "std_over": first["std_over"], "fd_mean": first.get("fd_mean"), "fd_std": math.nan,
                        "pe_seeds": "", "dp_seconds_mean": math.nan})
            continue
        accuracy = _mean_std(group["accuracy_mean"])
        fd = _mean_std(group["fd_mean"]) if "fd_mean" in group else (math.nan, math.nan, 0)
        deltas = sorted(set(group["delta"].dropna()))
        accountants = sorted(set(group["accountant"].dropna().astype(str)))
        sigmas = sorted(set(group["noise_multiplier"].dropna().round(6)))
        out.append({"method": method, "epsilon": epsilon, "delta": deltas[0] if len(deltas) == 1 else str(deltas),
                    "accountant": "/".join(accountants),
                    "noise_multiplier": sigmas[0] if len(sigmas) == 1 else "/".join(map(str, sigmas)),
                    "accuracy_mean": accuracy[0], "accuracy_std": accuracy[1], "n": accuracy[2],
                    "std_over": "seeds (DP-SGD's own seed)" if method == "DP-SGD CNN" else "PE seeds", "fd_mean": fd[0], "fd_std": fd[1],
                    "pe_seeds": " ".join(str(s) for s in sorted(group["pe_seed"])),
                    "dp_seconds_mean": _dp_seconds_mean(cells, method, epsilon)})
    return pd.DataFrame(out)


def _dp_seconds_mean(cells: list[dict], method: str, epsilon: float) -> float:
    key = ("PE" if method.startswith("PE synthetic") or method.startswith("PE, DDPM") else
           "DP-SGD" if method == "DP-SGD CNN" else "PE + DP-SGD (fine-tuning)" if method.startswith("PE + DP-SGD")
           else None)
    if key is None:
        return math.nan
    config = "ddpm" if "DDPM" in method else "default"
    values = [_dp_seconds(c, key) for c in cells if c["config"] == config and c["epsilon"] == epsilon]
    return _mean_std(values)[0]


def robustness(cells: list[dict]) -> pd.DataFrame:
    """One row per (method, epsilon): each robustness metric's per-seed mean, then mean +- std over PE seeds."""
    frames = [_rows_of(c, "robustness") for c in cells]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame()
    rows = pd.concat(frames, ignore_index=True)
    metrics = [c[:-len("_mean")] for c in rows.columns if c.endswith("_mean")]
    out = []
    for (method, epsilon), group in rows.groupby(["method", "epsilon"], sort=False, dropna=False):
        row = {"method": method, "epsilon": epsilon, "n": len(group)}
        for metric in metrics:
            if method == REAL:
                row[f"{metric}_mean"], row[f"{metric}_std"] = group.iloc[0][f"{metric}_mean"], group.iloc[0][f"{metric}_std"]
            else:
                mean, std, _ = _mean_std(group[f"{metric}_mean"])
                row[f"{metric}_mean"], row[f"{metric}_std"] = mean, std
        if method == REAL:
            row["n"] = 1
        out.append(row)
    return pd.DataFrame(out)


def _pm(mean, std, digits=3, scale=1.0) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "-"
    text = f"{mean * scale:.{digits}f}"
    if isinstance(std, (int, float)) and not math.isnan(std):
        text += f" ± {std * scale:.{digits}f}"
    return text


def comparison_markdown(table: pd.DataFrame) -> str:
    lines = ["| method | epsilon | delta | sigma | accountant | accuracy (%) | FD | n | std over | DP part (s) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for _, r in table.sort_values(["epsilon", "method"]).iterrows():
        sigma = r["noise_multiplier"]
        sigma = f"{sigma:.3f}" if isinstance(sigma, float) and not math.isnan(sigma) else str(sigma)
        dp = r["dp_seconds_mean"]
        lines.append(f"| {r['method']} | {r['epsilon']:g} | {r['delta']} | {sigma} | {r['accountant']} | "
                     f"{_pm(r['accuracy_mean'], r['accuracy_std'], 1, 100)} | {_pm(r['fd_mean'], r['fd_std'], 1)} | "
                     f"{r['n']} | {r['std_over']} | {'-' if math.isnan(dp) else f'{dp:.0f}'} |")
    return "\n".join(lines) + "\n"


ROBUSTNESS_HEADLINE = [("accuracy", "clean acc. (%)", 100), ("ece", "ECE", 1)]


def robustness_markdown(table: pd.DataFrame) -> str:
    metrics = [c[:-len("_mean")] for c in table.columns if c.endswith("_mean")]
    header = "| method | epsilon | n | " + " | ".join(metrics) + " |"
    lines = [header, "|---|---|---|" + "---|" * len(metrics)]
    for _, r in table.sort_values(["epsilon", "method"]).iterrows():
        cells = [_pm(r[f"{m}_mean"], r[f"{m}_std"], 3) for m in metrics]
        lines.append(f"| {r['method']} | {r['epsilon']:g} | {r['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def cells_markdown(cells: list[dict]) -> str:
    lines = ["| cell | settings hash | commit | CPU | cores | precision | wall (s) | CPU (s) | finished |",
             "|---|---|---|---|---|---|---|---|---|"]
    for c in cells:
        lines.append(f"| {c['cell']} | {c['settings_hash']} | {c['commit'][:10]} | {c['cpu']} | {c['cores']} | "
                     f"{c.get('mixed_precision_auto_cpu', '?')} | {c['wall_seconds']:.0f} | {c['cpu_seconds']:.0f} | "
                     f"{c['finished']} |")
    return "\n".join(lines) + "\n"


def accuracy_figure(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for method, group in table[table["method"] != REAL].groupby("method", sort=True):
        group = group.sort_values("epsilon")
        axes.errorbar(group["epsilon"], group["accuracy_mean"] * 100,
                      yerr=np.nan_to_num(group["accuracy_std"].astype(float)) * 100, marker="o", capsize=3,
                      label=f"{method} (n={int(group['n'].min())}-{int(group['n'].max())})")
    real = table[table["method"] == REAL]
    if not real.empty:
        axes.axhline(float(real.iloc[0]["accuracy_mean"]) * 100, color="black", linestyle="--", label=REAL)
    axes.set_xscale("log")
    axes.set_xlabel("epsilon (delta as in the table)")
    axes.set_ylabel("test accuracy (%)")
    axes.set_title("Downstream accuracy, mean ± std over PE seeds")
    axes.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    figure.savefig(tmp, dpi=120)
    tmp.replace(path)
    plt.close(figure)


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    cells = load_cells(args.results)
    if not cells:
        print(f"no recorded cells under {args.results}")
        return 1
    table = comparison(cells)
    _write(args.results / "comparison.md", comparison_markdown(table))
    table.to_csv(args.results / "comparison.csv", index=False)
    robust = robustness(cells)
    if not robust.empty:
        _write(args.results / "robustness.md", robustness_markdown(robust))
        robust.to_csv(args.results / "robustness.csv", index=False)
    _write(args.results / "cells.md", cells_markdown(cells))
    accuracy_figure(table, args.results / "accuracy.png")
    print(comparison_markdown(table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
