"""Issue 11, lever 7: PE's wall time and accuracy with a given sampler, one PE seed at a time.

    python benchmarks/sampler/run_sampler.py                                  # ddpm-dpm-solver10.yaml
    python benchmarks/sampler/run_sampler.py --params config/ddpm.yaml --out /tmp/ddim-timing
    python benchmarks/sampler/run_sampler.py -- --rerun-triggers mtime input   # more Snakemake options

Three Snakemake invocations, so that PE's time is not mixed with anything else's:
1. the prerequisites every seed shares (prepared data, the pretrained DDPM, the private embeddings), not timed;
2. per run of the sweep, ``snakemake <run>/synthetic.npz``: S_0, its lookahead, T histograms, variations and
   lookaheads, calibration, audit and release, timed as one wall-clock number (job start-up included, as a user
   would see it);
3. the evaluation of every run (FD curve, CNN seeds, the real-data ceiling) and the comparison table.
The result, ``<out>/<run_name>-timing.json``, holds PE's seconds per run, each step's own TIMING records
(``model_seconds`` split into UNet and embedder time) and the accuracy rows of the comparison table. Time it on a
quiet machine: with another heavy process, torch on 2 cores runs several times slower.
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

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(HERE.parent))

from bench_pipeline import PE_STEPS, read_timings  # noqa: E402
from privevo.config.params import load_params  # noqa: E402
from privevo.config.runs import expand_sweep  # noqa: E402


def snakemake(params_file: Path, targets: list[str], options: list[str]) -> float:
    start = time.perf_counter()
    # Targets and options before --config, which would take them as more key=value pairs.
    subprocess.run([sys.executable, "-m", "snakemake", *targets, "--cores", "all", *options, "--config",
                    f"params_file={params_file}"], cwd=ROOT, check=True)
    return time.perf_counter() - start


# What `snakemake <run>/synthetic.npz` runs; `inspect` jobs write to the same logs folder once the run is evaluated.
TIMED_STEPS = PE_STEPS | {"calibrate", "audit"}


def step_timings(run_dir: str, base_dir: str) -> list[dict]:
    """The TIMING records of the jobs that make the run's release (one per job), from S_0's and the run's logs."""
    records = read_timings(Path(base_dir) / "logs") + read_timings(Path(run_dir) / "logs")
    return [record for record in records if record["step"] in TIMED_STEPS]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=str(HERE / "ddpm-dpm-solver10.yaml"))
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument("snakemake_options", nargs=argparse.REMAINDER,
                        help="after --: options for every Snakemake call")
    args = parser.parse_args(argv)
    options = [option for option in args.snakemake_options if option != "--"]
    params_file = Path(args.params).resolve()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    params = load_params(params_file)
    runs = expand_sweep(params)
    first = runs[0].layout
    shared = [first.model_marker, first.private_embeddings] if first.uses_model else [first.private_embeddings]
    snakemake(params_file, [target for target in shared if target], options)

    result = {"params_file": str(params_file.relative_to(ROOT) if params_file.is_relative_to(ROOT) else params_file),
              "sampler": params["pe"]["sampler"], "num_inference_steps": params["pe"]["num_inference_steps"],
              "runs": []}
    for run in runs:
        seconds = snakemake(params_file, [run.layout.synthetic], options)
        records = step_timings(run.layout.run_dir, run.layout.base_dir)
        result["runs"].append({
            "seed": run.seed, "epsilon": run.epsilon, "folder": run.layout.run_dir, "pe_wall_seconds": seconds,
            "step_seconds": sum(record["step_seconds"] for record in records),
            "unet_seconds": sum(record["model_seconds"].get("unet", 0.0) for record in records),
            "embedder_seconds": sum(record["model_seconds"].get("embedder", 0.0) for record in records),
            "jobs": len(records)})
        print(json.dumps(result["runs"][-1]), flush=True)

    result["evaluation_wall_seconds"] = snakemake(params_file, [], options)
    comparison = Path(params["paths"]["results_dir"]) / "comparison.csv"
    result["comparison"] = pd.read_csv(comparison).to_dict(orient="records")
    shutil.copy(comparison, out / f"{params['run_name']}-comparison.csv")
    target = out / f"{params['run_name']}-timing.json"
    target.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
