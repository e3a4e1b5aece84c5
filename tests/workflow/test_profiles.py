"""Beyond one machine through Snakemake's executors: the SLURM profile plans a sweep, and the generic cluster
executor runs the smoke workflow with every job in its own process, sharing nothing but files."""

import re
from pathlib import Path

import pytest
import yaml

from privevo.config.layout import Layout

from conftest import ROOT, snakemake, write_params

LOGS = ROOT / ".snakemake" / "cluster-generic-logs"
# Snakemake in the repository root: one pytest-xdist worker runs every such test, one at a time (conftest.py).
pytestmark = pytest.mark.xdist_group("root-snakemake")


def smoke(tmp_path, **sweep):
    params = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    params["paths"] = {"data_dir": str(tmp_path / "data"), "results_dir": str(tmp_path / "results")}
    params["sweep"].update(sweep)
    return params, write_params(tmp_path / "params.yaml", params)


def test_slurm_profile_plans_the_sweep_with_declared_resources(tmp_path):
    params, params_file = smoke(tmp_path, epsilons=[1, 10], seeds=[0, 1])
    proc = snakemake("--profile", "workflow/profiles/slurm", "--dry-run", params_file=params_file)
    assert "histogram" in proc.stdout and re.search(r"^total\s+\d+", proc.stdout, flags=re.MULTILINE)
    # Every job the cluster would run declares its memory and runtime.
    jobs = proc.stdout.split("\n\n")
    heavy = [job for job in jobs if re.search(r"^rule (pretrain|histogram|pe_variation|baseline_dpsgd):", job, re.M)]
    assert heavy and all("mem_mb=" in job and "runtime=" in job for job in heavy), heavy[:1]


@pytest.mark.slow
def test_generic_cluster_executor_runs_each_job_as_its_own_process(tmp_path):
    params, params_file = smoke(tmp_path)
    # One iteration keeps the job count (and each job's interpreter start-up) small.
    params["pe"].update(num_iterations=1, variation_degrees=[0.6])
    params_file = write_params(params_file, params)
    layout = Layout(params)
    before = set(LOGS.glob("*.status")) if LOGS.exists() else set()
    proc = snakemake("--profile", "workflow/profiles/cluster-generic", layout.privacy_report,
                     params_file=params_file, check=False)
    assert proc.returncode == 0, proc.stderr[-5000:]
    statuses = set(LOGS.glob("*.status")) - before
    submitted = len(re.findall(r"Submitted job \d+ with external jobid", proc.stdout + proc.stderr))
    assert submitted >= 8 and len(statuses) == submitted, (submitted, len(statuses))
    assert all(path.read_text().strip() == "0" for path in statuses)
    assert Path(layout.synthetic).exists() and Path(layout.privacy_report).exists()
