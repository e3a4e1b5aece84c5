"""Which torch device a step runs on, and whether it runs bf16 natively."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Iterator

import torch

from privevo.core.errors import BatchTooLargeError

logger = logging.getLogger("privevo.core.devices")


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> cuda if available, else cpu; anything else is passed to :class:`torch.device`."""
    if isinstance(device, torch.device):
        return device
    if not isinstance(device, str):
        raise ValueError(f"device must be a string such as 'cpu', 'cuda' or 'auto'; got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise ValueError(f"invalid device {device!r}: {exc}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available (use 'cpu' or 'auto')")
    return dev


# --- out of memory --------------------------------------------------------------------------------------------
#
# How each allocator says it ran out: CUDA raises torch.cuda.OutOfMemoryError ("CUDA out of memory"), the CPU
# allocator a RuntimeError ("DefaultCPUAllocator: can't allocate memory"), MPS "MPS backend out of memory",
# and cuBLAS / cuDNN handles that find no memory left "CUBLAS_STATUS_ALLOC_FAILED" / "CUDNN_STATUS_ALLOC_FAILED".
OUT_OF_MEMORY_MESSAGES = ("out of memory", "can't allocate memory", "cannot allocate memory", "status_alloc_failed")


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` says a device (or the host) ran out of memory."""
    if isinstance(exc, (torch.cuda.OutOfMemoryError, MemoryError)):
        return True
    if isinstance(exc, RuntimeError):
        text = str(exc).lower()
        return any(message in text for message in OUT_OF_MEMORY_MESSAGES)
    return False


@contextlib.contextmanager
def out_of_memory_hint(setting: str, batch_size: int, device: str | torch.device | None = None) -> Iterator[None]:
    """Turn running out of memory inside the block into :class:`BatchTooLargeError` naming ``setting``.

    ``setting`` is the params key that sized the batch (e.g. ``"pe.batch_size"``), ``batch_size`` its value;
    the message suggests half of it. Any other error passes through unchanged.
    """
    try:
        yield
    except (RuntimeError, MemoryError) as exc:
        if not is_out_of_memory(exc):
            raise
        where = f" on {device}" if device is not None else ""
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if len(first_line) > 160:  # CUDA's message goes on about allocator settings
            first_line = first_line[:157] + "..."
        if batch_size > 1:
            advice = f"set {setting} to {max(1, batch_size // 2)} or lower"
        else:
            advice = "a batch of 1 does not fit: use a smaller model or resolution, or a device with more memory"
        raise BatchTooLargeError(
            f"params key {setting}: out of memory{where} with batches of {batch_size}; {advice} ({first_line})"
        ) from exc


# --- mixed precision ---------------------------------------------------------------------------------------------
#
# bf16 autocast only pays off where the hardware has bf16 arithmetic. On CPUs without it (AVX2-only x86, for
# example) torch emulates bf16 and a step runs about ten times slower than fp32, so ``auto`` asks the hardware.

MIXED_PRECISION_SETTINGS = ("auto", "fp32", "bf16")
# /proc/cpuinfo flags that mean the cores compute in bf16 themselves (AVX512-BF16 or Intel AMX).
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
# Flags worth printing next to a benchmark: the vector width and the bf16 extensions.
REPORTED_CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16")


def torch_cpu_capability() -> str:
    """The instruction set torch's CPU kernels were dispatched to, e.g. ``"AVX2"`` or ``"AVX512"``."""
    return torch.backends.cpu.get_cpu_capability()


def read_cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU feature flags of the first core listed in ``cpuinfo``; empty when it cannot be read (not Linux)."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError as exc:
        logger.debug("cannot read CPU flags from %s: %s", cpuinfo, exc)
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        # x86 calls the line "flags", ARM "Features"; every core lists the same set, so the first suffices.
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def cpu_capability_report() -> dict:
    """What decides CPU bf16 support, for reports and benchmarks."""
    flags = read_cpu_flags()
    native, reason = _cpu_runs_bf16_natively()
    return {
        "torch_capability": torch_cpu_capability(),
        "cpu_flags": [flag for flag in REPORTED_CPU_FLAGS if flag in flags],
        "native_bf16": native,
        "reason": reason,
    }


def resolve_mixed_precision(setting: str, device: str | torch.device) -> tuple[str, str]:
    """Turn ``model.mixed_precision`` (``auto``, ``fp32`` or ``bf16``) into ``fp32`` or ``bf16`` plus a one-line reason.

    ``auto`` picks bf16 only where ``device`` runs it natively. An explicit setting is kept as it is, with a
    warning when bf16 would be emulated.
    """
    if setting not in MIXED_PRECISION_SETTINGS:
        raise ValueError(f"mixed_precision must be one of {MIXED_PRECISION_SETTINGS}; got {setting!r}")
    # A torch.device is taken as given, so callers (and tests) can ask about "cuda" without touching CUDA.
    dev = device if isinstance(device, torch.device) else resolve_device(device)
    if setting == "fp32":
        return "fp32", "set in params"
    native, why = _runs_bf16_natively(dev)
    if setting == "bf16":
        if not native:
            logger.warning("mixed_precision bf16 on %s will be emulated and slow (%s); consider fp32 or auto",
                            dev, why)
            return "bf16", f"set in params; {why}"
        return "bf16", "set in params"
    return ("bf16" if native else "fp32"), f"auto: {why}"


def _runs_bf16_natively(device: torch.device) -> tuple[bool, str]:
    if device.type == "cuda":
        # including_emulation=False: pre-Ampere GPUs can run bf16 only emulated, which is no faster than fp32.
        if torch.cuda.is_bf16_supported(including_emulation=False):
            return True, "CUDA device supports bf16"
        return False, "CUDA device has no native bf16"
    if device.type == "cpu":
        return _cpu_runs_bf16_natively()
    return False, f"no native bf16 check for {device.type} devices"


def _cpu_runs_bf16_natively() -> tuple[bool, str]:
    # Both are needed: the flags say the silicon has bf16 units, the capability says torch's kernels use them.
    capability = torch_cpu_capability()
    bf16_flags = sorted(BF16_CPU_FLAGS & read_cpu_flags())
    wide_kernels = "AVX512" in capability.upper() or "AMX" in capability.upper()
    if wide_kernels and bf16_flags:
        return True, f"CPU runs bf16 natively (torch {capability}, flags {', '.join(bf16_flags)})"
    flags_text = ", ".join(bf16_flags) if bf16_flags else f"no {' or '.join(sorted(BF16_CPU_FLAGS))} flag"
    return False, f"CPU would emulate bf16 (torch {capability}, {flags_text})"


def set_cpu_threads(threads: int) -> None:
    """Use ``threads`` CPU threads in torch and faiss (a job's declared share, not the host's core count)."""
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    import torch

    torch.set_num_threads(threads)
    try:
        import faiss
    except ImportError:
        return
    faiss.omp_set_num_threads(threads)
