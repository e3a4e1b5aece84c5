"""Running out of memory in a batch loop becomes one clear line naming the params key and a smaller batch."""

import logging

import numpy as np
import pytest
import torch

from privevo.core.devices import is_out_of_memory, out_of_memory_hint
from privevo.core.errors import BatchTooLargeError, ParamsError
from privevo.embedders.base import Embedder
from privevo.models.ddpm import build_unet

from conftest import ROOT

CUDA_OOM = "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.10 GiB"
CPU_OOM = "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: you tried to allocate 1"


def tiny_unet():
    return build_unet(image_size=28, channels=1, block_out_channels=[8, 16], layers_per_block=1, attention=False)


def raise_(exc):
    def fail(*args, **kwargs):
        raise exc
    return fail


@pytest.mark.parametrize("exc", [torch.cuda.OutOfMemoryError(CUDA_OOM), RuntimeError(CPU_OOM), MemoryError(),
                                 RuntimeError("MPS backend out of memory (MPS allocated: 1 GB)"),
                                 RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate`")])
def test_every_allocator_message_counts_as_out_of_memory(exc):
    assert is_out_of_memory(exc)


@pytest.mark.parametrize("exc", [RuntimeError("mat1 and mat2 shapes cannot be multiplied"), ValueError("out of memory")])
def test_other_errors_are_not_out_of_memory(exc):
    assert not is_out_of_memory(exc)


def test_hint_names_the_key_and_half_the_batch():
    with pytest.raises(BatchTooLargeError) as info:
        with out_of_memory_hint("pe.batch_size", 128, torch.device("cuda", 0)):
            raise torch.cuda.OutOfMemoryError(CUDA_OOM)
    message = str(info.value)
    assert message.startswith("params key pe.batch_size: out of memory on cuda:0 with batches of 128")
    assert "set pe.batch_size to 64 or lower" in message and "Tried to allocate 2.00 GiB" in message
    assert "\n" not in message and len(message) < 300
    assert isinstance(info.value, ParamsError)  # so the CLI prints it as one line and exits with 2
    assert isinstance(info.value.__cause__, torch.cuda.OutOfMemoryError)


def test_hint_on_cpu_allocator_failure_and_a_batch_of_one():
    with pytest.raises(BatchTooLargeError, match=r"model\.batch_size: .*set model\.batch_size to 3 or lower"):
        with out_of_memory_hint("model.batch_size", 7):
            raise RuntimeError(CPU_OOM)
    with pytest.raises(BatchTooLargeError, match="a batch of 1 does not fit"):
        with out_of_memory_hint("embedding.batch_size", 1, "cpu"):
            raise MemoryError()


@pytest.mark.parametrize("exc", [RuntimeError("expected scalar type Float"), KeyError("x"), ValueError("bad")])
def test_hint_lets_other_errors_through_unchanged(exc):
    with pytest.raises(type(exc)) as info:
        with out_of_memory_hint("pe.batch_size", 8):
            raise exc
    assert info.value is exc


def test_diffusion_api_names_pe_batch_size(monkeypatch):
    from diffusers import DDPMScheduler

    from privevo.apis.diffusion import DiffusionAPI

    api = DiffusionAPI(tiny_unet(), DDPMScheduler(num_train_timesteps=1000).config, num_inference_steps=2,
                       batch_size=6, device="cpu", mixed_precision="fp32")
    monkeypatch.setattr(api.unet, "forward", raise_(torch.cuda.OutOfMemoryError(CUDA_OOM)))
    with pytest.raises(BatchTooLargeError, match=r"pe\.batch_size: .*batches of 6; set pe\.batch_size to 3"):
        api.random(4, seed=0)
    images = np.zeros((4, 28, 28, 1), np.uint8)
    with pytest.raises(BatchTooLargeError, match=r"pe\.batch_size"):
        api.variation(images, degree=0.5, seed=0)


class RunsOutOfMemory(Embedder):
    name = "oom"
    device = torch.device("cpu")

    @property
    def dim(self) -> int:
        return 2

    def _embed_batch(self, batch):
        raise RuntimeError(CPU_OOM)


def test_embedder_names_embedding_batch_size():
    with pytest.raises(BatchTooLargeError, match=r"embedding\.batch_size: .* on cpu with batches of 10; .* to 5"):
        RunsOutOfMemory().embed(np.zeros((3, 8, 8, 1), np.uint8), batch_size=10, progress=False)


def test_pretraining_names_model_batch_size(monkeypatch, tmp_path):
    from privevo.models import ddpm

    def unet_that_runs_out():
        unet = tiny_unet()
        unet.forward = raise_(torch.cuda.OutOfMemoryError(CUDA_OOM))
        return unet

    monkeypatch.setattr(ddpm, "build_unet", lambda **kwargs: unet_that_runs_out())
    params = {"block_out_channels": [8, 16], "layers_per_block": 1, "attention": False, "train_steps": 2,
              "batch_size": 4, "learning_rate": 1e-3, "warmup_steps": 1, "ema_decay": 0.99,
              "num_train_timesteps": 100, "beta_schedule": "linear", "mixed_precision": "fp32"}
    images = np.zeros((8, 28, 28, 1), np.uint8)
    with pytest.raises(BatchTooLargeError, match=r"model\.batch_size: .*batches of 4; set model\.batch_size to 2"):
        ddpm.pretrain(images, model_params=params, out_dir=tmp_path, seed=0, device="cpu")


def test_cli_prints_one_line_and_exits_with_2(monkeypatch, tmp_path, caplog):
    from diffusers import DDPMScheduler, UNet2DModel

    from privevo.cli.parser import main

    tiny_unet().save_pretrained(tmp_path / "model" / "unet")
    DDPMScheduler(num_train_timesteps=1000).save_pretrained(tmp_path / "model" / "scheduler")
    monkeypatch.setattr(UNet2DModel, "forward", raise_(torch.cuda.OutOfMemoryError(CUDA_OOM)))
    with caplog.at_level(logging.INFO):
        code = main(["pe-init", "--params", str(ROOT / "config" / "smoke.yaml"), "--set", "device=cpu",
                     "--model", str(tmp_path / "model"), "--out", str(tmp_path / "candidates.npz")])
    assert code == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].startswith("params key pe.batch_size: out of memory on cpu")
    assert not (tmp_path / "candidates.npz").exists()
