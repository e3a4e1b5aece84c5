"""pe.api_schedule (issue 11, lever 3): which API draws each population, what a run's DAG and keys then depend on,
bad schedules as one line, and the CLI's PE steps switching from the simulator to diffusion mid-run."""

import json

import numpy as np
import pytest
import yaml

from privevo.steps import common as steps_common
from privevo.cli import main
from privevo.config.layout import Layout
from privevo.config.params import load_params
from privevo.config.schedule import api_of_iteration, population_sizes, scheduled_apis
from privevo.config.memory import estimate_peak_memory
from privevo.config.plan import plan_run
from privevo.core.errors import ParamsError
from privevo.io.artifacts import load_npz
from privevo.models.ddpm import build_unet

from conftest import ROOT

SMOKE = ROOT / "config" / "smoke.yaml"
SWITCH = "pe.api_schedule=[{from_iteration: 2, api: diffusion}]"


def test_each_population_is_drawn_by_the_api_scheduled_for_it():
    params = load_params(SMOKE, ["pe.api=simulator", "pe.num_iterations=3", "pe.variation_degrees=[0.8, 0.6, 0.4]",
                                 SWITCH])
    assert [api_of_iteration(params, t) for t in range(4)] == ["simulator", "simulator", "diffusion", "diffusion"]
    assert scheduled_apis(params) == ["simulator", "diffusion"]
    plain = load_params(SMOKE, ["pe.api=simulator"])
    assert {api_of_iteration(plain, t) for t in range(3)} == {"simulator"} and scheduled_apis(plain) == ["simulator"]


@pytest.mark.parametrize("schedule, message", [
    ("[{from_iteration: 2, api: diffusion}, {from_iteration: 2, api: diffusion}]", "must rise"),
    ("[{from_iteration: 9, api: diffusion}]", "after the last iteration"),
    ("[{from_iteration: 1, api: simulator}]", r"pe.api_schedule\[0\].api: simulator varies a per-image state"),
    ("[{from_iteration: 1, api: dalle}]", r"pe.api_schedule\[0\].api"),
    ("[{from_iteration: 0, api: diffusion}]", r"pe.api_schedule.0.from_iteration"),
])
def test_a_bad_schedule_is_one_line_naming_the_key(schedule, message):
    with pytest.raises(ParamsError, match=message) as error:
        load_params(SMOKE, [f"pe.api_schedule={schedule}"])
    assert "\n" not in str(error.value)


def test_a_schedule_entry_sets_the_population_from_its_iteration_on():
    params = load_params(SMOKE, ["pe.api=simulator", "pe.num_iterations=4", "pe.variation_degrees=[0.8, 0.7, 0.6, 0.4]",
                                 "pe.num_samples_per_class=40",
                                 "pe.api_schedule=[{from_iteration: 2, api: simulator, num_samples_per_class: 20}, "
                                 "{from_iteration: 3, api: diffusion}]"])
    assert population_sizes(params) == [40, 40, 20, 20, 20]  # an entry without a size keeps the one in force
    assert population_sizes(load_params(SMOKE, ["pe.api=simulator", SWITCH])) == [8, 8, 8]
    assert estimate_peak_memory(params)["population"] == 400  # sized for the largest population


@pytest.mark.parametrize("overrides, message", [
    (["pe.release_size=4", "pe.api_schedule=[{from_iteration: 2, api: diffusion, num_samples_per_class: 6}]"],
     r"pe.release_size: 4 per class is below pe.num_samples_per_class \(with pe.api_schedule\) \(6\)"),
    (["pe.num_nearest_neighbours=5", "pe.api_schedule=[{from_iteration: 1, api: diffusion, num_samples_per_class: 4}]"],
     r"pe.num_nearest_neighbours: .* only pe.num_samples_per_class \(with pe.api_schedule\) = 4"),
    (["pe.api_schedule=[{from_iteration: 2, api: diffusion, num_samples_per_class: 0}]"],
     r"pe.api_schedule.0.num_samples_per_class"),
])
def test_a_scheduled_population_too_small_for_the_settings_is_one_line(overrides, message):
    with pytest.raises(ParamsError, match=message) as error:
        load_params(SMOKE, overrides)
    assert "\n" not in str(error.value)


def test_the_plan_sizes_each_step_by_its_population():
    params = load_params(SMOKE, ["pe.api=simulator", "pe.num_samples_per_class=30", "pe.lookahead_degree=2",
                                 "pe.api_schedule=[{from_iteration: 2, api: diffusion, num_samples_per_class: 10}]"])
    plan = plan_run(params)
    rows = {(row["step"], row["iteration"]): row for row in plan["steps"]}
    assert rows[("pe-init", 0)]["images"] == 300 and rows[("pe-variation", 1)]["images"] == 300
    assert rows[("pe-lookahead", 1)]["images"] == 600  # S_1 (30 per class) feeds iteration 2's votes
    assert rows[("pe-variation", 2)]["images"] == 100 and rows[("pe-lookahead", 1)]["embedder_images"] == 600
    assert plan["settings"]["population_sizes"] == [30, 30, 10]


