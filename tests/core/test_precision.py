import json
import logging

import numpy as np
import pytest
import torch

from privevo.core import devices
from privevo.core.devices import cpu_capability_report, read_cpu_flags, resolve_mixed_precision
from privevo.apis.diffusion import DiffusionAPI, autocast
from privevo.models.ddpm import build_unet, pretrain

CPU = torch.device("cpu")


def fake_cpu(monkeypatch, *, capability: str, flags: set[str]) -> None:
    monkeypatch.setattr(devices, "torch_cpu_capability", lambda: capability)
    monkeypatch.setattr(devices, "read_cpu_flags", lambda *args, **kwargs: frozenset(flags))


def fake_cuda_bf16(monkeypatch, supported: bool) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: supported)


def test_auto_picks_fp32_on_an_avx2_cpu(monkeypatch):
    fake_cpu(monkeypatch, capability="AVX2", flags={"avx", "avx2", "fma"})
    precision, reason = resolve_mixed_precision("auto", CPU)
    assert precision == "fp32"
    assert "emulate" in reason and "AVX2" in reason


@pytest.mark.parametrize("capability, flags", [("AVX512", {"avx512f"}), ("AVX2", {"avx512_bf16", "amx_bf16"})])
def test_auto_needs_both_the_torch_kernels_and_the_cpu_flags(monkeypatch, capability, flags):
    fake_cpu(monkeypatch, capability=capability, flags=flags)
    assert resolve_mixed_precision("auto", CPU)[0] == "fp32"


@pytest.mark.parametrize("flag", ["avx512_bf16", "amx_bf16"])
def test_auto_picks_bf16_on_a_cpu_with_native_bf16(monkeypatch, flag):
    fake_cpu(monkeypatch, capability="AVX512", flags={"avx512f", flag})
    precision, reason = resolve_mixed_precision("auto", "cpu")
    assert precision == "bf16" and flag in reason


def test_auto_on_this_machine_matches_the_capability_report():
    precision, _ = resolve_mixed_precision("auto", "cpu")
    assert precision == ("bf16" if cpu_capability_report()["native_bf16"] else "fp32")


@pytest.mark.parametrize("setting", ["fp32", "bf16"])
def test_explicit_settings_pass_through(monkeypatch, setting):
    fake_cpu(monkeypatch, capability="AVX512", flags={"amx_bf16"})
    assert resolve_mixed_precision(setting, CPU) == (setting, "set in params")


def test_explicit_bf16_on_an_emulating_cpu_warns(monkeypatch, caplog):
    fake_cpu(monkeypatch, capability="AVX2", flags={"avx2"})
    with caplog.at_level(logging.WARNING, logger="privevo.core.devices"):
        precision, reason = resolve_mixed_precision("bf16", CPU)
    assert precision == "bf16" and "emulate" in reason
    assert any("emulated and slow" in r.getMessage() for r in caplog.records if r.name == "privevo.core.devices")


def test_unknown_setting_is_rejected():
    with pytest.raises(ValueError, match="mixed_precision"):
        resolve_mixed_precision("fp16", CPU)


@pytest.mark.parametrize("supported, expected", [(True, "bf16"), (False, "fp32")])
def test_auto_on_cuda_follows_native_bf16_support(monkeypatch, supported, expected):
    # A torch.device("cuda") is only a description, so this runs without a GPU.
    fake_cuda_bf16(monkeypatch, supported)
    assert resolve_mixed_precision("auto", torch.device("cuda"))[0] == expected


def test_auto_on_other_devices_is_fp32():
    assert resolve_mixed_precision("auto", torch.device("meta"))[0] == "fp32"


def test_cpu_flags_are_read_from_the_flags_line(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 amx_bf16\n\nprocessor\t: 1\nflags\t\t: fpu\n")
    assert read_cpu_flags(cpuinfo) == {"fpu", "avx2", "amx_bf16"}
    assert read_cpu_flags(tmp_path / "missing") == frozenset()


def test_capability_report_fields():
    report = cpu_capability_report()
    assert report["torch_capability"] == torch.backends.cpu.get_cpu_capability()
    assert set(report["cpu_flags"]) <= set(devices.REPORTED_CPU_FLAGS)
    assert isinstance(report["native_bf16"], bool) and report["reason"]


@pytest.mark.parametrize("setting", ["auto", "fp16", None])
def test_autocast_only_takes_resolved_precisions(setting):
    with pytest.raises(ValueError, match="resolved precision"):
        autocast(CPU, setting)


def test_diffusion_api_resolves_auto_once(monkeypatch, tmp_path):
    from diffusers import DDPMScheduler

    fake_cpu(monkeypatch, capability="AVX2", flags={"avx2"})
    unet = build_unet(image_size=28, channels=1, block_out_channels=[8, 16], layers_per_block=1, attention=False)
    api = DiffusionAPI(unet, DDPMScheduler(num_train_timesteps=1000).config, num_inference_steps=2, batch_size=4,
                       device="cpu", mixed_precision="auto")
    assert api.mixed_precision == "fp32" and "emulate" in api.mixed_precision_reason
    assert api.random(2, seed=0).shape == (2, 28, 28, 1)


def test_pretrain_summary_records_the_resolved_precision(monkeypatch, tmp_path):
    fake_cpu(monkeypatch, capability="AVX2", flags={"avx2"})
    params = {"block_out_channels": [8, 16], "layers_per_block": 1, "attention": False, "train_steps": 2,
              "batch_size": 4, "learning_rate": 1e-3, "warmup_steps": 1, "ema_decay": 0.99,
              "num_train_timesteps": 100, "beta_schedule": "linear", "mixed_precision": "auto"}
    images = np.random.default_rng(0).integers(0, 256, size=(8, 28, 28, 1), dtype=np.uint8)
    summary = pretrain(images, model_params=params, out_dir=tmp_path, seed=0, device="cpu")
    assert summary["mixed_precision"] == "fp32" and "emulate" in summary["mixed_precision_reason"]
    written = json.loads((tmp_path / "pretrain_summary.json").read_text())
    assert written["mixed_precision"] == "fp32" and written["mixed_precision_reason"] == summary["mixed_precision_reason"]
