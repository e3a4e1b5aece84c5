"""The procedural garment simulator as PE's API: shapes, determinism, class-conditionality, parameter ranges,
how far a variation moves with its degree, and the api_state riding through the CLI's PE steps."""

import json

import numpy as np
import pytest
import yaml

from privevo.apis import APIS, garments, make_api
from privevo.apis.simulator import CLASS_COLUMN, SEED_COLUMN, STATE_WIDTH, GarmentSimulatorAPI, reflect_unit
from privevo.steps import common as steps_common
from privevo.cli import main
from privevo.config.params import load_params
from privevo.core.errors import ParamsError
from privevo.io.artifacts import load_npz
from privevo.pe import loop as pe

from conftest import ROOT

P = garments.NUM_PARAMS


def test_random_is_class_conditional_uint8_nhwc_and_seeded():
    api = GarmentSimulatorAPI()
    images, state = api.random_with_state(6, class_index=3, seed=11)
    assert images.shape == (6, 28, 28, 1) and images.dtype == np.uint8
    assert state.shape == (6, STATE_WIDTH)
    assert (state[:, CLASS_COLUMN] == 3).all()
    assert (images.reshape(6, -1).max(axis=1) > 40).all()  # every garment is visible
    again, again_state = api.random_with_state(6, class_index=3, seed=11)
    assert again.tobytes() == images.tobytes() and np.array_equal(again_state, state)
    other, _ = api.random_with_state(6, class_index=3, seed=12)
    assert other.tobytes() != images.tobytes()
    plain = api.random(5, seed=4)
    assert plain.shape == (5, 28, 28, 1) and plain.tobytes() == api.random(5, seed=4).tobytes()


def test_the_same_parameters_draw_different_garments_for_different_classes():
    u = np.random.default_rng(0).random((1, P)).repeat(10, axis=0)
    images = garments.render(np.arange(10), u, np.zeros(10, np.int64))
    flat = images.reshape(10, -1).astype(int)
    distances = np.abs(flat[:, None] - flat[None]).mean(axis=2)
    assert (distances[~np.eye(10, dtype=bool)] > 3).all()
    # Trousers are taller than wide, sneakers wider than tall (front view of clothes, side view of shoes).
    trouser, sneaker = images[1, ..., 0] > 30, images[7, ..., 0] > 30
    assert np.ptp(np.flatnonzero(trouser.any(1))) > np.ptp(np.flatnonzero(trouser.any(0)))
    assert np.ptp(np.flatnonzero(sneaker.any(0))) > np.ptp(np.flatnonzero(sneaker.any(1)))


@pytest.mark.parametrize("extreme", [0.0, 1.0])
def test_every_class_renders_at_the_ends_of_the_prior_ranges(extreme):
    u = np.full((10, P), extreme)
    images = garments.render(np.arange(10), u, np.arange(10))
    assert (images.reshape(10, -1) > 20).sum(axis=1).min() > 20


def test_variation_moves_further_with_the_degree_and_keeps_class_and_ranges():
    api = GarmentSimulatorAPI(perturbation_scale=0.25)
    images, state = api.random_with_state(40, class_index=6, seed=1)
    mean_change = []
    for degree in (0.05, 0.3, 1.0):
        varied, new_state = api.variation_with_state(images, state, degree=degree, seed=2)
        assert (new_state[:, CLASS_COLUMN] == 6).all()
        assert new_state[:, :P].min() >= 0 and new_state[:, :P].max() <= 1
        mean_change.append(np.abs(varied.astype(int) - images.astype(int)).mean())
    assert mean_change[0] < mean_change[1] < mean_change[2]
    step = api.perturb_state(state, degree=0.1, seed=3)[:, :P] - state[:, :P]
    assert 0.01 < np.abs(step).mean() < 0.04  # about degree * scale * sqrt(2 / pi) = 0.02
    same, same_state = api.variation_with_state(images, state, degree=0, seed=2)
    assert same.tobytes() == images.tobytes() and np.array_equal(same_state, state)
    # Degree 1 is a fresh draw of the same class: independent of the parent's parameters.
    fresh = api.perturb_state(state, degree=1.0, seed=5)
    assert abs(np.corrcoef(fresh[:, :P].ravel(), state[:, :P].ravel())[0, 1]) < 0.1


def test_variation_needs_the_state_and_a_valid_degree():
    api = GarmentSimulatorAPI()
    images, state = api.random_with_state(3, class_index=0, seed=1)
    with pytest.raises(ValueError, match="api_state"):
        api.variation(images, degree=0.5, seed=1)
    with pytest.raises(ParamsError):
        api.variation_with_state(images, state, degree=1.5, seed=1)
    bad = state.copy()
    bad[0, 0] = 1.5
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        api.variation_with_state(images, bad, degree=0.5, seed=1)
    assert api.variation(images, degree=0.5, seed=1, state=state).shape == images.shape