def test_the_dag_reads_every_scheduled_apis_inputs_and_keys_follow_the_schedule():
    simulator = load_params(SMOKE, ["pe.api=simulator"])
    mixed = load_params(SMOKE, ["pe.api=simulator", SWITCH])
    plain, switched = Layout(simulator), Layout(mixed)
    assert plain.api_inputs == [] and not plain.uses_model
    assert switched.api_inputs == [switched.model_marker] and switched.uses_model
    assert switched.run_key != plain.run_key
    assert switched.keys["base"] == plain.keys["base"]  # S_0 and its lookahead are the simulator's in both
    from_first = Layout(load_params(SMOKE, ["pe.api=simulator", "pe.api_schedule=[{from_iteration: 1, api: diffusion}]"]))
    assert from_first.keys["base"] != plain.keys["base"]  # S_0's lookahead now varies with diffusion
    pooled = Layout(load_params(SMOKE, ["pe.api=retrieval", SWITCH]))
    assert pooled.api_inputs == [pooled.model_marker, pooled.public]


def test_the_plan_counts_unet_steps_only_where_diffusion_draws():
    params = load_params(SMOKE, ["pe.api=simulator", SWITCH])
    rows = {(row["step"], row["iteration"]): row for row in plan_run(params)["steps"]}
    assert rows[("pe-init", 0)]["image_steps"] == 0 and rows[("pe-variation", 1)]["image_steps"] == 0
    assert rows[("pe-lookahead", 1)]["image_steps"] > 0  # feeds iteration 2, drawn by diffusion
    assert rows[("pe-variation", 2)]["image_steps"] > 0


class FakeEmbedder:
    def embed(self, images, batch_size=128, progress=True):
        return images.reshape(len(images), -1).astype(np.float32)[:, ::16]


def test_cli_switches_from_the_simulator_to_diffusion_and_drops_the_garment_state(tmp_path, monkeypatch):
    from diffusers import DDPMScheduler

    model = tmp_path / "model"
    build_unet(image_size=28, channels=1, block_out_channels=[8, 16], layers_per_block=1, attention=False) \
        .save_pretrained(model / "unet")
    DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2").save_pretrained(model / "scheduler")
    params = yaml.safe_load(SMOKE.read_text())
    # The simulator searches 4 candidates per class; iteration 2's votes pick 2 parents each for diffusion.
    params["pe"].update(api="simulator", num_samples_per_class=4, num_iterations=2, lookahead_degree=1,
                        num_inference_steps=4, variation_degrees=[0.5, 0.5],
                        api_schedule=[{"from_iteration": 2, "api": "diffusion", "num_samples_per_class": 2}])
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    monkeypatch.setattr(steps_common, "embedder", lambda params, name=None: FakeEmbedder())
    common = ["--params", str(path), "--model", str(model)]
    np.save(tmp_path / "private.npy", np.random.default_rng(0).normal(size=(40, 49)).astype(np.float32))
    np.save(tmp_path / "private_labels.npy", np.repeat(np.arange(10), 4))
    (tmp_path / "calibration.json").write_text(json.dumps({"noise_multiplier": 0.5, "mechanism": "discrete_gaussian"}))

    def histogram(t, candidates, lookahead):
        assert main(["pe-histogram", "--params", str(path), "--iteration", str(t),
                     "--private-embeddings", str(tmp_path / "private.npy"),
                     "--private-labels", str(tmp_path / "private_labels.npy"), "--candidates", str(candidates),
                     "--lookahead", str(lookahead), "--calibration", str(tmp_path / "calibration.json"),
                     "--out-dir", str(tmp_path / f"iter_{t}")]) == 0
        return tmp_path / f"iter_{t}" / "selected.npz"

    assert main(["pe-init", *common, "--out", str(tmp_path / "s0.npz")]) == 0
    assert "api_state" in load_npz(tmp_path / "s0.npz")
    assert main(["pe-lookahead", *common, "--candidates", str(tmp_path / "s0.npz"), "--iteration", "0",
                 "--out", str(tmp_path / "la0.npy")]) == 0
    assert main(["pe-variation", *common, "--selected", str(histogram(1, tmp_path / "s0.npz", tmp_path / "la0.npy")),
                 "--iteration", "1", "--out", str(tmp_path / "s1.npz")]) == 0
    s1 = load_npz(tmp_path / "s1.npz")
    assert "api_state" in s1 and len(s1["images"]) == 40  # iteration 1 is still the simulator's, N_1 = 4
    assert main(["pe-lookahead", *common, "--candidates", str(tmp_path / "s1.npz"), "--iteration", "1",
                 "--out", str(tmp_path / "la1.npy")]) == 0
    selected = histogram(2, tmp_path / "s1.npz", tmp_path / "la1.npy")
    assert np.bincount(load_npz(selected)["labels"]).tolist() == [2] * 10  # 2 parents of 4 candidates per class
    assert main(["pe-variation", *common, "--selected", str(selected), "--iteration", "2",
                 "--out", str(tmp_path / "s2.npz")]) == 0
    s2 = load_npz(tmp_path / "s2.npz")
    assert "api_state" not in s2 and s2["images"].shape == (20, 28, 28, 1)  # diffusion varies pixels
    assert s2["images"].tobytes() != load_npz(selected)["images"].tobytes()
