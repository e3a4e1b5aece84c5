"""The dpsgd step draws DP-SGD's gradient noise from the one DP noise policy: privacy.secure_noise reaches it, and
dpsgd.json names the source."""

import numpy as np
import pytest
import yaml

from privevo.config.params import load_params
from privevo.io.artifacts import load_json, save_images
from privevo.steps.dpsgd import dpsgd

from conftest import ROOT, write_params


@pytest.mark.parametrize("secure", [False, True])
def test_the_dpsgd_step_takes_its_noise_from_the_privacy_noise_policy(tmp_path, secure):
    params = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    params["privacy"]["secure_noise"] = secure
    params["dpsgd"].update(epochs=1, expected_batch_size=20, physical_batch_size=20, max_samples=None)
    params["evaluation"]["max_test_samples"] = None
    params = load_params(write_params(tmp_path / "params.yaml", params), at_epsilon=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", 60), ("test", 20)):
        save_images(tmp_path / f"{split}.npz", rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8),
                    np.arange(n) % 10)
    dpsgd(params, train=str(tmp_path / "train.npz"), test=str(tmp_path / "test.npz"),
          out_report=str(tmp_path / "dpsgd.json"), out_weights=str(tmp_path / "model.safetensors"),
          out_downstream=str(tmp_path / "downstream.json"))
    noise = load_json(tmp_path / "dpsgd.json")["noise"]
    assert noise["source"] == ("secure" if secure else "os-entropy") and noise["seed_stored"] is False
