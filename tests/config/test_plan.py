"""`privevo plan`: a run's model calls counted from params (golden counts), and the projected time."""

import json
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from privevo.cli import main
from privevo.config.params import load_params
from privevo.config.schedule import degree_of_iteration
from privevo.config.plan import MEASURED_SECONDS_PER_IMAGE_STEP, format_plan, plan_run, project_time, resolve_cost

from conftest import ROOT

# 10 classes, N = 8, T = 2, S = 5, degrees [0.8, 0.4], k = 2; UNet batch 6 and embedder batch 50 so that
# partial batches count.
TINY = ["pe.num_samples_per_class=8", "pe.num_iterations=2", "pe.num_inference_steps=5",
        "pe.variation_degrees=[0.8, 0.4]", "pe.lookahead_degree=2", "pe.batch_size=6", "embedding.batch_size=50"]


def tiny(*more):
    return load_params(ROOT / "config" / "smoke.yaml", [*TINY, *more])


def test_golden_counts_of_a_tiny_run():
    plan = plan_run(tiny())
    # degree_1 = 0.8 re-runs round(0.8 * 5) = 4 steps; degree_2 = 0.4 re-runs round(0.4 * 5) = 2.
    # Every call is one class: N = 8 images (ceil(8 / 6) = 2 UNet batches) or N * k = 16 (ceil(16 / 6) = 3).
    expected = [
        # step, t, kind, degree, steps, images, image-steps, UNet batches, embedded, embedder batches
        # S_0 = RANDOM_API: 10 x 8 = 80 images x 5 steps = 400; 10 classes x 2 batches x 5 steps = 100.
        ("pe-init", 0, "random", 1.0, 5, 80, 400, 100, 0, 0),
        # lookahead of S_0 at degree_1: 80 x 2 = 160 images x 4 = 640; 10 x 3 x 4 = 120;
        # the 160 variations are embedded: ceil(160 / 50) = 4 batches.
        ("pe-lookahead", 0, "lookahead", 0.8, 4, 160, 640, 120, 160, 4),
        # S_1 = variation at degree_1: 80 x 4 = 320; 10 x 2 x 4 = 80.
        ("pe-variation", 1, "variation", 0.8, 4, 80, 320, 80, 0, 0),
        # lookahead of S_1 at degree_2: 160 x 2 = 320; 10 x 3 x 2 = 60; embedded 160 in 4 batches.
        ("pe-lookahead", 1, "lookahead", 0.4, 2, 160, 320, 60, 160, 4),
        # S_2 = variation at degree_2: 80 x 2 = 160; 10 x 2 x 2 = 40. No lookahead of S_T = S_2.
        ("pe-variation", 2, "variation", 0.4, 2, 80, 160, 40, 0, 0),
    ]
    keys = ("step", "iteration", "kind", "degree", "steps_per_image", "images", "image_steps", "unet_batches",
            "embedder_images", "embedder_batches")
    assert [tuple(row[k] for k in keys) for row in plan["steps"]] == expected
    assert plan["by_kind"]["random"]["image_steps"] == 400
    assert plan["by_kind"]["variation"]["image_steps"] == 320 + 160
    assert plan["by_kind"]["lookahead"]["image_steps"] == 640 + 320
    assert plan["totals"] == {"calls": 50, "images": 560, "image_steps": 1840, "unet_batches": 400,
                              "embedder_images": 320, "embedder_batches": 8}


def test_no_lookahead_with_k_zero():
    plan = plan_run(tiny("pe.lookahead_degree=0"))
    lookahead = [row for row in plan["steps"] if row["kind"] == "lookahead"]
    assert [row["iteration"] for row in lookahead] == [0, 1]
    # No model calls; each candidate is embedded itself: 80 images, ceil(80 / 50) = 2 batches per step.
    assert all(row["calls"] == row["images"] == row["image_steps"] == row["unet_batches"] == 0 for row in lookahead)
    assert [(row["embedder_images"], row["embedder_batches"]) for row in lookahead] == [(80, 2), (80, 2)]
    assert plan["totals"]["image_steps"] == 400 + 320 + 160
    assert plan["totals"]["unet_batches"] == 100 + 80 + 40
    assert plan["totals"]["calls"] == 3 * 10  # S_0 and two variations, one call per class each


