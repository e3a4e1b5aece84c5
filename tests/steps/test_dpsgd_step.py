"""The dpsgd step draws DP-SGD's gradient noise from the one DP noise policy (privacy.secure_noise reaches it, and
dpsgd.json names the source), and dpsgd.json, the release's report, holds no statistic of the private training
batches and not the number of private images, but says which settings were chosen on private data and what the
noise is."""

import numpy as np
import pytest
import yaml

from privevo.config.params import load_params
from privevo.io.artifacts import load_json, save_images
from privevo.models.dpsgd_settings import SELECTED_ON_PRIVATE_DATA, SELECTED_ON_PRIVATE_DATA_STATUS
from privevo.steps.dpsgd import dpsgd

from conftest import ROOT, write_params

NUM_PRIVATE = 60


def _run_step(tmp_path, *, secure: bool) -> dict:
    params = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    params["privacy"]["secure_noise"] = secure
    params["privacy"]["odometer_dir"] = str(tmp_path / "odometer")
    params["dpsgd"].update(epochs=1, expected_batch_size=20, physical_batch_size=20, private_fraction=None)
    params["evaluation"]["max_test_samples"] = None
    params = load_params(write_params(tmp_path / "params.yaml", params), at_epsilon=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", NUM_PRIVATE), ("test", 20)):
        save_images(tmp_path / f"{split}.npz", rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8),
                    np.arange(n) % 10)
    dpsgd(params, train=str(tmp_path / "train.npz"), test=str(tmp_path / "test.npz"),
          out_report=str(tmp_path / "dpsgd.json"), out_weights=str(tmp_path / "model.safetensors"),
          out_downstream=str(tmp_path / "downstream.json"))
    return load_json(tmp_path / "dpsgd.json")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return _run_step(tmp_path_factory.mktemp("dpsgd"), secure=False)


@pytest.mark.parametrize("secure", [False, True])
def test_the_dpsgd_step_takes_its_noise_from_the_privacy_noise_policy(tmp_path, secure):
    noise = _run_step(tmp_path, secure=secure)["noise"]
    assert noise["source"] == ("secure" if secure else "os-entropy") and noise["seed_stored"] is False


def _leaves(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, path + (index,))
    else:
        yield path, value


def test_dpsgd_json_holds_no_private_batch_statistic_nor_the_private_n(report):
    keys = {key for path, _ in _leaves(report) for key in path if isinstance(key, str)}
    for private in ("history", "train_loss", "train_acc", "examples_seen", "num_train", "num_training_examples"):
        assert private not in keys, private
    assert [path for path, value in _leaves(report)
            if not isinstance(value, bool) and isinstance(value, (int, float)) and value == NUM_PRIVATE] == []
    assert report["sample_rate"] == pytest.approx(20 / NUM_PRIVATE)
    assert "reveals" in report["data_set_size"] and "public" in report["data_set_size"]
    assert "dpsgd.json" not in report["dp_release"] and report["dp_release"] == ["model.safetensors", "model.json"]


def test_dpsgd_json_says_what_was_chosen_on_private_data_and_what_the_noise_is(report):
    selected = report["selected_on_private_data"]
    assert selected["status"] == SELECTED_ON_PRIVATE_DATA_STATUS
    assert [s["setting"] for s in selected["settings"]] == [s["setting"] for s in SELECTED_ON_PRIVATE_DATA]
    this_run = {s["setting"]: s["this_run"] for s in selected["settings"]}
    assert this_run["dpsgd.expected_batch_size"] == 20 and this_run["dpsgd.epochs"] == 1
    noise = report["noise"]
    assert noise["exact_sampler"] is False and "torchcsprng" in noise["opacus_secure_mode"]
    assert "final weights" in noise["released"]


def test_the_training_is_charged_to_the_odometer_before_any_noise_and_completed_after(tmp_path, monkeypatch):
    from privevo.config import odometer as odometer_config
    from privevo.pe.noise import EntropyNoise

    seen = []
    real = EntropyNoise.gaussian

    def watching(self, sigma, size):
        if not seen:
            seen.append(len(odometer_config.odometer(load_params(tmp_path / "params.yaml")).charges()))
        return real(self, sigma, size)

    monkeypatch.setattr(EntropyNoise, "gaussian", watching)
    report = _run_step(tmp_path, secure=False)
    charges = odometer_config.odometer(load_params(tmp_path / "params.yaml")).charges()
    assert len(charges) == 1 and charges[0]["completed"] and charges[0]["mechanism"] == "dpsgd"
    assert charges[0]["event"] == {"kind": "poisson_gaussian", "sample_rate": report["sample_rate"],
                                   "noise_multiplier": report["noise_multiplier"], "count": report["steps"]}
    assert report["odometer_charge"] == charges[0]["id"]
    assert seen == [1]  # the charge was on disk when the first noise value was drawn
