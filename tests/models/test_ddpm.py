import numpy as np
import pytest
import torch

from privevo.models.ddpm import pretrain

PARAMS = {"block_out_channels": [8, 16], "layers_per_block": 1, "attention": False, "train_steps": 6,
          "batch_size": 8, "learning_rate": 1e-3, "warmup_steps": 2, "ema_decay": 0.99, "num_train_timesteps": 100,
          "beta_schedule": "linear", "mixed_precision": "fp32"}


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(32, 28, 28, 1), dtype=np.uint8)


def weights(folder):
    from safetensors.numpy import load_file

    return load_file(str(folder / "unet" / "diffusion_pytorch_model.safetensors"))


def test_killed_pretraining_resumes_to_the_same_weights(tmp_path, images, monkeypatch):
    torch.set_num_threads(1)
    pretrain(images, model_params=PARAMS, out_dir=tmp_path / "straight", seed=3, device="cpu", checkpoint_every=2)

    calls = {"n": 0}
    real_clip = torch.nn.utils.clip_grad_norm_

    def crash_on_fifth_step(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt("killed")
        return real_clip(*args, **kwargs)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", crash_on_fifth_step)
    with pytest.raises(KeyboardInterrupt):
        pretrain(images, model_params=PARAMS, out_dir=tmp_path / "resumed", seed=3, device="cpu", checkpoint_every=2)
    assert (tmp_path / "resumed" / ".pretrain_checkpoint.pt").exists()
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", real_clip)
    summary = pretrain(images, model_params=PARAMS, out_dir=tmp_path / "resumed", seed=3, device="cpu",
                       checkpoint_every=2)
    assert summary["train_steps"] == 6
    assert not (tmp_path / "resumed" / ".pretrain_checkpoint.pt").exists()
    straight, resumed = weights(tmp_path / "straight"), weights(tmp_path / "resumed")
    assert straight.keys() == resumed.keys()
    for key in straight:
        np.testing.assert_array_equal(straight[key], resumed[key], err_msg=key)
