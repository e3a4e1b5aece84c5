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
from cells import RESULTS, load_campaign  # noqa: E402
from privevo.config.params import number_tag  # noqa: E402

REAL = "real data, no privacy"
PE = "PE synthetic -> CNN"
PRIOR = "public prior (S_0) -> CNN"
PUBLIC_PE = "public + PE -> CNN"
MIX = "PE + DP-SGD (fine-tuned)"
PE_DDPM = "PE, DDPM only -> CNN"
# The rows a non-default config contributes, renamed so the tables tell them apart.
CONFIG_ROWS = {"ddpm": {PE: PE_DDPM, PRIOR: "public prior (DDPM S_0) -> CNN"}, "mix": {MIX: MIX}}
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
        mix = folder / "mix.json"
        cell["mix"] = json.loads(mix.read_text()) if mix.exists() else None
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


def _dp_seconds(cell: dict, part: str, epsilon: float | None = None) -> float | None:
    """Seconds of a cell's jobs in one DP part; ``epsilon`` keeps only that epsilon's folder (a mix cell at epsilon 1
    runs PE at 1 and its mix's PE part at 0.1)."""
    steps, folder = DP_PART_STEPS[part]
    tag = None if epsilon is None else f"/eps_{number_tag(epsilon)}/"
    seconds = [t["step_seconds"] for t in cell["timings"] if t["step"] in steps and folder in "/" + t["log"]
               and (tag is None or tag in "/" + t["log"])]
    return float(sum(seconds)) if seconds else None


def comparison(cells: list[dict]) -> pd.DataFrame:
    """One row per (method, epsilon): accuracy and FD, mean +- std over PE seeds, with the privacy columns."""
    frames = [_rows_of(c, "comparison") for c in cells]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame()
    rows = pd.concat(frames, ignore_index=True)
    # A seed's prior classifier reads no epsilon, so every epsilon's cell of that seed holds the same row: count it once.
    rows = rows.drop_duplicates(subset=["method", "epsilon", "pe_seed"], keep="first")
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
                    "noise_multiplier": (math.nan if not sigmas else sigmas[0] if len(sigmas) == 1
                                         else "/".join(map(str, sigmas))),
                    "accuracy_mean": accuracy[0], "accuracy_std": accuracy[1], "n": accuracy[2],
                    "std_over": "seeds (DP-SGD's own seed)" if method == "DP-SGD CNN" else "PE seeds", "fd_mean": fd[0], "fd_std": fd[1],
                    "pe_seeds": " ".join(str(s) for s in sorted(group["pe_seed"])),
                    "dp_seconds_mean": _dp_seconds_mean(cells, method, set(group["cell"]))})
    return pd.DataFrame(out)


def _dp_seconds_mean(cells: list[dict], method: str, cell_ids: set[str]) -> float:
    """Mean over the row's cells (one per seed) of the seconds its method spends on private data. "public + PE" is
    the PE run's (its public CNN reads no private data); "PE + DP-SGD" is its PE run's (at the epsilon in mix.json:
    run in the mix's own cell, or recorded by that epsilon's cell of the same config) plus the DP-SGD fine-tuning."""
    def cell_at(config, eps, seed):
        return next((c for c in cells if c["config"] == config and c["epsilon"] == eps and c["seed"] == seed), None)

    parts = {PE: "PE", PUBLIC_PE: "PE", PE_DDPM: "PE", "DP-SGD CNN": "DP-SGD", MIX: "PE + DP-SGD (fine-tuning)"}
    if method not in parts:
        return math.nan
    values = []
    for cell in (c for c in cells if c["cell"] in cell_ids):
        seconds = _dp_seconds(cell, parts[method])
        if method == MIX:
            pe_epsilon = float(cell["mix"]["pe_epsilon"])
            pe_seconds = _dp_seconds(cell, "PE", pe_epsilon)
            if pe_seconds is None:
                pe_cell = cell_at(cell["config"], pe_epsilon, cell["seed"])
                pe_seconds = _dp_seconds(pe_cell, "PE", pe_epsilon) if pe_cell is not None else None
            seconds = None if pe_seconds is None or seconds is None else seconds + pe_seconds
        values.append(seconds)
    return _mean_std(values)[0]


