"""Throughput of privevo's VARIATION_API against a plain diffusers DDIM loop on the same UNet, batch and steps.

    python benchmarks/bench_variation_throughput.py                                   # cuda when present
    python benchmarks/bench_variation_throughput.py --device cpu --batch-size 64 --steps 10 --repeats 2
    python benchmarks/bench_variation_throughput.py --model /path/to/ddpm-cifar10-32 --json out.json

The UNet is the params file's architecture (model.*) with random weights, or a local diffusers folder
(--model). Both sides denoise one batch of ``--batch-size`` images from the same noised start for the last
round(degree x steps) of ``--steps`` DDIM steps, in the precision ``model.mixed_precision`` resolves to:

- privevo: ``DiffusionAPI.variation`` (uint8 in, uint8 out: conversion, add_noise, batches, progress bar,
  autocast, model_time, scheduler step);
- plain: ``DDIMScheduler`` with the same config (timestep_spacing "trailing"), ``add_noise``, then
  ``unet(x, t).sample`` and ``scheduler.step`` in a loop under ``torch.inference_mode()``, no tqdm, and the
  same uint8 conversion at both ends.

Each repeat times both, alternating which goes first; the figures are medians over ``--repeats`` after one
warm-up call of each. The ratio is privevo's images/s over plain's (the target is at least 0.9). Both start
from the same noise, so their images agree up to rounding; the largest difference is printed as a check.
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

import numpy as np  # noqa: E402
import torch  # noqa: E402

from privevo.apis.base import check_degree  # noqa: E402
from privevo.apis.diffusion import DiffusionAPI, autocast, images_to_tensor, tensor_to_images  # noqa: E402
from privevo.core import timing  # noqa: E402
from privevo.core.devices import resolve_device, resolve_mixed_precision  # noqa: E402

SEED = 0


def build_model(args, params: dict):
    """(unet, scheduler config): the local folder of --model, or the params' architecture with random weights."""
    from diffusers import DDPMScheduler

    from privevo.apis.diffusion import load_unet_and_scheduler_config
    from privevo.models.ddpm import build_unet

    if args.model:
        return load_unet_and_scheduler_config(args.model)
    model = params["model"]
    torch.manual_seed(SEED)
    unet = build_unet(image_size=args.image_size, channels=args.channels,
                      block_out_channels=model["block_out_channels"], layers_per_block=model["layers_per_block"],
                      attention=model["attention"])
    config = DDPMScheduler(num_train_timesteps=model["num_train_timesteps"],
                           beta_schedule=model["beta_schedule"]).config
    return unet, config


def test_images(n: int, size: int, channels: int) -> np.ndarray:
    rng = np.random.default_rng(SEED)
    images = np.zeros((n, size, size, channels), np.uint8)
    lo, hi = size // 4, size - size // 4
    images[:, lo:hi, lo:hi] = rng.integers(100, 256, size=(n, hi - lo, hi - lo, channels))
    return images


