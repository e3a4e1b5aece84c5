"""The README's commands, literally, through the Makefile: no activated venv, and a hard kill mid-PE that
the same command resumes without redrawing a finished histogram."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, write_params

pytestmark = pytest.mark.slow
VENV_BIN = str(Path(sys.executable).parent)


def user_environment() -> dict:
    """A shell as a newcomer has it: the venv is neither activated nor on PATH."""
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p and Path(p).resolve() != Path(VENV_BIN).resolve())
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = path
    return env


PROJECT_FILES = ("Makefile", "Snakefile", "requirements.txt", "constraints.txt", "pyproject.toml", "workflow",
                 "profiles", "config", "src")


@pytest.fixture
def project(tmp_path) -> Path:
    """The project as a newcomer's clone has it, in its own folder (its own .snakemake, so other workflow tests
    may run beside it): files copied with their times, so make's stamps stay valid; the set-up venv and the
    fetched data linked in, as `make setup` left them."""
    # The copy shares the venv: its stamps must be up to date here, or make in the copy would reinstall privevo
    # from the copy (pointing the shared venv at a temporary folder).
    subprocess.run(["make", "setup"], cwd=ROOT, env=user_environment(), check=True, capture_output=True)
    project = tmp_path / "project"
    project.mkdir()
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, project / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, project / name)
    (project / ".venv").symlink_to(ROOT / ".venv")
    (project / "data").mkdir()
    (project / "data" / "sources").symlink_to(ROOT / "data" / "sources")
    stamps = [".venv/.installed", "data/sources/fashion-mnist/.fetched"]  # setup itself is phony: never "up to date"
    assert subprocess.run(["make", "-q", *stamps], cwd=project, env=user_environment()).returncode == 0, \
        "the copy's set-up is not up to date; it would reinstall into the shared venv"
    return project


def make_smoke(project: Path, params_file: Path, **popen):
    return subprocess.Popen(["make", "smoke", f"SMOKE_PARAMS={params_file}"], cwd=project, env=user_environment(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True, **popen)


def session_processes(session_id: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session_id:  # fields after "pid (comm)": state ppid pgrp session ...
            pids.append(int(stat.parent.name))
    return pids


def kill_hard(proc: subprocess.Popen) -> None:
    """SIGKILL make and everything it started, at once, as a power loss would."""
    for pid in session_processes(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def executed_rules(output: str) -> list[str]:
    return re.findall(r"^(?:local)?rule (\w+):", output, flags=re.MULTILINE)


@pytest.fixture
def smoke_params(tmp_path):
    params = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    params["paths"] = {"data_dir": str(tmp_path / "data"), "results_dir": str(tmp_path / "results")}
    params["pe"]["num_iterations"] = 3
    params["pe"]["variation_degrees"] = {"start": 0.8, "end": 0.4}
    # What this test is about is PE's resume; the baselines and robustness are covered by the smoke sweep.
    params["dpsgd"]["enabled"] = False
    params["robustness"]["enabled"] = False
    params["mixing"]["public_pe"] = False
    params["evaluation"]["classifier_seeds"] = [0]
    return params, write_params(tmp_path / "params.yaml", params)


def test_make_smoke_without_venv_on_path_survives_kill_9_mid_pe(smoke_params, project):
    params, params_file = smoke_params
    results = Path(params["paths"]["results_dir"])
    first_iteration = None
    proc = make_smoke(project, params_file)
    deadline = time.time() + 900
    while time.time() < deadline and proc.poll() is None:
        found = list(results.glob("pe/runs/*/seed_*/*/iter_001/selected.npz"))
        if found:
            first_iteration = found[0].parent
            break
        time.sleep(0.2)
    assert first_iteration is not None, f"no iteration finished before the run ended:\n{proc.stdout.read()[-5000:]}"
    kill_hard(proc)
    histogram = (first_iteration / "histogram.npz").read_bytes()
    finished_before = set(executed_rules(proc.stdout.read()))
    assert (project / ".snakemake" / "locks").is_dir() and any((project / ".snakemake" / "locks").iterdir()), \
        "a hard kill should leave Snakemake's lock behind"

    rerun = make_smoke(project, params_file)
    output, _ = rerun.communicate(timeout=900)
    assert rerun.returncode == 0, output[-6000:]
    assert "clearing the lock" in output
    rerun_rules = executed_rules(output)
    for rule in ("prepare_data", "pretrain", "embed_private", "pe_init", "pe_lookahead_initial"):
        assert rule not in rerun_rules, f"{rule} finished before the kill but ran again: {rerun_rules}"
    assert (first_iteration / "histogram.npz").read_bytes() == histogram, "a finished histogram was redrawn"
    assert (results / "latest" / "privacy.json").exists()
    assert finished_before, "the first run should have reported some jobs"
