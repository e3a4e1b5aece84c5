"""Retrieval over the public pool as PE's API: only pool images come back, a variation stays among an image's
k nearest (k from the degree), draws are seeded, and the pool index rides through the CLI's PE steps."""

import json

import numpy as np
import pytest
import yaml

from privevo.apis import APIS, carries_state, make_api, uses_foundation_model, uses_public_pool
from privevo.apis.retrieval import PublicPoolRetrievalAPI
from privevo.steps import common as steps_common
from privevo.cli import main
from privevo.config.layout import Layout
from privevo.config.params import load_params
from privevo.core.errors import ParamsError
from privevo.io.artifacts import load_npz, save_images
from privevo.pe import loop as pe

from conftest import ROOT


def make_pool(n=300, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28, 1), dtype=np.uint8)


def brute_force_nearest(pool, index, k):
    flat = pool.reshape(len(pool), -1).astype(np.float64)
    distances = ((flat - flat[index]) ** 2).sum(axis=1)
    distances[index] = -1
    return set(np.argsort(distances, kind="stable")[:k].tolist())


def test_random_draws_distinct_pool_images_with_their_indices_and_is_seeded():
    pool = make_pool()
    api = PublicPoolRetrievalAPI(pool, max_neighbours=20)
    images, state = api.random_with_state(50, class_index=4, seed=3)
    assert images.shape == (50, 28, 28, 1) and images.dtype == np.uint8 and state.shape == (50, 1)
    assert len(np.unique(state)) == 50  # without replacement
    np.testing.assert_array_equal(images, pool[state[:, 0]])
    again, again_state = api.random_with_state(50, class_index=4, seed=3)
    assert again.tobytes() == images.tobytes() and np.array_equal(again_state, state)
    assert not np.array_equal(api.random_with_state(50, class_index=4, seed=4)[1], state)


@pytest.mark.parametrize("degree, k", [(0.8, 16), (0.4, 8), (0.05, 1)])
def test_a_variation_is_one_of_the_k_nearest_pool_images_with_k_from_the_degree(degree, k):
    pool = make_pool()
    api = PublicPoolRetrievalAPI(pool, max_neighbours=20)
    assert api.neighbourhood_size(degree) == k
    _, state = api.random_with_state(40, class_index=0, seed=1)
    varied, varied_state = api.variation_with_state(pool[state[:, 0]], state, degree=degree, seed=2)
    np.testing.assert_array_equal(varied, pool[varied_state[:, 0]])
    for parent, child in zip(state[:, 0], varied_state[:, 0]):
        assert child in brute_force_nearest(pool, parent, k)
    if k > 1:
        assert (varied_state != state).mean() > 0.5  # most move (1/k of them stay put)
    again = api.variation_with_state(pool[state[:, 0]], state, degree=degree, seed=2)[1]
    np.testing.assert_array_equal(again, varied_state)


def test_degree_zero_keeps_the_image_and_a_bad_state_or_degree_is_refused():
    pool = make_pool(50)
    api = PublicPoolRetrievalAPI(pool, max_neighbours=10)
    images, state = api.random_with_state(5, class_index=0, seed=0)
    same, same_state = api.variation_with_state(images, state, degree=0.0, seed=9)
    assert same.tobytes() == images.tobytes() and np.array_equal(same_state, state)
    with pytest.raises(ValueError, match="api_state"):
        api.variation(images, degree=0.5, seed=0)
    with pytest.raises(ValueError, match="pool indices"):
        api.variation_with_state(images, np.full((5, 1), 50), degree=0.5, seed=0)
    with pytest.raises(ParamsError, match="0 of 10 steps"):
        api.variation_with_state(images, state, degree=0.01, seed=0)
    with pytest.raises(ValueError, match="max_neighbours"):
        PublicPoolRetrievalAPI(pool, max_neighbours=51)


def test_built_from_params_over_the_prepared_public_set(tmp_path):
    params = load_params(ROOT / "config" / "smoke.yaml", ["pe.api=retrieval", "retrieval.max_neighbours=7"])
    assert APIS.get("retrieval") is PublicPoolRetrievalAPI
    assert not uses_foundation_model("retrieval") and uses_public_pool("retrieval")
    save_images(tmp_path / "public.npz", make_pool(30), np.zeros(30, np.int64))
    api = make_api(params, "unused", image_shape=(28, 28, 1), public_pool=str(tmp_path / "public.npz"))
    assert isinstance(api, PublicPoolRetrievalAPI) and api.max_neighbours == 7 and len(api.pool) == 30
    with pytest.raises(ParamsError, match="--public"):
        make_api(params, "unused", image_shape=(28, 28, 1))
    with pytest.raises(ParamsError, match="pe.api"):
        make_api(params, "unused", image_shape=(32, 32, 3), public_pool=str(tmp_path / "public.npz"))
    # The run's DAG reads the public set, not a foundation model, and its keys follow retrieval's settings.
    layout = Layout(params)
    assert layout.api_inputs == [layout.public] and not layout.uses_model
    other = Layout(load_params(ROOT / "config" / "smoke.yaml", ["pe.api=retrieval", "retrieval.max_neighbours=8"]))
    assert other.run_key != layout.run_key and other.keys["base"] != layout.keys["base"]
    simulator = load_params(ROOT / "config" / "smoke.yaml", ["pe.api=simulator"])
    assert Layout(simulator).api_inputs == []
    moved = load_params(ROOT / "config" / "smoke.yaml", ["pe.api=simulator", "retrieval.max_neighbours=8"])
    assert Layout(moved).run_key == Layout(simulator).run_key  # another API's section moves no simulator run