def robustness_records(cells: list[dict]) -> tuple[list[dict], list[str]]:
    """Every classifier's robustness record from the cells (results/<cell>/robustness/*.json), each classifier once.

    The real-data CNN and a seed's prior classifier belong to several cells; a non-default config contributes only the
    rows it exists for, renamed. Returns the records and the cells that hold none (recorded before records were)."""
    records, seen, missing = [], set(), []
    for cell in cells:
        folder = cell["dir"] / "robustness"
        if not folder.is_dir():
            missing.append(cell["cell"])
            continue
        renames = CONFIG_ROWS.get(cell["config"])
        for path in sorted(folder.glob("*.json")):
            record = json.loads(path.read_text())
            classifier = record["classifier"]
            if renames is not None:
                if classifier["method"] not in renames:
                    continue
                classifier["method"] = renames[classifier["method"]]
            key = (classifier["method"], classifier.get("epsilon"), classifier.get("seed"),
                   classifier.get("classifier_seed"), classifier.get("weights"))
            if key not in seen:
                seen.add(key)
                records.append(record)
    return records, missing


def robustness(cells: list[dict]) -> pd.DataFrame:
    """One row per (method, epsilon) by the workflow's own robustness table: mean +- std over the row's seeds."""
    from privevo.reports.robustness import robustness_table

    records, missing = robustness_records(cells)
    if missing:
        print(f"robustness: no records in {', '.join(missing)} (run_cells.py --collect-records adds them)")
    return robustness_table(records) if records else pd.DataFrame()


def _pm(mean, std, digits=3, scale=1.0) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "-"
    text = f"{mean * scale:.{digits}f}"
    if isinstance(std, (int, float)) and not math.isnan(std):
        text += f" ± {std * scale:.{digits}f}"
    return text


def _text(value, digits: int | None = None) -> str:
    """A table cell: "-" for a missing number, else the value (rounded to ``digits`` when given)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return "-"
    if isinstance(value, float) and digits is not None:
        return f"{value:.{digits}f}"
    return f"{value:g}" if isinstance(value, float) else str(value)


# Display order: the ceiling, the baselines, PE and what is built on it, then the priors.
METHOD_ORDER = [REAL, "DP-SGD CNN", PE, PE_DDPM, PUBLIC_PE, MIX, PRIOR, "public prior (DDPM S_0) -> CNN"]


def _ordered(table: pd.DataFrame) -> pd.DataFrame:
    rank = {m: i for i, m in enumerate(METHOD_ORDER)}
    key = table["method"].map(lambda m: rank.get(m, len(rank))) * 1e6 + table["epsilon"].fillna(-1).clip(upper=1e5)
    return table.assign(_key=key).sort_values("_key").drop(columns="_key")


def _epsilon_text(epsilon, method: str) -> str:
    """The robustness table has no epsilon (NaN) for both rows without a privacy cost; the method tells them apart."""
    if method == REAL or (epsilon is not None and math.isinf(epsilon)):
        return "∞ (no privacy)"
    if epsilon is None or math.isnan(epsilon) or epsilon == 0:
        return "0 (public only)"
    return f"{epsilon:g}"


def comparison_markdown(table: pd.DataFrame) -> str:
    lines = ["| method | epsilon | delta | sigma | accountant | accuracy (%) | FD-Lite0 | n | std over | DP part (s) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for _, r in _ordered(table).iterrows():
        sigma = r["noise_multiplier"]
        sigma = _text(sigma, 3) if isinstance(sigma, float) else str(sigma)
        delta = "-" if math.isinf(r["epsilon"]) else _text(r["delta"])
        lines.append(f"| {r['method']} | {_epsilon_text(r['epsilon'], r['method'])} | {delta} | {sigma} | {r['accountant']} | "
                     f"{_pm(r['accuracy_mean'], r['accuracy_std'] if r['n'] > 1 else math.nan, 1, 100)} | "
                     f"{_pm(r['fd_mean'], r['fd_std'], 0)} | "
                     f"{r['n']} | {r['std_over']} | {_text(r['dp_seconds_mean'], 0)} |")
    return "\n".join(lines) + "\n"


# The README's two robustness tables: (column, header, scale, digits) over the workflow table's metric columns.
ROBUSTNESS_ATTACKS = [("clean_accuracy", "clean (%)", 100, 1), ("ece", "ECE", 1, 3),
                      ("fgsm_accuracy@2/255", "FGSM 2/255 (%)", 100, 1), ("fgsm_accuracy@8/255", "FGSM 8/255 (%)", 100, 1),
                      ("pgd_accuracy@2/255", "PGD 2/255 (%)", 100, 1), ("pgd_accuracy@8/255", "PGD 8/255 (%)", 100, 1),
                      ("ood_auroc_msp", "OOD AUROC, MSP", 1, 3), ("ood_auroc_energy", "OOD AUROC, energy", 1, 3)]


def _corruption_columns(table: pd.DataFrame) -> list[tuple[str, str, int, int]]:
    names = str(table["corruptions"].iloc[0]).split(", ") if "corruptions" in table and len(table) else []
    return [("mean_corruption_accuracy", "all (%)", 100, 1), ("relative_corruption_drop", "relative drop (%)", 100, 1),
            *((f"{name}_accuracy", f"{name.replace('_', ' ')} (%)", 100, 1) for name in names)]


def robustness_summary_markdown(table: pd.DataFrame) -> str:
    """Two tables a page can hold: calibration, attacks and OOD; then accuracy under each corruption family."""
    out = []
    for title, columns in (("Calibration, attacks and OOD detection", ROBUSTNESS_ATTACKS),
                           ("Accuracy under common corruptions (each family: mean over its severities)",
                            _corruption_columns(table))):
        columns = [c for c in columns if f"{c[0]}_mean" in table]
        out += [f"**{title}**", "", "| method | epsilon | n | " + " | ".join(h for _, h, _, _ in columns) + " |",
                "|---|---|---|" + "---|" * len(columns)]
        for _, r in _ordered(table).iterrows():
            cells = [_pm(r[f"{m}_mean"], r[f"{m}_std"] if r["n_seeds"] > 1 else math.nan, digits, scale)
                     for m, _, scale, digits in columns]
            out.append(f"| {r['method']} | {_epsilon_text(r['epsilon'], r['method'])} | {r['n_seeds']} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def _load(cell: dict) -> str:
    """The 1-minute load average before and after the cell: above the 2 cores' own work, something ran beside it."""
    before, after = cell.get("load_average_before"), cell.get("load_average_after")
    return "-" if not before or not after else f"{before[0]:.1f} / {after[0]:.1f}"


