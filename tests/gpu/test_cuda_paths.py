"""The CUDA paths: UNet sampling (fp32 and bf16 autocast), pretraining, the embedder and the nearest-neighbour
search on a GPU, against the same code on the CPU. Every test here needs CUDA and is skipped without it
(tests/conftest.py); benchmarks/gpu_check.sh runs them on a GPU machine.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from privevo.apis.diffusion import DiffusionAPI
from privevo.core.devices import resolve_device, resolve_mixed_precision
from privevo.core.errors import BatchTooLargeError
from privevo.models.ddpm import build_unet
from privevo.pe import neighbours

pytestmark = pytest.mark.gpu

CUDA = torch.device("cuda")


def tiny_api(device: str, mixed_precision: str = "fp32", batch_size: int = 8, steps: int = 10) -> DiffusionAPI:
    from diffusers import DDPMScheduler

    torch.manual_seed(0)  # the same random UNet on every call
    unet = build_unet(image_size=28, channels=1, block_out_channels=[8, 16], layers_per_block=1, attention=False)
    config = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2").config
    return DiffusionAPI(unet, config, num_inference_steps=steps, batch_size=batch_size, device=device,
                        mixed_precision=mixed_precision)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    rng = np.random.default_rng(0)
    images = np.zeros((12, 28, 28, 1), np.uint8)
    images[:, 6:22, 8:20] = rng.integers(120, 255, size=(12, 16, 12, 1))
    return images


def uint8_gap(a: np.ndarray, b: np.ndarray) -> tuple[int, float]:
    diff = np.abs(a.astype(int) - b.astype(int))
    return int(diff.max()), float(diff.mean())


def test_auto_resolves_to_cuda_and_native_bf16():
    assert resolve_device("auto") == CUDA
    precision, reason = resolve_mixed_precision("auto", "auto")
    assert precision == ("bf16" if torch.cuda.is_bf16_supported(including_emulation=False) else "fp32"), reason


def test_random_and_variation_on_cuda_are_seeded(images):
    api = tiny_api("cuda")
    assert next(api.unet.parameters()).device.type == "cuda"
    a = api.random(10, seed=1)
    assert a.shape == (10, 28, 28, 1) and a.dtype == np.uint8
    assert uint8_gap(a, api.random(10, seed=1))[0] <= 1
    assert not np.array_equal(a, api.random(10, seed=2))
    v = api.variation(images, degree=0.5, seed=3)
    assert v.shape == images.shape and v.dtype == np.uint8
    assert uint8_gap(v, api.variation(images, degree=0.5, seed=3))[0] <= 1
    np.testing.assert_array_equal(api.variation(images, degree=0.0, seed=3), images)


def test_cuda_matches_cpu(monkeypatch, images):
    # Noise is drawn on the CPU, so a seeded call gives the same images on either device up to rounding. An
    # untrained UNet sampling from pure noise amplifies rounding (bf16 against fp32 on the CPU: 17 grey levels
    # apart on average), so TF32 convolutions are off here to compare fp32 with fp32.
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    cpu, gpu = tiny_api("cpu"), tiny_api("cuda")
    assert uint8_gap(cpu.random(8, seed=4), gpu.random(8, seed=4))[1] < 2.0
    assert uint8_gap(cpu.variation(images, degree=0.6, seed=5), gpu.variation(images, degree=0.6, seed=5))[1] < 2.0


def test_batch_size_does_not_change_the_images_on_cuda(images):
    small, large = tiny_api("cuda", batch_size=5), tiny_api("cuda", batch_size=12)
    assert uint8_gap(small.variation(images, degree=0.5, seed=6), large.variation(images, degree=0.5, seed=6))[0] <= 1


def test_bf16_autocast_runs_the_unet_in_bf16(images):
    if not torch.cuda.is_bf16_supported(including_emulation=False):
        pytest.skip("this GPU has no native bf16")
    bf16, fp32 = tiny_api("cuda", "bf16"), tiny_api("cuda", "fp32")
    dtypes = set()
    conv = next(m for m in bf16.unet.modules() if isinstance(m, torch.nn.Conv2d))
    handle = conv.register_forward_hook(lambda module, inputs, output: dtypes.add(output.dtype))
    try:
        out = bf16.variation(images, degree=0.5, seed=7)
    finally:
        handle.remove()
    assert dtypes == {torch.bfloat16}
    assert out.shape == images.shape and out.dtype == np.uint8
    # bf16 keeps ~3 significant digits: close to fp32, not equal (0.4 grey levels apart on average on the CPU).
    assert uint8_gap(out, fp32.variation(images, degree=0.5, seed=7))[1] < 4.0


def test_out_of_memory_on_cuda_names_pe_batch_size():
    api = tiny_api("cuda", batch_size=8192, steps=2)
    torch.cuda.empty_cache()
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.set_per_process_memory_fraction(128 * 2**20 / total)
    try:
        with pytest.raises(BatchTooLargeError, match=r"pe\.batch_size: out of memory on cuda.* to 4096 or lower"):
            api.random(8192, seed=0)
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
        torch.cuda.empty_cache()


def test_pretraining_on_cuda(tmp_path):
    from privevo.models.ddpm import pretrain

    params = {"block_out_channels": [8, 16], "layers_per_block": 1, "attention": False, "train_steps": 3,
              "batch_size": 16, "learning_rate": 1e-3, "warmup_steps": 1, "ema_decay": 0.99,
              "num_train_timesteps": 100, "beta_schedule": "linear", "mixed_precision": "auto"}
    images = np.random.default_rng(0).integers(0, 256, size=(32, 28, 28, 1), dtype=np.uint8)
    summary = pretrain(images, model_params=params, out_dir=tmp_path, seed=0, device="cuda")
    assert summary["device"].startswith("cuda")
    assert summary["mixed_precision"] == resolve_mixed_precision("auto", CUDA)[0]
    assert (tmp_path / "unet" / "config.json").exists()


def test_lite0_on_cuda_matches_cpu():
    from privevo.embedders import Lite0Embedder

    try:
        cpu = Lite0Embedder(resolution=32, device="cpu")
    except ImportError as exc:
        pytest.skip(str(exc))
    gpu = Lite0Embedder(resolution=32, device="cuda")
    assert next(gpu._model.parameters()).device.type == "cuda"
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(20, 28, 28, 1), dtype=np.uint8)
    a, b = cpu.embed(images, batch_size=8, progress=False), gpu.embed(images, batch_size=8, progress=False)
    assert b.shape == (20, 1280) and b.dtype == np.float32
    # cuDNN convolutions may use TF32 on Ampere and later: agreement to about 1e-3, not bit for bit.
    relative = np.linalg.norm(a - b, axis=1) / np.linalg.norm(a, axis=1)
    assert relative.max() < 1e-2, relative.max()


@pytest.fixture(scope="module")
def points():
    rng = np.random.default_rng(2)
    database = rng.normal(size=(5000, 64)).astype(np.float32)
    # Queries close to one database row each, so the nearest neighbours are unambiguous.
    rows = rng.permutation(5000)[:700]
    queries = database[rows] + 0.01 * rng.normal(size=(700, 64)).astype(np.float32)
    return queries, database, rows


def test_torch_search_on_cuda_matches_cpu(monkeypatch, points):
    queries, database, rows = points
    on_cuda = neighbours.torch_search(queries, database, 3, chunk_size=256)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    on_cpu = neighbours.torch_search(queries, database, 3, chunk_size=256)
    np.testing.assert_array_equal(on_cuda[:, 0], rows)
    np.testing.assert_array_equal(on_cuda, on_cpu)


def test_faiss_search_on_cuda_matches_cpu(points):
    faiss = pytest.importorskip("faiss")
    if not hasattr(faiss, "StandardGpuResources") or faiss.get_num_gpus() == 0:
        pytest.skip("this faiss build has no GPU support (install faiss-gpu: see the Makefile)")
    queries, database, rows = points
    on_gpu = neighbours.faiss_search(queries, database, 3)
    index = faiss.IndexFlatL2(database.shape[1])
    index.add(database)
    _, on_cpu = index.search(queries, 3)
    np.testing.assert_array_equal(on_gpu[:, 0], rows)
    # The 2nd and 3rd neighbours are random rows: float32 rounding may swap near-ties, so compare their distances.
    def distances(picked):
        return ((queries[:, None, :].astype(np.float64) - database[picked].astype(np.float64)) ** 2).sum(-1)

    np.testing.assert_allclose(distances(on_gpu), distances(on_cpu), rtol=1e-4)
    assert (on_gpu == on_cpu).mean() > 0.99
    assert neighbours.resolve_backend("auto") == "faiss"