@pytest.mark.parametrize("name", ["diffusion", "simulator", "retrieval"])
def test_the_params_check_knows_which_apis_carry_a_state(name):
    # pe.api_schedule is checked without importing the APIs; the list must agree with the classes.
    assert carries_state(name) == bool(getattr(APIS.get(name), "carries_state", False))


class FakeEmbedder:
    def embed(self, images, batch_size=128, progress=True):
        return images.reshape(len(images), -1).astype(np.float32)[:, ::16]


def test_cli_steps_carry_pool_indices_from_s0_through_selection_and_variation(tmp_path, monkeypatch, caplog):
    params = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    params["pe"].update(api="retrieval", num_samples_per_class=4, num_iterations=1, lookahead_degree=2,
                        variation_degrees=[0.6], release_size=6)
    params["retrieval"] = {"max_neighbours": 10}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    pool = make_pool(200)
    save_images(tmp_path / "public.npz", pool, np.zeros(200, np.int64))
    monkeypatch.setattr(steps_common, "embedder", lambda params, name=None: FakeEmbedder())
    common = ["--params", str(path), "--model", "unused", "--public", str(tmp_path / "public.npz")]
    assert main(["pe-init", *common, "--out", str(tmp_path / "s0.npz")]) == 0
    s0 = load_npz(tmp_path / "s0.npz")
    np.testing.assert_array_equal(s0["images"], pool[s0["api_state"][:, 0]])
    assert main(["pe-lookahead", *common, "--candidates", str(tmp_path / "s0.npz"), "--iteration", "0",
                 "--out", str(tmp_path / "la.npy")]) == 0
    rng = np.random.default_rng(0)
    np.save(tmp_path / "private.npy", rng.normal(size=(100, 49)).astype(np.float32))
    np.save(tmp_path / "private_labels.npy", np.repeat(np.arange(10), 10))
    (tmp_path / "calibration.json").write_text(json.dumps({"noise_multiplier": 0.5, "epsilon": 1.0, "mechanism": "discrete_gaussian"}))
    assert main(["pe-histogram", "--params", str(path), "--iteration", "1",
                 "--private-embeddings", str(tmp_path / "private.npy"),
                 "--private-labels", str(tmp_path / "private_labels.npy"), "--candidates", str(tmp_path / "s0.npz"),
                 "--lookahead", str(tmp_path / "la.npy"), "--calibration", str(tmp_path / "calibration.json"),
                 "--out-dir", str(tmp_path / "iter_001")]) == 0
    assert main(["pe-variation", *common, "--selected", str(tmp_path / "iter_001" / "selected.npz"),
                 "--iteration", "1", "--out", str(tmp_path / "s1.npz")]) == 0
    s1 = load_npz(tmp_path / "s1.npz")
    np.testing.assert_array_equal(s1["images"], pool[s1["api_state"][:, 0]])
    assert s1["api_state"].shape == (40, 1)
    assert main(["pe-variation", "--params", str(path), "--model", "unused", "--selected",
                 str(tmp_path / "iter_001" / "selected.npz"), "--iteration", "1", "--out", str(tmp_path / "x.npz")]) != 0
    assert "give its path (privevo pe-* --public" in caplog.text and not (tmp_path / "x.npz").exists()


def test_loop_and_release_keep_every_image_a_pool_image():
    pool = make_pool(120)
    api = PublicPoolRetrievalAPI(pool, max_neighbours=12)
    images, labels, state = pe.initial_population_with_state(api, classes=[0, 3], num_samples_per_class=5, seed=0)
    varied, varied_state = pe.variation_population_with_state(api, images, labels, degree=0.5, iteration=1, seed=0,
                                                              state=state)
    np.testing.assert_array_equal(varied, pool[varied_state[:, 0]])
    released, _, parents, released_state = pe.expand_release(api, varied, labels, per_class=9, degree=0.4, seed=0,
                                                             state=varied_state)
    assert len(released) == 18
    np.testing.assert_array_equal(released, pool[released_state[:, 0]])
