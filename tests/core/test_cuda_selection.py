"""On a CUDA host `device: auto` and `mixed_precision: auto` give cuda and bf16 where the GPU has native bf16.

CUDA's queries are monkeypatched, so these run on any machine.
"""

import pytest
import torch

from privevo.core.devices import resolve_device, resolve_mixed_precision


def fake_cuda_host(monkeypatch, *, native_bf16: bool, emulated_bf16: bool = True) -> list:
    """Pretend a GPU is present; returns the list of `including_emulation` values bf16 was asked with."""
    asked = []

    def is_bf16_supported(including_emulation=True):
        asked.append(including_emulation)
        return native_bf16 or (including_emulation and emulated_bf16)

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    return asked


def test_auto_device_and_precision_on_an_ampere_or_later_gpu(monkeypatch):
    asked = fake_cuda_host(monkeypatch, native_bf16=True)
    assert resolve_device("auto") == torch.device("cuda")
    precision, reason = resolve_mixed_precision("auto", "auto")
    assert precision == "bf16" and reason == "auto: CUDA device supports bf16"
    assert asked == [False]


def test_auto_precision_ignores_emulated_bf16_on_an_older_gpu(monkeypatch):
    # Pre-Ampere GPUs report bf16 "supported" only counting emulation, which is no faster than fp32.
    asked = fake_cuda_host(monkeypatch, native_bf16=False, emulated_bf16=True)
    assert resolve_mixed_precision("auto", "cuda") == ("fp32", "auto: CUDA device has no native bf16")
    assert asked == [False]


@pytest.mark.parametrize("setting", ["fp32", "bf16"])
def test_explicit_precision_on_cuda_is_kept(monkeypatch, setting):
    fake_cuda_host(monkeypatch, native_bf16=True)
    assert resolve_mixed_precision(setting, "cuda") == (setting, "set in params")


def test_default_params_ask_for_auto():
    import yaml

    from conftest import ROOT

    for name in ("params.yaml", "config/smoke.yaml"):
        params = yaml.safe_load((ROOT / name).read_text())
        assert params["device"] == "auto" and params["model"]["mixed_precision"] == "auto", name
