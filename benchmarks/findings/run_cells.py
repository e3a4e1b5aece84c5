"""Run the findings campaign one cell at a time through the workflow, recording and committing each as it finishes.

    python benchmarks/findings/run_cells.py                  # every cell not yet recorded, in campaign order
    python benchmarks/findings/run_cells.py --max-cells 2    # stop after two (a session's share)
    python benchmarks/findings/run_cells.py --list           # done / to do, with the settings hash of each

Run it from the repository root of a checkout whose `make setup` is done (it calls that checkout's snakemake).
A cell is `snakemake --cores all --config params_file=<cell params>` (the README's command) on a params file that
narrows a shipped config to one epsilon and one seed (cells.py). After it, the cell's small outputs go to
benchmarks/findings/results/<cell>/ (in --record-repo, default: this checkout) with provenance.json (commit,
settings hash, CPU model, cores, torch and its precision, wall and CPU seconds), and that folder alone is committed.
Each classifier's robustness record (robustness.json: per corruption and severity, per attack, per OOD set) goes to
results/<cell>/robustness/, so the tables can show what the workflow's own robustness.csv averages away.
A cell whose provenance names the settings hash the params give now is skipped; nothing is ever estimated.

    python benchmarks/findings/run_cells.py --collect-records   # add robustness records to cells recorded without

--list and --collect-records write their params to a scratch file: a running cell's params file is never touched.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cells import FINDINGS, Cell, load_campaign  # noqa: E402

REPO = FINDINGS.parents[1]
TIMING = re.compile(r"TIMING (\{.*\})")


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def cell_params_file(cell: Cell, repo: Path, name: str = "cell-params.yaml") -> Path:
    """The cell's params, always at one path: the workflow's commands name the params file, and a job whose command
    changed would rerun, so the work cells share (data, models, S_0, real-data CNNs) is done once. Anything that only
    reads settings uses another ``name`` in the same folder (same relative `extends`), so a running cell keeps its
    params."""
    path = repo / "results" / "findings" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(cell.params_text(path, repo))
    return path


def settings_of(params_file: Path, repo: Path) -> dict:
    """The one run of a cell's params: its settings hash (run folder key) and the paths to copy, in repo terms."""
    code = (
        "import json, sys\n"
        "from privevo.config.params import load_params\n"
        "from privevo.config.runs import Sweep\n"
        "sweep = Sweep(load_params(sys.argv[1]))\n"
        "run = sweep.runs[0]\n"
        "L = run.layout\n"
        "P = sweep.runs[0].layout\n"
        "print(json.dumps({'settings_hash': L.run_key, 'run_dir': L.run_dir, 'metrics': L.metrics,"
        " 'privacy': L.privacy_report, 'fd_curve': L.fd_curve, 'comparison': P.comparison_csv,"
        " 'comparison_md': P.comparison_md, 'robustness': P.robustness_csv, 'ledger': P.ledger_json,"
        " 'dpsgd': L.dpsgd_report, 'mix': L.mix_report, 'model_record': L.model_record,"
        " 'robustness_records': records(sweep)}))\n"
    )
    code = ROBUSTNESS_RECORDS + code
    out = subprocess.run([sys.executable, "-c", code, str(params_file)], cwd=repo, check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# The robustness records the workflow's robustness_table rule reads for a sweep of one run, by role.
ROBUSTNESS_RECORDS = (
    "def records(sweep):\n"
    "    run = sweep.runs[0]\n"
    "    L, p = run.layout, run.params\n"
    "    out = {'pe': L.robustness, 'prior': L.prior_robustness, 'real': L.real_robustness}\n"
    "    if p['dpsgd']['enabled']:\n"
    "        out['dpsgd'] = L.dpsgd_robustness\n"
    "    if p['mixing']['public_pe']:\n"
    "        out['public_pe'] = L.public_pe_robustness\n"
    "    for i, mix in enumerate(sweep.mixes):\n"
    "        out[f'mix-{i}'] = mix.total.layout.mix_robustness\n"
    "    return {role: folder + '/robustness.json' for role, folder in out.items()}\n"
)


def copy_robustness_records(settings: dict, repo: Path, record: Path) -> dict:
    """Each classifier's robustness.json into <record>/robustness/<role>.json; returns {file: source}."""
    copied = {}
    for role, source in settings["robustness_records"].items():
        if (repo / source).exists():
            (record / "robustness").mkdir(exist_ok=True)
            shutil.copyfile(repo / source, record / "robustness" / f"{role}.json")
            copied[f"robustness/{role}.json"] = source
    return copied


def commit_record(record_repo: Path, record: Path, message: str) -> None:
    folder = str(record.relative_to(record_repo))
    for attempt in range(10):  # another git process may hold the index for a moment
        subprocess.run(["git", "add", "--", folder], cwd=record_repo, check=False)
        if subprocess.run(["git", "commit", "-q", "-m", message, "--", folder], cwd=record_repo).returncode == 0:
            return
        time.sleep(5)


def recorded_hash(cell: Cell, record_repo: Path) -> str | None:
    provenance = record_repo / cell.record_dir.relative_to(REPO) / "provenance.json"
    if not provenance.exists():
        return None
    return json.loads(provenance.read_text()).get("settings_hash")


def timings_since(results: Path, start: float, repo: Path) -> list[dict]:
    """Every privevo step that finished during the cell: its rule log, step and seconds (TIMING lines)."""
    rows = []
    for log in sorted(results.rglob("*.log")):
        if log.stat().st_mtime < start:
            continue
        for match in TIMING.finditer(log.read_text(errors="replace")):
            record = json.loads(match.group(1))
            rows.append({"log": str(log.relative_to(repo)), "rule": log.stem, "step": record["step"],
                         "step_seconds": record["step_seconds"], "process_seconds": record.get("process_seconds")})
    return rows


def torch_precision(repo: Path) -> dict:
    code = ("import json, torch\nfrom privevo.core.devices import resolve_mixed_precision\n"
            "p, why = resolve_mixed_precision('auto', 'cpu')\n"
            "print(json.dumps({'torch': torch.__version__, 'mixed_precision_auto_cpu': p, 'why': why,"
            " 'threads': torch.get_num_threads()}))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=repo, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def commit_of(repo: Path) -> str:
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "src", "workflow",
                            "Snakefile", "params.yaml", "config"], cwd=repo, capture_output=True, text=True).stdout
    return commit.stdout.strip() + ("-dirty" if dirty.strip() else "")