def cells_markdown(cells: list[dict]) -> str:
    """Every recorded cell with its provenance, then what each (config, epsilon) cost: a cell reuses what earlier
    cells computed (data, models, S_0, real-data CNNs), so its jobs and seconds are what it added."""
    lines = ["| cell | settings hash | commit | CPU | cores | precision | jobs run | step seconds | wall (s) | CPU (s) "
             "| load avg. start / end | finished |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in cells:
        steps = sum(t["step_seconds"] for t in c["timings"])
        lines.append(f"| {c['cell']} | {c['settings_hash']} | {c['commit'][:10]} | {c['cpu']} | {c['cores']} | "
                     f"{c.get('mixed_precision_auto_cpu', '?')} | {len(c['timings'])} | {steps:.0f} | "
                     f"{c['wall_seconds']:.0f} | {c['cpu_seconds']:.0f} | {_load(c)} | {c['finished']} |")
    lines += ["", "| config | epsilon | cells | wall, sum (s) | wall per cell (s) |", "|---|---|---|---|---|"]
    groups: dict[tuple, list[float]] = {}
    for c in cells:
        groups.setdefault((c["config"], c["epsilon"]), []).append(c["wall_seconds"])
    for (config, epsilon), walls in groups.items():
        lines.append(f"| {config} | {epsilon:g} | {len(walls)} | {sum(walls):.0f} | "
                     f"{', '.join(f'{w:.0f}' for w in walls)} |")
    return "\n".join(lines) + "\n"


def accuracy_figure(table: pd.DataFrame, path: Path) -> None:
    """Accuracy against epsilon per method, error bars over PE seeds; the priors (no private data) and real data
    (no privacy) as horizontal lines, since they have no epsilon to sit at on a log axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker  # noqa: F401  (NullFormatter)

    figure, axes = plt.subplots(figsize=(10, 4.8))
    private = table[np.isfinite(table["epsilon"]) & (table["epsilon"] > 0)]
    methods = [m for m in METHOD_ORDER if m in set(private["method"])]
    methods += sorted(set(private["method"]) - set(methods))
    for i, method in enumerate(methods):
        group = private[private["method"] == method].sort_values("epsilon")
        shift = 1.0 + 0.035 * (i - (len(methods) - 1) / 2)  # side by side, so error bars do not hide each other
        n = f"n={int(group['n'].min())}" + (f"-{int(group['n'].max())}" if group["n"].nunique() > 1 else "")
        axes.errorbar(group["epsilon"] * shift, group["accuracy_mean"] * 100,
                      yerr=np.nan_to_num(group["accuracy_std"].astype(float)) * 100, marker="o", capsize=3,
                      label=f"{method} ({n})")
    for method, style in ((REAL, "--"), (PRIOR, ":"), ("public prior (DDPM S_0) -> CNN", "-.")):
        row = table[table["method"] == method]
        if row.empty:
            continue
        mean, std = float(row.iloc[0]["accuracy_mean"]) * 100, float(row.iloc[0]["accuracy_std"]) * 100
        axes.axhline(mean, color="black" if method == REAL else "grey", linestyle=style,
                     label=f"{method}" + ("" if method == REAL else f" ({mean:.1f} ± {std:.1f})"))
        if method != REAL and not math.isnan(std):
            axes.axhspan(mean - std, mean + std, color="grey", alpha=0.12)
    axes.set_xscale("log")
    epsilons = sorted(set(private["epsilon"]))
    if epsilons:
        axes.set_xlim(min(epsilons) / 2, max(epsilons) * 2)
        axes.set_xticks(epsilons, [f"{e:g}" for e in epsilons])
        axes.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes.set_xlabel("epsilon (delta 1e-5)")
    axes.set_ylabel("test accuracy (%)")
    axes.set_title("Downstream CNN accuracy, mean ± std over PE seeds")
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    figure.savefig(tmp, dpi=120)
    tmp.replace(path)
    plt.close(figure)


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


README_START, README_END = "<!-- findings:tables:start -->", "<!-- findings:tables:end -->"


def readme_block(table: pd.DataFrame, robust: pd.DataFrame, cells: list[dict], pending: list[str]) -> str:
    """What tables.py writes between the README's markers: the tables, the figure and where they come from."""
    commits = sorted({c["commit"][:7] for c in cells})
    lines = [README_START,
             "<!-- written by benchmarks/findings/tables.py from benchmarks/findings/results/; do not edit -->", "",
             f"From {len(cells)} recorded cells (commit {', '.join(commits)}; each cell's CPU, wall time and settings "
             "hash in [cells.md](benchmarks/findings/results/cells.md))."
             + (f" Not yet recorded: {', '.join(pending)}." if pending else ""), "",
             "**Accuracy and FD** (test split; mean ± std over PE seeds 0, 1, 2, one CNN seed each; FD-Lite0 of the "
             "synthetic set against the private training set; DP part: seconds spent on private data, per seed)", "",
             comparison_markdown(table),
             "![Accuracy against epsilon](benchmarks/findings/results/accuracy.png)", ""]
    if not robust.empty:
        lines += ["Robustness, on 1,000 test images (attacks on 500 of them): mean ± std over PE seeds "
                  "(DP-SGD: over its own seeds). Full table with NLL, Brier and footnotes: "
                  "[robustness.md](benchmarks/findings/results/robustness.md).", "",
                  robustness_summary_markdown(robust)]
    lines.append(README_END)
    return "\n".join(lines)


def update_readme(readme: Path, block: str) -> bool:
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        return False
    before, rest = text.split(README_START, 1)
    _, after = rest.split(README_END, 1)
    _write(readme, before + block + after)
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--readme", type=Path, default=RESULTS.parents[2] / "README.md",
                        help="the README whose findings:tables markers receive the tables (skipped without them)")
    args = parser.parse_args(argv)
    cells = load_cells(args.results)
    if not cells:
        print(f"no recorded cells under {args.results}")
        return 1
    table = comparison(cells)
    _write(args.results / "comparison.md",
           "# PE against DP-SGD, the prior and real data\n\n" + comparison_markdown(table)
           + "\n![Accuracy against epsilon, mean ± std over PE seeds](accuracy.png)\n")
    table.to_csv(args.results / "comparison.csv", index=False)
    robust = robustness(cells)
    if not robust.empty:
        from privevo.reports.robustness import write_robustness_tables

        write_robustness_tables(args.results / "robustness.csv", args.results / "robustness.md", robust,
                                notes=["Built by benchmarks/findings/tables.py from the recorded cells' robustness "
                                       "records; DDPM-only rows come from the ddpm cells."])
        _write(args.results / "robustness_summary.md", robustness_summary_markdown(robust))
    _write(args.results / "cells.md", cells_markdown(cells))
    accuracy_figure(table, args.results / "accuracy.png")
    recorded = {c["cell"] for c in cells}
    pending = [c.cell_id for c in load_campaign() if c.cell_id not in recorded]
    if update_readme(args.readme, readme_block(table, robust, cells, pending)):
        print(f"tables written into {args.readme}")
    print(comparison_markdown(table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
