"""config/paper-cifar10.yaml: the paper's CIFAR-10 settings validate, calibrate to the paper's accounting and plan
to golden model-call counts."""

import json

import pytest

from privevo.apis.base import check_degree
from privevo.cli import main
from privevo.config import memory as memory_module
from privevo.config.params import load_params
from privevo.config.memory import estimate_peak_memory
from privevo.config.schedule import variation_degrees
from privevo.config.plan import ASSUMED_SECONDS_PER_IMAGE_STEP, plan_run

from conftest import ROOT

PAPER = ROOT / "config" / "paper-cifar10.yaml"


@pytest.fixture(autouse=True)
def big_machine(monkeypatch):
    # The lookahead of 400,000 variations needs ~4.6 GB (checked against MemAvailable); the config is meant for a
    # GPU machine, so validate it as if on one whatever this machine's free memory.
    monkeypatch.setattr(memory_module, "available_memory_bytes", lambda: 64 * 2**30)


def test_paper_config_validates_with_the_papers_numbers():
    params = load_params(PAPER)
    pe, privacy = params["pe"], params["privacy"]
    assert pe["num_iterations"] == 20 and pe["lookahead_degree"] == 8
    assert pe["num_samples_per_class"] * 10 == 50_000 and pe["num_inference_steps"] == 100
    assert (pe["histogram_threshold"], pe["histogram_threshold_unit"]) == (10, "count")
    assert privacy["noise_multiplier"] == pytest.approx(5 * 2 ** 0.5, rel=1e-15) and privacy["epsilon"] is None
    assert privacy["delta"] == 1e-5 and pe["selection"] == "sample" and pe["num_nearest_neighbours"] == 1
    # DPSDA's variation_degree_schedule 2t (t = 1..20) of 100 respaced steps from noise: 100 - 2t steps re-run.
    degrees = variation_degrees(params)
    assert [check_degree(d, 100) for d in degrees] == [100 - 2 * t for t in range(1, 21)]
    assert (params["data"]["private_set"], params["model"]["source"], params["embedding"]["name"]) == \
        ("cifar10", "local", "inception")
    assert params["data"]["private_fraction"] is None  # all 50,000 private training images
    assert estimate_peak_memory(params)["lookahead_variations"] == 400_000


def test_calibrate_shows_the_epsilon_of_the_paper_config(capsys):
    assert main(["calibrate", "--params", str(PAPER)]) == 0
    record = json.loads(capsys.readouterr().out)
    # sigma = 5 sqrt(2), T = 20, delta = 1e-5: mu = sqrt(20) / sigma = 0.632 and epsilon 2.594 (SPEC section 2) for
    # the continuous Gaussian; the exact mechanism's own PLD lands within its grid's rounding of it.
    assert record["solved_for"] == "epsilon" and record["num_iterations"] == 20
    assert record["mu"] == pytest.approx(20 ** 0.5 / (5 * 2 ** 0.5))
    assert record["mechanism"] == "discrete_gaussian" and record["accountant"] == "pld"
    assert 2.594 <= record["epsilon"] <= 2.596
    assert round(record["discrete"]["continuous_gaussian_epsilon"], 3) == 2.594
    assert record["cross_check"]["epsilon"] == pytest.approx(2.594, abs=1e-3)


def test_plan_of_the_paper_config():
    totals = plan_run(load_params(PAPER))["totals"]
    # S_0: 50,000 x 100; variations: 50,000 x sum(100 - 2t) = 50,000 x 1,580; lookaheads of S_0..S_19 at degrees
    # 1..20: 400,000 x 1,580. UNet batches of 1,000 images: 5,000 per image-step of a class's 5,000 images.
    assert totals["image_steps"] == 5_000_000 + 79_000_000 + 632_000_000 == 716_000_000
    assert totals["images"] == 50_000 + 20 * 50_000 + 20 * 400_000
    assert totals["unet_batches"] == 716_000
    assert totals["embedder_images"] == 20 * 400_000


def test_plan_projects_gpu_hours_only_from_a_stated_cost(tmp_path, capsys):
    # device: cuda and no cost: the counts and the formula, no projection.
    out = tmp_path / "plan.json"
    assert main(["plan", "--params", str(PAPER), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "projected: nothing" in text and "716,000,000 image-steps x seconds per image-step / 3600" in text
    assert json.loads(out.read_text())["projection"] is None
    # The cited assumption: 17 s per 256 images x 1000 steps (DDPM paper, TPU v3-8).
    assert ASSUMED_SECONDS_PER_IMAGE_STEP["ddpm-cifar10-tpu-v3-8"] == pytest.approx(6.640625e-05)
    assert main(["plan", "--params", str(PAPER), "--cost", "ddpm-cifar10-tpu-v3-8", "--devices", "1", "8", "--json",
                 str(out)]) == 0
    text = capsys.readouterr().out
    projection = json.loads(out.read_text())["projection"]
    device_hours = 716_000_000 * 17 / 256_000 / 3600
    assert projection["device_hours"] == pytest.approx(device_hours)
    assert projection["hours"] == pytest.approx({"1": device_hours, "8": device_hours / 8})
    assert "assumed: ddpm-cifar10-tpu-v3-8" in text and "ASSUMED, not measured" in text
    assert f"= {device_hours:.3g} h" in text
    # A measured cost wins only when given instead (both at once is refused).
    with pytest.raises(SystemExit):
        main(["plan", "--params", str(PAPER), "--cost", "ddpm-cifar10-tpu-v3-8", "--seconds-per-image-step", "1e-4"])
    with pytest.raises(SystemExit, match="unknown cost assumption"):
        main(["plan", "--params", str(PAPER), "--cost", "h100-guess"])
    assert main(["plan", "--params", str(PAPER), "--seconds-per-image-step", "1e-4", "--devices", "4"]) == 0
    text = capsys.readouterr().out
    assert "on 4 devices" in text and "on 8 devices" not in text and "--seconds-per-image-step" in text
