"""DVC wraps the same Snakemake workflow: after a change of epsilon, `dvc repro` reruns only the
epsilon-dependent stage, and inside it Snakemake runs only epsilon-dependent jobs."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from privevo.config.layout import Layout

from conftest import ROOT, mutate as set_in

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
EPSILON_FREE_RULES = ("prepare_data", "pretrain", "embed_private", "pe_init",
                      "pe_lookahead_initial", "eval_reference_stats", "eval_downstream_real")


def run(args, cwd):
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "HF_HUB_OFFLINE": "1", "DVC_NO_ANALYTICS": "1"}
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode:
        logs = "\n".join(f"== {p}\n{p.read_text()[-2000:]}" for p in sorted(Path(cwd).rglob("*.log"))[:20])
        pytest.fail(f"{' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}\n{logs}")
    return proc


def copy_project(project: Path, params: dict) -> Path:
    """A copy of the project with ``params`` as its params.yaml, as its own git + DVC repository."""
    project.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "dvc.yaml", "workflow", "profiles", "src", ".dvc", ".dvcignore", ".gitignore"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, project / name, ignore=shutil.ignore_patterns("tmp", "cache", "__pycache__"))
        else:
            shutil.copy(source, project / name)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (project / "data").mkdir()
    os.symlink(ROOT / "data" / "sources", project / "data" / "sources")
    run(["git", "init", "-q"], project)
    run(["git", "add", "-A"], project)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"], project)
    return project


@pytest.fixture(scope="module")
def dvc_project(tmp_path_factory):
    """The project on the smoke config, reproduced once with `dvc repro`."""
    params = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    # The DP-SGD baseline and robustness are covered by the smoke sweep; here they only cost time.
    params["dpsgd"]["enabled"] = False
    params["robustness"]["enabled"] = False
    params["mixing"]["public_pe"] = False
    project = copy_project(tmp_path_factory.mktemp("dvc_project"), params)
    run([str(BIN / "dvc"), "repro"], project)
    yield project
    shutil.rmtree(project, ignore_errors=True)


def set_epsilon(project: Path, epsilon: float) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["privacy"]["epsilon"] = epsilon
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def test_epsilon_change_reruns_only_the_epsilon_stage_and_jobs(dvc_project):
    assert (dvc_project / "results-smoke" / "latest" / "metrics.json").exists()
    set_epsilon(dvc_project, 3.0)
    status = json.loads(run([str(BIN / "dvc"), "status", "--json"], dvc_project).stdout)
    assert set(status) == {"private_evolution"}, status
    proc = run([str(BIN / "dvc"), "repro"], dvc_project)
    output = proc.stdout + proc.stderr
    assert "Running stage 'private_evolution'" in output
    for stage in ("data", "foundation_model", "private_embeddings", "initial_population"):
        assert f"Running stage '{stage}'" not in output
    for rule in EPSILON_FREE_RULES:
        assert f"rule {rule}:" not in output, rule
    shown = json.loads(run([str(BIN / "dvc"), "metrics", "show", "--json"], dvc_project).stdout)
    latest = [f["data"] for rev in shown.values() for name, f in rev["data"].items() if name.endswith("metrics.json")]
    assert [m["epsilon"] for m in latest] == [3.0], shown
    params = yaml.safe_load((dvc_project / "params.yaml").read_text())
    assert (dvc_project / Layout(params).synthetic).exists()
    assert (dvc_project / Layout(set_in(params, "privacy.epsilon", 1.0)).synthetic).exists(), "the old run is kept"


def test_dvc_exp_run_sets_epsilon_and_exp_show_lists_epsilon_fd_and_accuracy(dvc_project):
    run(["git", "checkout", "-q", "params.yaml"], dvc_project)
    run([str(BIN / "dvc"), "exp", "run", "-S", "privacy.epsilon=5.0"], dvc_project)
    metrics = json.loads((dvc_project / "results-smoke" / "latest" / "metrics.json").read_text())
    assert metrics["epsilon"] == 5.0 and "pe_eps_5_accuracy" in metrics["sweep"]
    shown = run([str(BIN / "dvc"), "exp", "show", "--csv"], dvc_project).stdout
    header = shown.splitlines()[0].split(",")
    for column in ("epsilon", "fd_final", "accuracy_mean", "sweep.pe_eps_5_accuracy", "privacy.epsilon"):
        assert column in header, (column, header)
    assert "5.0" in shown


def test_dvc_model_stage_works_in_real_mode(tmp_path):
    """model.source: local has no pretrain rule; DVC's model stage still runs and records the user's folder."""
    from diffusers import DDPMScheduler

    from privevo.models.ddpm import build_unet

    model = tmp_path / "my-ddpm"
    build_unet(image_size=28, channels=1, block_out_channels=[8, 16], layers_per_block=1, attention=False) \
        .save_pretrained(model / "unet")
    DDPMScheduler(num_train_timesteps=1000).save_pretrained(model / "scheduler")
    params = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    params["model"].update(source="local", local_path=str(model))
    project = copy_project(tmp_path / "project", params)
    proc = run([str(BIN / "dvc"), "repro", "foundation_model"], project)
    assert "rule pretrain" not in proc.stdout + proc.stderr
    record = json.loads((project / Layout(params).model_record).read_text())
    assert record["source"] == "local" and record["folder"] == str(model)
    assert set(record["weights"]) == {"unet/diffusion_pytorch_model.safetensors"}
