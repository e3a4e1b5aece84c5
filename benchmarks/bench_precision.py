"""fp32 against bf16 autocast for the default UNet on this machine, and what ``mixed_precision: auto`` picks.

    python benchmarks/bench_precision.py                       # cpu (or cuda when present)
    python benchmarks/bench_precision.py --device cpu --train-steps 20 --sample-steps 20
    python benchmarks/bench_precision.py --precisions fp32 --threads 1 --channels-last
    bash -c 'source benchmarks/avx2-only.env && python benchmarks/bench_precision.py --precisions fp32'  # AVX2-only CPU

Training is seconds per optimiser step at batch 64 (forward, backward, AdamW); sampling is milliseconds per
image and denoising step, i.e. one UNet forward at batch 128 divided by 128; both are medians over the timed
steps. Where bf16 is emulated it is about ten times slower, so its timed steps are capped
(--emulated-bf16-steps) to keep the run short.
Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import torch  # noqa: E402

from privevo.core.devices import cpu_capability_report, resolve_device, resolve_mixed_precision  # noqa: E402
from privevo.apis.diffusion import autocast  # noqa: E402
from privevo.models.ddpm import build_unet  # noqa: E402

TRAIN_BATCH = 64
SAMPLE_BATCH = 128
WARMUP_STEPS = 3  # the first CPU steps run several times slower (oneDNN set-up, allocator growth)


def default_unet(device: torch.device, memory_format: torch.memory_format):
    unet = build_unet(image_size=28, channels=1, block_out_channels=[16, 32, 64], layers_per_block=1, attention=False)
    return unet.to(device=device, memory_format=memory_format)


def timed(device: torch.device, step, repeats: int, warmup: int) -> float:
    """Median seconds of ``step()`` over ``repeats`` calls, after ``warmup`` calls that let kernels settle.

    The median, not the mean, so that a burst of other work on a shared machine does not dominate.
    """
    for _ in range(warmup):
        step()
    seconds = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        step()
        synchronize(device)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def synchronize(device: torch.device) -> None:
    # CUDA kernels run asynchronously; without this the clock stops before the work is done.
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_seconds_per_step(device: torch.device, precision: str, repeats: int, warmup: int,
                           memory_format: torch.memory_format) -> float:
    torch.manual_seed(0)
    unet = default_unet(device, memory_format).train()
    optimizer = torch.optim.AdamW(unet.parameters(), lr=1e-4)
    clean = torch.randn(TRAIN_BATCH, 1, 28, 28, device=device).contiguous(memory_format=memory_format)
    noise = torch.randn_like(clean)
    timesteps = torch.randint(0, 1000, (TRAIN_BATCH,), device=device)

    def step():
        with autocast(device, precision):
            prediction = unet(clean + noise, timesteps).sample
        loss = torch.nn.functional.mse_loss(prediction.float(), noise)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return timed(device, step, repeats, warmup)


def sample_ms_per_image_step(device: torch.device, precision: str, repeats: int, warmup: int,
                             memory_format: torch.memory_format) -> float:
    torch.manual_seed(0)
    unet = default_unet(device, memory_format).eval()
    sample = torch.randn(SAMPLE_BATCH, 1, 28, 28, device=device).contiguous(memory_format=memory_format)
    timestep = torch.tensor(500, device=device)

    @torch.inference_mode()
    def step():
        with autocast(device, precision):
            unet(sample, timestep).sample

    return timed(device, step, repeats, warmup) / SAMPLE_BATCH * 1000


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    parser.add_argument("--train-steps", type=int, default=10, help="timed training steps per precision")
    parser.add_argument("--sample-steps", type=int, default=10, help="timed UNet forwards per precision")
    parser.add_argument("--emulated-bf16-steps", type=int, default=2,
                        help="cap on timed bf16 steps where the device would emulate bf16")
    parser.add_argument("--precisions", default="fp32,bf16", help="comma-separated, from fp32 and bf16")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's own)")
    parser.add_argument("--channels-last", action="store_true", help="UNet and inputs in channels-last memory format")
    args = parser.parse_args(argv)
    precisions = args.precisions.split(",")
    if not precisions or set(precisions) - {"fp32", "bf16"}:
        parser.error(f"--precisions takes fp32 and/or bf16, got {args.precisions!r}")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format

    device = resolve_device(args.device)
    auto_precision, auto_reason = resolve_mixed_precision("auto", device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, device {device}, "
          f"{'channels-last' if args.channels_last else 'NCHW'}")
    # Other processes on the machine slow every figure; the load average says how busy it was.
    print("load average at start: %.2f %.2f %.2f" % os.getloadavg())
    if device.type == "cuda":
        print(f"GPU: {torch.cuda.get_device_name(device)}")
    print(f"cpu capability: {json.dumps(cpu_capability_report())}")
    print(f"auto on {device}: {auto_precision} ({auto_reason})")
    if device.type != "cpu":
        print("auto on cpu: %s (%s)" % resolve_mixed_precision("auto", torch.device("cpu")))
    bf16_emulated = auto_precision != "bf16"

    rows = []
    for precision in precisions:
        capped = precision == "bf16" and bf16_emulated
        train_steps = min(args.train_steps, args.emulated_bf16_steps) if capped else args.train_steps
        sample_steps = min(args.sample_steps, args.emulated_bf16_steps) if capped else args.sample_steps
        # Emulated bf16 is an order of magnitude slower; one warmup step is enough to show that.
        warmup = 1 if capped else WARMUP_STEPS
        train = train_seconds_per_step(device, precision, train_steps, warmup, memory_format)
        sample = sample_ms_per_image_step(device, precision, sample_steps, warmup, memory_format)
        rows.append((precision, train, train_steps, sample, sample_steps))

    print(f"\n{'precision':<10}{'train s/step (b64)':>20}{'steps':>7}{'sample ms/img-step (b128)':>27}{'steps':>7}")
    for precision, train, train_steps, sample, sample_steps in rows:
        print(f"{precision:<10}{train:>20.3f}{train_steps:>7}{sample:>27.2f}{sample_steps:>7}")
    if len(rows) == 2:
        (_, first_train, _, first_sample, _), (_, second_train, _, second_sample, _) = rows
        print(f"{rows[1][0]} / {rows[0][0]}: training x{second_train / first_train:.2f}, "
              f"sampling x{second_sample / first_sample:.2f}")


if __name__ == "__main__":
    main()