def test_reflection_keeps_values_in_the_unit_interval():
    values = np.array([-0.3, 0.2, 1.25, 2.6, -1.2])
    np.testing.assert_allclose(reflect_unit(values), [0.3, 0.2, 0.75, 0.6, 0.8])


def test_registered_and_built_from_params():
    params = load_params(ROOT / "config" / "smoke.yaml", [])
    assert params["pe"]["api"] == "diffusion"  # the default stays the diffusion model
    params["pe"]["api"] = "simulator"
    api = make_api(params, model_dir="unused", image_shape=(28, 28, 1))
    assert isinstance(api, GarmentSimulatorAPI) and api.perturbation_scale == params["simulator"]["perturbation_scale"]
    assert APIS.get("simulator") is GarmentSimulatorAPI
    with pytest.raises(ParamsError, match="pe.api"):
        make_api(params, model_dir="unused", image_shape=(32, 32, 3))


def test_loop_draws_each_class_and_varies_parameters_with_the_state():
    api = GarmentSimulatorAPI()
    images, labels, state = pe.initial_population_with_state(api, classes=[0, 7], num_samples_per_class=3, seed=0)
    assert np.array_equal(state[:, CLASS_COLUMN], labels)
    varied, varied_state = pe.variation_population_with_state(api, images, labels, degree=0.5, iteration=1, seed=0,
                                                              state=state)
    assert np.array_equal(varied_state[:, CLASS_COLUMN], labels) and varied.shape == images.shape
    with pytest.raises(ValueError, match="api_state"):
        pe.variation_population(api, images, labels, degree=0.5, iteration=1, seed=0)


class FakeEmbedder:
    def embed(self, images, batch_size=128, progress=True):
        return images.reshape(len(images), -1).astype(np.float32)[:, ::16]


def test_cli_steps_carry_the_parameters_from_s0_through_selection_and_variation(tmp_path, monkeypatch):
    params = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    params["pe"].update(api="simulator", num_samples_per_class=4, num_iterations=1, lookahead_degree=2,
                        variation_degrees=[0.6])
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    monkeypatch.setattr(steps_common, "embedder", lambda params, name=None: FakeEmbedder())
    common = ["--params", str(path), "--model", "unused"]
    assert main(["pe-init", *common, "--out", str(tmp_path / "s0.npz")]) == 0
    s0 = load_npz(tmp_path / "s0.npz")
    assert s0["api_state"].shape == (40, STATE_WIDTH)
    assert np.array_equal(s0["api_state"][:, CLASS_COLUMN], s0["labels"])
    assert main(["pe-lookahead", *common, "--candidates", str(tmp_path / "s0.npz"), "--iteration", "0",
                 "--out", str(tmp_path / "la.npy")]) == 0
    rng = np.random.default_rng(0)
    np.save(tmp_path / "private.npy", rng.normal(size=(100, 49)).astype(np.float32))
    np.save(tmp_path / "private_labels.npy", np.repeat(np.arange(10), 10))
    (tmp_path / "calibration.json").write_text(json.dumps({"noise_multiplier": 0.5, "mechanism": "discrete_gaussian"}))
    assert main(["pe-histogram", "--params", str(path), "--iteration", "1",
                 "--private-embeddings", str(tmp_path / "private.npy"),
                 "--private-labels", str(tmp_path / "private_labels.npy"), "--candidates", str(tmp_path / "s0.npz"),
                 "--lookahead", str(tmp_path / "la.npy"), "--calibration", str(tmp_path / "calibration.json"),
                 "--out-dir", str(tmp_path / "iter_001")]) == 0
    selected = load_npz(tmp_path / "iter_001" / "selected.npz")
    np.testing.assert_array_equal(selected["api_state"], s0["api_state"][selected["parent_ids"]])
    assert main(["pe-variation", *common, "--selected", str(tmp_path / "iter_001" / "selected.npz"),
                 "--iteration", "1", "--out", str(tmp_path / "s1.npz")]) == 0
    s1 = load_npz(tmp_path / "s1.npz")
    assert np.array_equal(s1["api_state"][:, CLASS_COLUMN], s1["labels"])
    assert not np.array_equal(s1["api_state"], selected["api_state"])
    # Class shards compute the same rows, parameters included, and merge back into one population.
    parts = []
    for shard in (0, 1):
        part = tmp_path / f"part{shard}.npz"
        assert main(["pe-variation", *common, "--selected", str(tmp_path / "iter_001" / "selected.npz"),
                     "--iteration", "1", "--shard", str(shard), "--shards", "2", "--out", str(part)]) == 0
        parts.append(str(part))
    assert main(["pe-merge-shards", "--kind", "candidates", "--parts", *parts, "--out", str(tmp_path / "m.npz")]) == 0
    merged = load_npz(tmp_path / "m.npz")
    assert merged["images"].tobytes() == s1["images"].tobytes()
    np.testing.assert_array_equal(merged["api_state"], s1["api_state"])
    assert (s1["api_state"][:, SEED_COLUMN] >= 0).all()
