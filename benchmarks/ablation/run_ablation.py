"""Issue 11's ablation: run each lever's config through the workflow, then tabulate accuracy and FD.

    python benchmarks/ablation/run_ablation.py                  # run every lever in LEVERS, then the table
    python benchmarks/ablation/run_ablation.py simulator        # only some levers
    python benchmarks/ablation/run_ablation.py --table-only     # rebuild the table from earlier runs

Each lever is one params file here that extends another and states only its change (the protocol is in the header
of simulator.yaml, the root of every chain: a validation split held out of the private training set, 3 PE seeds at
epsilon 1 and 10). A run's `results/comparison.csv` (rewritten by every params file)
is copied to `<out>/<lever>-comparison.csv` and its plot against epsilon to `<out>/<lever>-comparison.png`, its
wall time to `<out>/<lever>-wall.json`, and its per-class sample grid at epsilon 1, seed 0 to
`<out>/<lever>-samples.png`. The table `<out>/ablation.{md,csv}` has one row per lever: PE accuracy mean +- std
over PE seeds at epsilon 1 and 10 (on the validation split), the FD of S_T in the votes' space (equal N, the last
PE population, before any larger release), S_0's accuracy (the public prior at zero privacy cost) and the wall
time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from privevo.config.params import load_params

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# lever name -> (params file, what it changes against the default)
LEVERS = {
    "simulator": ("simulator.yaml", "procedural garment simulator API in place of the DDPM"),
    "simulator-release500": ("simulator-release500.yaml", "simulator + release of 500 per class (S_T + variations)"),
    "simulator-mnn10": ("simulator-mnn10.yaml", "simulator + 10-nearest-neighbour votes (1/sqrt(10) each)"),
    "simulator-cosine": ("simulator-cosine.yaml", "simulator + centred-cosine votes"),
    "simulator-mnn10-release500": ("simulator-mnn10-release500.yaml",
                                   "simulator + 10-NN votes + release of 500 per class"),
    "simulator-mnn10-release500-h21": ("simulator-mnn10-release500-h21.yaml",
                                       "the same + threshold H = 21 votes at every epsilon (2 sigma at epsilon 1)"),
    "simulator-pop200": ("simulator-pop200.yaml",
                         "the same + a population of 200 per class during evolution (N = 2,000 in FD)"),
    "simulator-t16": ("simulator-t16.yaml", "the same + T = 16 iterations in place of 8"),
    "simulator-n400-eps10": ("simulator-n400-eps10.yaml",
                             "the default + 400 per class at epsilon 10 only (pe.by_epsilon; epsilon 10 runs only)"),
    "simulator-pixels": ("simulator-pixels.yaml",
                         "the default with votes on the 784 raw pixels in place of Lite0 (FD is then FD-pixels)"),
    "simulator-pixels-t16-eps10": ("simulator-pixels-t16-eps10.yaml",
                                   "votes on pixels + T = 16 at epsilon 10 only (pe.by_epsilon; epsilon 10 runs only)"),
    "simulator-pixels-n400-eps10": ("simulator-pixels-n400-eps10.yaml",
                                    "votes on pixels + 400 per class at epsilon 10 only (epsilon 10 runs only)"),
    "retrieval-pixels": ("retrieval-pixels.yaml",
                         "lever 1: retrieval over the public pool (k nearest pool images) in place of the simulator"),
    "simulator-then-diffusion": ("simulator-then-diffusion.yaml",
                                 "lever 3: the simulator for iterations 1-5, then DDPM SDEdit variations (pe.api_schedule)"),
    "simulator-then-diffusion-epsilons": ("simulator-then-diffusion-epsilons.yaml",
                                          "lever 3 at epsilon 0.25, 1, 10 and 100 (the curve: <lever>-comparison.png)"),
    "simulator-then-diffusion-proportional": ("simulator-then-diffusion-proportional.yaml",
                                              "lever 3 + proportional selection (floor(N P_t) copies, no draws)"),
    "simulator-pop1000-then-diffusion": ("simulator-pop1000-then-diffusion.yaml",
                                         "lever 3 with 1,000 simulator candidates per class in S_0..S_4, 200 from "
                                         "iteration 5 (pe.api_schedule sizes; the same DDPM calls)"),
    "simulator-pop1000-proportional": ("simulator-pop1000-proportional.yaml",
                                       "the default (1,000 simulator candidates per class in S_0..S_4) + proportional "
                                       "selection (no draws)"),
    "simulator-pop1000-proportional-h15-eps10": ("simulator-pop1000-proportional-h15-eps10.yaml",
                                                 "the same with H = 15 votes at epsilon 10 only (as many zeroed as "
                                                 "at epsilon 1)"),
    "simulator-pop1000-proportional-matched": ("simulator-pop1000-proportional-matched.yaml",
                                               "the same with H matched per class to epsilon 1's noise at epsilon 10 "
                                               "(pe.histogram_threshold_reference_epsilon: 1; epsilon 10 runs only)"),
    "simulator-pop1000-proportional-matched-dpm10": ("simulator-pop1000-proportional-matched-dpm10.yaml",
                                                     "the default (H matched) with DPM-Solver++ at 10 steps in place "
                                                     "of DDIM at 25 for the DDPM's SDEdit (lever 7)"),
    "simulator-pop1000-proportional-matched-dpm10-release1000": (
        "simulator-pop1000-proportional-matched-dpm10-release1000.yaml",
        "lever 5 on the default: a release of 1,000 per class (10,000 images) in place of 500"),
    "simulator-pop1000-proportional-matched-dpm10-cosine": (
        "simulator-pop1000-proportional-matched-dpm10-cosine.yaml",
        "lever 4 on the default: centred-cosine votes (public candidate mean subtracted) in place of L2"),
}
PE_METHOD = "PE synthetic -> CNN"
PRIOR_METHOD = "public prior (S_0) -> CNN"


def run_lever(name: str, out: Path) -> None:
    params_file = HERE / LEVERS[name][0]
    params = load_params(params_file)  # resolves the lever's extends chain
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "snakemake", "--cores", "all", "--config", f"params_file={params_file}"],
                   cwd=ROOT, check=True)
    wall = time.perf_counter() - start
    results = Path(params["paths"]["results_dir"])
    shutil.copy(results / "comparison.csv", out / f"{name}-comparison.csv")
    shutil.copy(results / "comparison.png", out / f"{name}-comparison.png")  # accuracy and FD against epsilon
    (out / f"{name}-wall.json").write_text(json.dumps({"wall_seconds": wall}))
    grids = sorted(results.glob(f"pe/runs/{params['run_name']}-*/seed_0/eps_1/synthetic.png"))
    if grids:
        shutil.copy(grids[-1], out / f"{name}-samples.png")


def _cell(frame: pd.DataFrame, method: str, epsilon: float, column: str):
    rows = frame[(frame["method"] == method) & (frame["epsilon"] == epsilon)]
    return rows[column].iloc[0] if len(rows) else float("nan")


def ablation_table(out: Path, levers) -> pd.DataFrame:
    rows = []
    for name in levers:
        path = out / f"{name}-comparison.csv"
        if not path.exists():
            continue
        frame = pd.read_csv(path)
        wall_file = out / f"{name}-wall.json"
        row = {"lever": name, "change": LEVERS[name][1],
               "wall_minutes": json.loads(wall_file.read_text())["wall_seconds"] / 60 if wall_file.exists() else None}
        for epsilon in (1.0, 10.0):
            tag = f"eps{epsilon:g}"
            row[f"accuracy_{tag}_mean"] = _cell(frame, PE_METHOD, epsilon, "accuracy_mean")
            row[f"accuracy_{tag}_std"] = _cell(frame, PE_METHOD, epsilon, "accuracy_std")
            row[f"fd_{tag}_mean"] = _cell(frame, PE_METHOD, epsilon, "fd_mean")
            row["seeds"] = _cell(frame, PE_METHOD, epsilon, "num_seeds")
        row["s0_accuracy_mean"] = _cell(frame, PRIOR_METHOD, 0.0, "accuracy_mean")
        row["s0_accuracy_std"] = _cell(frame, PRIOR_METHOD, 0.0, "accuracy_std")
        rows.append(row)
    return pd.DataFrame(rows)


def _pct(mean, std) -> str:
    if pd.isna(mean):
        return "-"
    return f"{100 * mean:.1f}" + ("" if pd.isna(std) else f" +- {100 * std:.1f}")


def ablation_markdown(table: pd.DataFrame) -> str:
    lines = ["# Ablation (issue 11)", "",
             "Accuracy of the downstream CNN on the validation split (5,000 private training images held out; the",
             "test split untouched), mean +- std over PE seeds. FD of S_T against the private training set in the",
             "votes' space (Lite0; pixels for the levers that vote on pixels, so those FDs compare only with each",
             "other), over the last PE population (a larger release is not in it). S_0: the same CNN on the",
             "initial population (public, no privacy cost). Hyper-parameter selection is not privacy-accounted.", "",
             "| lever | change | accuracy eps 1 (%) | accuracy eps 10 (%) | FD eps 1 | FD eps 10 | S_0 accuracy (%) "
             "| PE seeds | wall (min) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in table.itertuples(index=False):
        wall = "-" if row.wall_minutes is None or pd.isna(row.wall_minutes) else f"{row.wall_minutes:.1f}"
        lines.append(f"| {row.lever} | {row.change} | {_pct(row.accuracy_eps1_mean, row.accuracy_eps1_std)} | "
                     f"{_pct(row.accuracy_eps10_mean, row.accuracy_eps10_std)} | {row.fd_eps1_mean:.2f} | "
                     f"{row.fd_eps10_mean:.2f} | {_pct(row.s0_accuracy_mean, row.s0_accuracy_std)} | "
                     f"{row.seeds:g} | {wall} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("levers", nargs="*", help=f"levers to run (default: all of {', '.join(LEVERS)})")
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    levers = args.levers or list(LEVERS)
    unknown = [name for name in levers if name not in LEVERS]
    if unknown:
        parser.error(f"unknown lever(s) {', '.join(unknown)}; known: {', '.join(LEVERS)}")
    if not args.table_only:
        for name in levers:
            run_lever(name, out)
    table = ablation_table(out, list(LEVERS))
    table.to_csv(out / "ablation.csv", index=False)
    markdown = ablation_markdown(table)
    (out / "ablation.md").write_text(markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
