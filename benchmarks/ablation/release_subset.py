"""Lever 5 within runs: the CNN on a smaller release cut from each run's larger one, beside the CNN on all of it.

    python benchmarks/ablation/release_subset.py simulator-pop1000-proportional-matched-dpm10-release1000 --per-class 500

A release is S_T followed by variations of it, and its children go round-robin over a seeded permutation of each
class's candidates (pe.loop.expand_release), so the first ``--per-class`` images of each class in a release of
1,000 have the parents that a release of that size would have, with SDEdit noise of their own. Training the same CNN
(same seed: the run's) on that head and on the whole release compares the two sizes with S_T, the DDPM and the DP
noise shared, which runs of two levers cannot: the noise is never reproducible. Post-processing of released images
only; the CNN's accuracy reads the evaluation split like every eval step.

Writes ``<results_dir>/analysis/release-subset-<per_class>/<run>/...`` (the head, the CNN's downstream.json) and
``benchmarks/ablation/results/<lever>-subset<per_class>.csv`` (one row per run: seed, epsilon, accuracy of each).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from privevo.config.layout import Layout
from privevo.config.params import load_params
from privevo.io.artifacts import load_npz, save_csv, save_npz

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PRIVEVO = [sys.executable, "-m", "privevo"]


def release_head(synthetic: dict[str, np.ndarray], per_class: int) -> dict[str, np.ndarray]:
    """Each class's first ``per_class`` released images, in release order (S_T first, then its children)."""
    rows = [np.flatnonzero(synthetic["labels"] == c) for c in np.unique(synthetic["labels"])]
    short = [int(synthetic["labels"][r[0]]) for r in rows if len(r) < per_class]
    if short:
        raise ValueError(f"--per-class {per_class}: classes {short} released fewer images")
    keep = np.concatenate([r[:per_class] for r in rows])
    return {key: value[keep] for key, value in synthetic.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lever", help="a params file in benchmarks/ablation/, without .yaml")
    parser.add_argument("--per-class", type=int, required=True, help="images per class in the smaller release")
    args = parser.parse_args(argv)

    params_file = HERE / f"{args.lever}.yaml"
    params = load_params(params_file)
    results = Path(params["paths"]["results_dir"])
    evaluation_set = Layout(params).evaluation_set
    rows = []
    for synthetic_path in sorted(results.glob(f"pe/runs/{params['run_name']}-*/seed_*/eps_*/synthetic.npz")):
        run_dir = synthetic_path.parent
        seed, epsilon = run_dir.parent.name.removeprefix("seed_"), run_dir.name.removeprefix("eps_")
        full = sorted(run_dir.glob("eval-*/downstream.json"))
        if not full:
            print(f"skipped {run_dir}: no downstream.json of the whole release yet", file=sys.stderr)
            continue
        out = results / "analysis" / f"release-subset-{args.per_class}" / run_dir.relative_to(results / "pe" / "runs")
        out.mkdir(parents=True, exist_ok=True)
        head_path = out / "synthetic.npz"
        if not head_path.exists():
            save_npz(head_path, **release_head(load_npz(synthetic_path), args.per_class))
        downstream = out / "downstream.json"
        if not downstream.exists():
            subprocess.run([*PRIVEVO, "eval-downstream", "--params", str(params_file), "--set", f"seed={seed}",
                            "--set", f"privacy.epsilon={epsilon}", "--train", str(head_path),
                            "--test", evaluation_set, "--out", str(downstream),
                            "--out-curves", str(out / "downstream_curves.csv"),
                            "--out-png", str(out / "downstream_curves.png")], cwd=ROOT, check=True)
        whole = json.loads(full[-1].read_text())
        head = json.loads(downstream.read_text())
        rows.append({"seed": int(seed), "epsilon": float(epsilon),
                     f"accuracy_release{args.per_class}": head["accuracy_mean"],
                     "accuracy_whole_release": whole["accuracy_mean"],
                     "whole_minus_head": whole["accuracy_mean"] - head["accuracy_mean"]})
    if not rows:
        print(f"no finished runs of {params['run_name']} under {results}", file=sys.stderr)
        return 1
    frame = pd.DataFrame(rows).sort_values(["epsilon", "seed"])
    save_csv(HERE / "results" / f"{args.lever}-subset{args.per_class}.csv", frame)
    print(frame.to_string(index=False))
    print(frame.groupby("epsilon")[[f"accuracy_release{args.per_class}", "accuracy_whole_release",
                                    "whole_minus_head"]].agg(["mean", "std"]).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