def run_cell(cell: Cell, repo: Path, record_repo: Path, *, commit: bool) -> dict:
    params_file = cell_params_file(cell, repo)
    settings = settings_of(params_file, repo)
    record = record_repo / cell.record_dir.relative_to(REPO)
    snakemake = Path(sys.executable).with_name("snakemake")
    command = [str(snakemake), "--cores", "all", "--config", f"params_file={params_file.relative_to(repo)}"]
    print(f"[{datetime.datetime.now():%H:%M:%S}] cell {cell.cell_id}: {' '.join(command)}", flush=True)
    log_path = repo / "results" / "findings" / "logs" / f"{cell.cell_id}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = os.getloadavg()
    start = time.time()
    with open(log_path, "w") as log:
        proc = subprocess.run(command, cwd=repo, stdout=log, stderr=subprocess.STDOUT)
    wall = time.time() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"cell {cell.cell_id} failed (snakemake exit {proc.returncode}); see {log_path}")
    record.mkdir(parents=True, exist_ok=True)
    copied = {}
    for name, key in (("metrics.json", "metrics"), ("privacy.json", "privacy"), ("fd_curve.csv", "fd_curve"),
                      ("comparison.csv", "comparison"), ("comparison.md", "comparison_md"),
                      ("robustness.csv", "robustness"), ("privacy_ledger.json", "ledger"),
                      ("dpsgd.json", "dpsgd"), ("mix.json", "mix"), ("model.json", "model_record")):
        source = repo / settings[key]
        if source.exists():
            shutil.copyfile(source, record / name)
            copied[name] = settings[key]
    copied.update(copy_robustness_records(settings, repo, record))
    provenance = {
        "cell": cell.cell_id, "config": cell.config, "params_file": cell.params_file, "epsilon": cell.epsilon,
        "seed": cell.seed, "overrides": dict(cell.overrides), "settings_hash": settings["settings_hash"],
        "commit": commit_of(repo), "cpu": cpu_model(), "cores": os.cpu_count(),
        **torch_precision(repo),
        "wall_seconds": round(wall, 1),
        # Other work on the machine slows torch 5-20x: the load averages say whether the wall time is a quiet one.
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpu_seconds": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 1),
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(command[1:]), "cell_params": cell.params_text(params_file, repo), "copied_from": copied,
    }
    (record / "timings.json").write_text(json.dumps(timings_since(repo / "results", start, repo), indent=1) + "\n")
    (record / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")
    print(f"[{datetime.datetime.now():%H:%M:%S}] cell {cell.cell_id}: done in {wall:.0f} s", flush=True)
    if commit:
        commit_record(record_repo, record, f"findings: cell {cell.cell_id} ({wall:.0f} s wall, {provenance['cpu']})")
    return provenance


def collect_records(cell: Cell, repo: Path, record_repo: Path, *, commit: bool) -> bool:
    """Add the robustness records to a cell recorded before the runner copied them, from the same run folders.

    Only for a cell whose recorded settings hash is the one its params give now, so the folders are that cell's."""
    settings = settings_of(cell_params_file(cell, repo, "scratch-params.yaml"), repo)
    record = record_repo / cell.record_dir.relative_to(REPO)
    provenance_path = record / "provenance.json"
    if recorded_hash(cell, record_repo) != settings["settings_hash"] or (record / "robustness").exists():
        return False
    copied = copy_robustness_records(settings, repo, record)
    if not copied:
        return False
    provenance = json.loads(provenance_path.read_text())
    provenance["robustness_records_collected"] = {
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "why": "copied after the cell, by run_cells.py --collect-records, from the run folders of its settings hash",
        "copied_from": copied}
    provenance_path.write_text(json.dumps(provenance, indent=2) + "\n")
    print(f"cell {cell.cell_id}: {len(copied)} robustness records collected", flush=True)
    if commit:
        commit_record(record_repo, record, f"findings: robustness records of cell {cell.cell_id}")
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-cells", type=int, default=None, help="stop after this many cells were run")
    parser.add_argument("--only", nargs="+", default=None, help="cell ids to consider (default: all)")
    parser.add_argument("--list", action="store_true", help="print done / to do and exit")
    parser.add_argument("--record-repo", type=Path, default=REPO,
                        help="the checkout whose benchmarks/findings/results/ receives the records and the commits")
    parser.add_argument("--no-commit", action="store_true")
    parser.add_argument("--collect-records", action="store_true",
                        help="only add robustness records to recorded cells that lack them, then exit")
    args = parser.parse_args(argv)
    repo = REPO
    cells = [c for c in load_campaign() if args.only is None or c.cell_id in args.only]
    ran = 0
    if args.collect_records:
        for cell in cells:
            collect_records(cell, repo, args.record_repo, commit=not args.no_commit)
        return 0
    for cell in cells:
        settings_hash = settings_of(cell_params_file(cell, repo, "scratch-params.yaml"), repo)["settings_hash"]
        done = recorded_hash(cell, args.record_repo) == settings_hash
        if args.list:
            print(f"{'done ' if done else 'to do'}  {cell.cell_id:24s} {settings_hash}")
            continue
        if done:
            print(f"skip {cell.cell_id}: recorded for {settings_hash}")
            continue
        if args.max_cells is not None and ran >= args.max_cells:
            break
        run_cell(cell, repo, args.record_repo, commit=not args.no_commit)
        ran += 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
