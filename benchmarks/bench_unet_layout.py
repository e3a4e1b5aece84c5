"""The default UNet's fp32 training step and sampling image-step, NCHW against channels-last, at a thread count.

    python benchmarks/bench_unet_layout.py --threads 2
    bash -c 'source benchmarks/avx2-only.env && python benchmarks/bench_unet_layout.py'   # as on an AVX2-only CPU

Training: seconds per AdamW step at batch 64; sampling: milliseconds per image and denoising step (one forward at
batch 128 over 128); medians over the timed steps after 2 warm-up steps. Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch  # noqa: E402

from privevo.models.ddpm import build_unet  # noqa: E402

WARMUP = 2


def measure(layout: str, steps: int) -> tuple[float, float]:
    torch.manual_seed(0)
    unet = build_unet(image_size=28, channels=1, block_out_channels=[16, 32, 64], layers_per_block=1, attention=False)
    optimizer = torch.optim.AdamW(unet.parameters(), lr=1e-3)
    memory_format = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    unet = unet.to(memory_format=memory_format)
    train, sample = [], []
    for i in range(steps + WARMUP):
        x = torch.randn(64, 1, 28, 28).contiguous(memory_format=memory_format)
        start = time.perf_counter()
        loss = torch.nn.functional.mse_loss(unet(x, torch.randint(0, 1000, (64,))).sample, x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if i >= WARMUP:
            train.append(time.perf_counter() - start)
    unet.eval()
    with torch.no_grad():
        for i in range(steps + WARMUP):
            x = torch.randn(128, 1, 28, 28).contiguous(memory_format=memory_format)
            start = time.perf_counter()
            unet(x, torch.full((128,), 500))
            if i >= WARMUP:
                sample.append((time.perf_counter() - start) / 128 * 1000)
    return statistics.median(train), statistics.median(sample)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, ATen capability {torch.backends.cpu.get_cpu_capability()}, {args.threads} threads")
    for layout in ("nchw", "channels_last"):
        train, sample = measure(layout, args.steps)
        print(f"{layout:14s} train {train:.3f} s/step (batch 64)   sample {sample:.3f} ms/image-step (batch 128)")


if __name__ == "__main__":
    main()
