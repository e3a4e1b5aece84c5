import copy
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path


def _pin_xdist_worker_to_its_own_cores():
    """Under pytest-xdist (make test: two workers on CI's two cores) give each worker, and every process it starts
    (Snakemake, its jobs, make, dvc), its own share of the cores. Without it both workers' torch thread pools spin on
    the same cores and the Snakemake tests run about 2.4x slower than alone; with it, `--cores all` and torch's
    default thread count follow the share. Done before numpy is imported, so its BLAS pool is sized to the share."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if not worker.startswith("gw") or count < 2 or not hasattr(os, "sched_setaffinity"):
        return
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < count:
        return
    os.sched_setaffinity(0, cores[int(worker[2:]) % count::count])


_pin_xdist_worker_to_its_own_cores()

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


# Tests that run Snakemake in the repository root share its .snakemake records and locks, and the session's smoke
# sweep: they all live in tests/workflow/test_workflow.py, which `make test` (pytest-xdist --dist loadfile) runs on
# one worker. The make, DVC and real-mode tests run Snakemake in folders of their own.


# The test files that run whole workflows, longest first. `make test` hands files to its two workers in collection
# order (--no-loadscope-reorder), so these start at once, one per worker, and the many short files fill in beside
# them; left to xdist's default (files with the most tests first) they started last and ran alone at the end.
LONG_FILES = ("tests/workflow/test_workflow.py", "tests/workflow/test_your_data.py", "tests/workflow/test_make.py",
              "tests/workflow/test_dvc.py", "tests/workflow/test_real_mode.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONG_FILES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))  # stable: file order kept

    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        # The marker itself: item.keywords also holds node names, so a folder or test named "gpu" would match.
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip)


def snakemake(*args, params_file, check=True, workdir=None):
    """Run Snakemake on ``params_file`` from the repository root, or from ``workdir`` (its own .snakemake
    records and locks, so it can run beside another Snakemake in the root); return the completed process."""
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "HF_HUB_OFFLINE": "1"}
    where = ["--snakefile", str(ROOT / "Snakefile")] if workdir else []
    return subprocess.run([str(BIN / "snakemake"), *where, "--cores", "all", "--config", f"params_file={params_file}",
                           *args], cwd=workdir or ROOT, env=env, capture_output=True, text=True, check=check)


def load_script(relative_path: str):
    """A script under the repository root (benchmarks/...), imported as a module so a test can call its functions."""
    path = ROOT / relative_path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def mutate(params: dict, dotted: str, value) -> dict:
    """A deep copy of ``params`` with the key at ``dotted`` (e.g. "pe.num_iterations") set to ``value``."""
    params = copy.deepcopy(params)
    *parents, last = dotted.split(".")
    node = params
    for key in parents:
        node = node[key]
    node[last] = value
    return params


def write_params(path: Path, params: dict) -> Path:
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def smoke_params():
    return yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())


SMOKE_SWEEP = {"epsilons": [1.0, 4.0], "seeds": [0, 1], "model_seeds": False}


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory, smoke_params):
    """The smoke workflow as a sweep of 2 epsilons x 2 seeds, run once per test session into a temporary folder.
    Its primary run (epsilon 1, seed 0) has the layout of the params themselves."""
    base = tmp_path_factory.mktemp("smoke")
    params = {**smoke_params, "sweep": SMOKE_SWEEP,
              "paths": {"data_dir": str(base / "data"), "results_dir": str(base / "results")}}
    params_file = write_params(base / "params.yaml", params)
    proc = snakemake(params_file=params_file, check=False)
    if proc.returncode != 0:
        logs = "\n".join(f"== {p}\n{p.read_text()[-3000:]}" for p in sorted(base.rglob("*.log")))
        pytest.fail(f"smoke workflow failed:\n{proc.stderr[-5000:]}\n{logs}")
    yield {"base": base, "params": params, "params_file": params_file, "output": proc.stdout + proc.stderr}
    shutil.rmtree(base, ignore_errors=True)


def squares(per_class, seed, noise=20):
    """Class c = a bright 6x6 square at position c on a noisy dark background (trivially separable)."""
    r = np.random.default_rng(seed)
    n = per_class * 10
    labels = np.repeat(np.arange(10), per_class)
    imgs = r.integers(0, noise, size=(n, 28, 28, 1)).astype(np.uint8)
    for i, c in enumerate(labels):
        y, x = 3 + 13 * (c // 5), 1 + 5 * (c % 5)
        imgs[i, y : y + 6, x : x + 6, 0] = r.integers(180, 256)
    perm = r.permutation(n)
    return imgs[perm], labels[perm]