def test_class_shards_embed_separately():
    # 3 shards hold classes {0,3,6,9}, {1,4,7}, {2,5,8}: 64, 48, 48 variations, ceil(./40) = 2 + 2 + 2 batches,
    # against ceil(160 / 40) = 4 in one job. The UNet counts do not change (every call is one class anyway).
    unsharded = plan_run(tiny("embedding.batch_size=40"))
    sharded = plan_run(tiny("embedding.batch_size=40", "pe.shards=3"))
    assert [row["embedder_batches"] for row in unsharded["steps"] if row["kind"] == "lookahead"] == [4, 4]
    assert [row["embedder_batches"] for row in sharded["steps"] if row["kind"] == "lookahead"] == [6, 6]
    assert sharded["totals"]["image_steps"] == unsharded["totals"]["image_steps"] == 1840


def test_projected_time_is_image_steps_times_cost():
    plan = plan_run(tiny())
    projection = project_time(plan, 0.01, source="test")
    assert projection["seconds"] == pytest.approx(1840 * 0.01)
    assert projection["image_steps_per_device_hour"] == pytest.approx(360_000)
    assert projection["hours"] == pytest.approx({"1": 18.4 / 3600, "8": 18.4 / 3600 / 8})
    # By whole class shards, 8 devices leave 2 of the 10 classes on the busiest one.
    assert projection["hours_class_shards"]["8"] == pytest.approx(18.4 / 3600 * 2 / 10)
    assert sum(projection["step_seconds"]) == pytest.approx(projection["seconds"])
    with pytest.raises(ValueError):
        project_time(plan, 0.0, source="test")


def test_cost_defaults_to_the_measurement_and_says_so():
    params = load_params(ROOT / "config" / "ddpm.yaml")
    cost, source, notes = resolve_cost(params, None)
    assert cost == MEASURED_SECONDS_PER_IMAGE_STEP["cpu-avx2-fp32-default-unet"] == 1.8e-3
    assert "cpu-avx2-fp32-default-unet" in source and any("--seconds-per-image-step" in n for n in notes)
    assert not any("not the measured default UNet" in n for n in notes)
    # The smoke UNet is smaller than the measured one.
    assert any("not the measured default UNet" in n for n in resolve_cost(tiny(), None)[2])
    assert resolve_cost(params, 0.5) == (0.5, "--seconds-per-image-step", [])


def test_json_output(tmp_path, capsys):
    out = tmp_path / "plan.json"
    args = ["plan", "--params", str(ROOT / "config" / "smoke.yaml"), *(x for o in TINY for x in ("--set", o)),
            "--seconds-per-image-step", "0.01", "--json", str(out)]
    assert main(args) == 0
    assert "TOTAL" in capsys.readouterr().out
    record = json.loads(out.read_text())
    assert record["totals"] == plan_run(tiny())["totals"]
    assert record["steps"] == plan_run(tiny())["steps"]
    assert record["projection"]["seconds_per_image_step"] == 0.01
    assert record["projection"]["seconds"] == pytest.approx(1840 * 0.01)
    assert record["projection"]["source"] == "--seconds-per-image-step"


