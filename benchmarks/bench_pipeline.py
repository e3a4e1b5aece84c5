"""Time the workflow per stage and the share of PE time spent inside model forward passes.

    python benchmarks/bench_pipeline.py                      # default params.yaml, from prepared data
    python benchmarks/bench_pipeline.py --params config/smoke.yaml --fresh
    python benchmarks/bench_pipeline.py --logs-only          # just summarise the logs of the last run

It runs `snakemake --cores all` (unless --logs-only), then reads the TIMING line that every
`privevo <step>` writes to its rule log. Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from privevo.cli.parser import TIMING_PREFIX  # noqa: E402
from privevo.config.params import load_params  # noqa: E402

PE_STEPS = {"pe-init", "pe-lookahead", "pe-histogram", "pe-variation", "pe-release"}
MODEL_KINDS_IN_PE = {"unet", "embedder"}


def read_timings(results_dir: Path) -> list[dict]:
    records = []
    for log in sorted(results_dir.rglob("*.log")):
        for line in log.read_text(errors="replace").splitlines():
            if TIMING_PREFIX in line:
                record = json.loads(line.split(TIMING_PREFIX, 1)[1])
                record["log"] = str(log.relative_to(results_dir))
                records.append(record)
    return records


def summarise(records: list[dict]) -> dict:
    by_step = defaultdict(lambda: {"jobs": 0, "step_seconds": 0.0, "process_seconds": 0.0, "models": defaultdict(float)})
    for r in records:
        s = by_step[r["step"]]
        s["jobs"] += 1
        s["step_seconds"] += r["step_seconds"]
        s["process_seconds"] += r["process_seconds"]
        for kind, sec in r["model_seconds"].items():
            s["models"][kind] += sec
    print(f"{'step':<16}{'jobs':>5}{'in-step s':>11}{'process s':>11}{'models s':>10}{'model share':>13}  models")
    for step, s in sorted(by_step.items(), key=lambda kv: -kv[1]["process_seconds"]):
        models = sum(s["models"].values())
        share = models / s["step_seconds"] if s["step_seconds"] else 0.0
        detail = ", ".join(f"{k} {v:.1f}" for k, v in sorted(s["models"].items()))
        print(f"{step:<16}{s['jobs']:>5}{s['step_seconds']:>11.1f}{s['process_seconds']:>11.1f}{models:>10.1f}{share:>12.1%}  {detail}")
    pe = [by_step[k] for k in PE_STEPS if k in by_step]
    pe_step = sum(s["step_seconds"] for s in pe)
    pe_process = sum(s["process_seconds"] for s in pe)
    pe_models = sum(v for s in pe for k, v in s["models"].items() if k in MODEL_KINDS_IN_PE)
    summary = {
        "pe_step_seconds": round(pe_step, 1),
        "pe_process_seconds": round(pe_process, 1),
        "pe_model_seconds": round(pe_models, 1),
        "pe_model_share_in_step": round(pe_models / pe_step, 3) if pe_step else None,
        "pe_model_share_with_process_overhead": round(pe_models / pe_process, 3) if pe_process else None,
    }
    print(json.dumps(summary, indent=2))
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--fresh", action="store_true", help="delete the results folder first (keeps prepared data)")
    parser.add_argument("--logs-only", action="store_true")
    args = parser.parse_args()
    params = load_params(ROOT / args.params)
    results = ROOT / params["paths"]["results_dir"]
    if not args.logs_only:
        if args.fresh and results.exists():
            shutil.rmtree(results)
        bin_dir = Path(sys.executable).parent
        # Prepare data first so that the timed run starts "from prepared data".
        subprocess.run([str(bin_dir / "snakemake"), "stage_data", "--cores", "all", "--config",
                        f"params_file={args.params}"], cwd=ROOT, check=True)
        start = time.perf_counter()
        subprocess.run([str(bin_dir / "snakemake"), "--cores", "all", "--config", f"params_file={args.params}"],
                       cwd=ROOT, check=True)
        print(f"snakemake --cores all from prepared data: {time.perf_counter() - start:.1f} s wall")
    summarise(read_timings(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