def make_plain(unet, scheduler_config, *, steps: int, degree: float, device: torch.device, precision: str):
    """The plain diffusers loop as a function of uint8 images -> uint8 images."""
    from diffusers import DDIMScheduler

    scheduler = DDIMScheduler.from_config(scheduler_config, timestep_spacing="trailing")
    scheduler.set_timesteps(steps)
    run = check_degree(degree, steps, where="--degree")
    start_index = steps - run
    timesteps = scheduler.timesteps[start_index:]
    channels = unet.config.in_channels

    @torch.inference_mode()
    def plain(images: np.ndarray, noise: torch.Tensor) -> np.ndarray:
        clean = images_to_tensor(images, channels)
        x = scheduler.add_noise(clean, noise, timesteps[:1].repeat(len(images))).to(device)
        for t in timesteps:
            with autocast(device, precision):
                eps = unet(x, t).sample
            x = scheduler.step(eps.float(), t, x).prev_sample
        return tensor_to_images(x, images.shape[-1])

    return plain, run


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, call) -> tuple[float, object]:
    synchronize(device)
    start = time.perf_counter()
    result = call()
    synchronize(device)
    return time.perf_counter() - start, result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    parser.add_argument("--params", default=str(ROOT / "params.yaml"), help="params file for the UNet architecture")
    parser.add_argument("--model", help="a local diffusers folder instead of a random params-architecture UNet")
    parser.add_argument("--image-size", type=int, default=28, help="random UNet's resolution (default 28)")
    parser.add_argument("--channels", type=int, default=1, help="random UNet's channels (default 1)")
    parser.add_argument("--batch-size", type=int, default=128, help="images per batch, both sides (default 128)")
    parser.add_argument("--steps", type=int, default=25, help="DDIM inference steps (default 25)")
    parser.add_argument("--degree", type=float, default=0.8, help="variation degree (default 0.8)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls of each (default 3)")
    parser.add_argument("--mixed-precision", default=None,
                        help="auto, fp32 or bf16 (default: the params file's model.mixed_precision)")
    parser.add_argument("--plain-precision", choices=("same", "fp32", "bf16"), default="same",
                        help="the plain loop's precision (default: the same as privevo's)")
    parser.add_argument("--json", help="write the figures to this JSON file")
    args = parser.parse_args(argv)

    from privevo.config.params import load_params

    params = load_params(args.params)
    device = resolve_device(args.device)
    precision, reason = resolve_mixed_precision(args.mixed_precision or params["model"]["mixed_precision"], device)
    unet, scheduler_config = build_model(args, params)
    api = DiffusionAPI(unet, scheduler_config, num_inference_steps=args.steps, batch_size=args.batch_size,
                       device=str(device), mixed_precision=precision)
    plain_precision = precision if args.plain_precision == "same" else args.plain_precision
    plain, run_steps = make_plain(api.unet, scheduler_config, steps=args.steps, degree=args.degree, device=device,
                                  precision=plain_precision)
    size = api.sample_shape[1]
    images = test_images(args.batch_size, size, api.sample_shape[0])
    noise = api.noise(len(images), SEED)  # the noise privevo draws for this seed: both sides start alike

    unet_seconds = []  # privevo's own model_time("unet") per timed call: the rest is its overhead

    def run_privevo():
        before = timing.model_totals().get("unet", 0.0)
        out = api.variation(images, degree=args.degree, seed=SEED)
        unet_seconds.append(timing.model_totals().get("unet", 0.0) - before)
        return out

    def run_plain():
        return plain(images, noise)

    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, device {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""))
    print("load average at start: %.2f %.2f %.2f" % os.getloadavg())
    print(f"UNet {sum(p.numel() for p in api.unet.parameters()) / 1e6:.2f}M parameters, sample {api.sample_shape}, "
          f"batch {args.batch_size}, {run_steps} of {args.steps} DDIM steps (degree {args.degree}), privevo {precision} "
          f"({reason}), plain {plain_precision}")
    _, first_privevo = timed(device, run_privevo)  # warm-up: kernels, allocator, oneDNN/cuDNN set-up
    _, first_plain = timed(device, run_plain)
    gap = int(np.abs(first_privevo.astype(int) - first_plain.astype(int)).max())
    seconds = {"privevo": [], "plain": []}
    for repeat in range(args.repeats):
        order = (("privevo", run_privevo), ("plain", run_plain))
        for name, call in order if repeat % 2 == 0 else order[::-1]:
            seconds[name].append(timed(device, call)[0])
    image_steps = args.batch_size * run_steps
    result = {"device": str(device), "precision": precision, "plain_precision": plain_precision, "batch_size": args.batch_size, "steps": args.steps,
              "degree": args.degree, "steps_run": run_steps, "repeats": args.repeats,
              "model": args.model or "params architecture, random weights", "max_uint8_difference": gap,
              "seconds": seconds}
    print(f"\n{'':<9}{'median s':>10}{'images/s':>11}{'ms/img-step':>13}")
    for name in ("privevo", "plain"):
        median = statistics.median(seconds[name])
        result[name] = {"median_seconds": median, "images_per_second": args.batch_size / median,
                        "ms_per_image_step": 1000 * median / image_steps}
        print(f"{name:<9}{median:>10.3f}{args.batch_size / median:>11.1f}{1000 * median / image_steps:>13.3f}")
    result["ratio"] = result["privevo"]["images_per_second"] / result["plain"]["images_per_second"]
    # On CUDA the forward returns once its kernels are queued, so this share is meaningful on the CPU only.
    share = statistics.median(u / s for u, s in zip(unet_seconds[1:], seconds["privevo"]))
    result["privevo"]["unet_share_of_wall"] = share
    print(f"privevo: {100 * share:.1f}% of its wall time inside model_time('unet')"
          + (" (kernel launches only on CUDA)" if device.type == "cuda" else ""))
    print(f"privevo / plain throughput: {result['ratio']:.3f} (target >= 0.9); largest uint8 difference {gap}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
