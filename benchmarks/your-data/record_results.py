"""Copy the small outputs of finished runs of a params file (metrics.json, privacy.json, fd_curve.csv,
downstream.json) into benchmarks/your-data/results/<run_name>-seed<k>-<file>, with a provenance record per run
(commit, settings hash, CPU model, wall time given by the caller). Runs without metrics.json are listed as pending.

    python benchmarks/your-data/record_results.py --params benchmarks/your-data/three-class-ddpm.yaml \
        --workdir /tmp/m3 --commit 48747fd --wall-seconds 3000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

from privevo.config.params import load_params
from privevo.config.runs import Sweep

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", required=True)
    parser.add_argument("--workdir", default=".", help="where the workflow ran (its results/ is read from there)")
    parser.add_argument("--commit", required=True)
    parser.add_argument("--wall-seconds", type=float, default=None)
    args = parser.parse_args(argv)
    workdir = Path(args.workdir)
    os.chdir(workdir)  # the params' relative data folders are read from where the run read them
    sweep = Sweep(load_params(args.params))
    RESULTS.mkdir(parents=True, exist_ok=True)
    for run in sweep.runs:
        layout = run.layout
        stem = f"{run.params['run_name']}-seed{run.seed}-eps{run.epsilon:g}"
        if not (workdir / layout.metrics).exists():
            print(f"pending: {stem} ({layout.metrics} not written)")
            continue
        for name, source in (("metrics.json", layout.metrics), ("privacy.json", layout.privacy_report),
                             ("fd_curve.csv", layout.fd_curve), ("downstream.json", layout.downstream)):
            if (workdir / source).exists():
                shutil.copyfile(workdir / source, RESULTS / f"{stem}-{name}")
        provenance = {"commit": args.commit, "params": args.params, "run_folder": layout.run_dir,
                      "settings_hash": layout.run_key.split("/")[0], "cpu": cpu_model(), "cores": os.cpu_count(),
                      "wall_seconds_whole_workflow": args.wall_seconds}
        (RESULTS / f"{stem}-provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")
        print(f"recorded: {stem}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