@pytest.mark.parametrize("params_file", ["config/smoke.yaml", "config/ddpm.yaml"])
def test_cli_exit_code_and_no_model_loaded(params_file):
    code = ("import sys; from privevo.cli import main; rc = main(['plan', '--params', sys.argv[1]]); "
            "assert 'torch' not in sys.modules, 'plan imported torch'; sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, params_file], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "TOTAL" in proc.stdout and "image-steps per device-hour" in proc.stdout
    assert "cpu-avx2-fp32-default-unet" in proc.stdout


def test_ddpm_config_totals():
    # T = 8, N = 100, S = 25, k = 2, degrees 0.8 .. 0.4 linear: steps 20, 19, 17, 16, 14, 13, 11, 10 (sum 120).
    # 1,000 x 25 (S_0) + 2,000 x 20 (its lookahead) + 1,000 x 120 (variations) + 2,000 x (120 - 20) (lookaheads of
    # S_1..S_7 at degrees 2..8) = 385,000 image-steps.
    plan = plan_run(load_params(ROOT / "config" / "ddpm.yaml"))
    assert [row["steps_per_image"] for row in plan["steps"] if row["kind"] == "variation"] == \
        [20, 19, 17, 16, 14, 13, 11, 10]
    assert plan["totals"]["image_steps"] == 385_000


class CountingUNet:
    """Stands in for a UNet2DModel inside the real DiffusionAPI; records the batch size of every forward."""

    def __init__(self):
        import torch

        self.torch = torch
        self.config = SimpleNamespace(sample_size=4, in_channels=1)
        self.batches = []

    def to(self, device):
        return self

    def eval(self):
        return self

    def __call__(self, sample, t):
        self.batches.append(len(sample))
        return SimpleNamespace(sample=self.torch.zeros_like(sample))


def test_counts_match_the_real_api_and_loop():
    """Drive the steps the workflow runs (cli pe-init, pe-lookahead, pe-variation) through the real DiffusionAPI
    with a counting UNet and a counting embedder, and compare with the plan."""
    pytest.importorskip("diffusers")
    from diffusers import DDPMScheduler

    from privevo.apis.diffusion import DiffusionAPI
    from privevo.embedders.base import Embedder
    from privevo.pe.lookahead import lookahead_embeddings
    from privevo.pe.loop import initial_population, variation_population

    class CountingEmbedder(Embedder):
        dim = 2

        def __init__(self):
            self.batches = []

        def _embed_batch(self, batch):
            self.batches.append(len(batch))
            return np.zeros((len(batch), 2), np.float32)

    params = tiny()
    pe, T, seed = params["pe"], params["pe"]["num_iterations"], params["seed"]
    unet, embedder = CountingUNet(), CountingEmbedder()
    api = DiffusionAPI(unet, DDPMScheduler(num_train_timesteps=1000).config, num_inference_steps=pe["num_inference_steps"],
                       batch_size=pe["batch_size"], device="cpu", mixed_precision="fp32")
    lookahead = dict(lookahead_degree=pe["lookahead_degree"], seed=seed,
                     embed_batch_size=params["embedding"]["batch_size"])
    images, labels = initial_population(api, classes=list(range(10)), num_samples_per_class=pe["num_samples_per_class"],
                                        seed=seed)
    lookahead_embeddings(api, embedder, images, labels, degree=degree_of_iteration(params, 1), iteration=0, **lookahead)
    for t in range(1, T + 1):
        images = variation_population(api, images, labels, degree=degree_of_iteration(params, t), iteration=t, seed=seed)
        if t < T:
            lookahead_embeddings(api, embedder, images, labels, degree=degree_of_iteration(params, t + 1),
                                 iteration=t, **lookahead)
    with pytest.raises(ValueError):  # the lookahead of S_T has no degree: the workflow never runs it
        degree_of_iteration(params, T + 1)
    totals = plan_run(params)["totals"]
    assert len(unet.batches) == totals["unet_batches"]
    assert sum(unet.batches) == totals["image_steps"]
    assert len(embedder.batches) == totals["embedder_batches"]
    assert sum(embedder.batches) == totals["embedder_images"]
    assert sum(unet.batches) == 1840


def test_a_model_free_api_makes_no_unet_steps_but_still_embeds():
    params = load_params(ROOT / "params.yaml")
    assert params["pe"]["api"] == "simulator"
    params["pe"]["api_schedule"] = []  # the simulator alone
    plan = plan_run(params)
    assert plan["totals"]["image_steps"] == 0 and plan["totals"]["unet_batches"] == 0
    # The same embedder work as the DDPM at the same population: only the API's cost differs.
    ddpm = load_params(ROOT / "config" / "ddpm.yaml")
    ddpm["pe"]["num_samples_per_class"] = params["pe"]["num_samples_per_class"]
    assert plan["totals"]["embedder_images"] == plan_run(ddpm)["totals"]["embedder_images"]
    assert "0 UNet image-steps" in format_plan(plan, None)
