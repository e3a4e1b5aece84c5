"""What a second epsilon costs: one run, then the same params with one more epsilon in the sweep.

    python benchmarks/bench_sweep.py                                  # smoke config, epsilons 1 then 1 and 10
    python benchmarks/bench_sweep.py --params params.yaml --epsilons 1 10

It runs Snakemake in a fresh temporary folder (the prepared Fashion-MNIST sources are reused), first on
the first epsilon only, then on all of them, and prints both wall times and the jobs each ran. The
second call should run only the epsilon-dependent jobs. Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

from privevo.config.params import read_params_file

ROOT = Path(__file__).resolve().parents[1]


def snakemake(params: dict, folder: Path) -> tuple[float, Counter]:
    params_file = folder / "params.yaml"
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    start = time.perf_counter()
    proc = subprocess.run([str(Path(sys.executable).parent / "snakemake"), "--cores", "all", "--config",
                           f"params_file={params_file}"], cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(proc.stderr[-4000:])
    return wall, Counter(re.findall(r"^(?:local)?rule (\w+):$", proc.stdout + proc.stderr, flags=re.MULTILINE))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="config/smoke.yaml")
    parser.add_argument("--epsilons", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--keep", help="run in this folder instead of a temporary one")
    args = parser.parse_args()
    params = read_params_file(ROOT / args.params)  # an overlay (extends:) resolves to a complete file
    folder = Path(args.keep or tempfile.mkdtemp(prefix="bench_sweep_"))
    params["paths"] = {"data_dir": str(folder / "data"), "results_dir": str(folder / "results")}
    (folder / "data").mkdir(parents=True, exist_ok=True)
    for first, epsilons in (("one epsilon", args.epsilons[:1]), ("the sweep", args.epsilons)):
        params["sweep"]["epsilons"] = epsilons
        wall, jobs = snakemake(params, folder)
        print(f"{first} {epsilons}: {wall:.1f} s wall, {sum(jobs.values())} jobs: {dict(sorted(jobs.items()))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
