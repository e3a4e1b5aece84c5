"""Seconds per image-step of a Stable-Diffusion-class text-to-image UNet, projected from the tiny test pipeline's
measured cost and the two UNets' forward FLOPs (counted by torch's FlopCounterMode on meta tensors: no weights, no
download). Feed the result to `privevo plan --seconds-per-image-step` (issue 31).

The CPU projection assumes equal FLOP throughput for both UNets on this CPU (a tiny UNet runs far below peak, so
it overstates the big one's cost). The GPU projection divides the FLOPs by an assumed sustained throughput
(--gpu-tflops, e.g. 400 for an H100 in bf16: about 40% of its dense peak); neither is a measurement of SD itself.

    python benchmarks/your-data/text_to_image_cost.py --gpu-tflops 400
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))

# Stable Diffusion 1.5's UNet (diffusers' UNet2DConditionModel defaults with SD 1.5's cross-attention width).
SD15_UNET = {"sample_size": 64, "cross_attention_dim": 768}
SD15_LATENT, SD15_TOKENS, SD15_TEXT_WIDTH = (4, 64, 64), 77, 768


def unet_flops(unet, latent_shape, tokens, text_width) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    sample = torch.zeros(1, *latent_shape, device=unet.device)
    text = torch.zeros(1, tokens, text_width, device=unet.device)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        unet(sample, torch.tensor([10], device=unet.device), encoder_hidden_states=text)
    return int(counter.get_total_flops())


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gpu-tflops", type=float, default=400.0, help="assumed sustained TFLOP/s of the GPU")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    from diffusers import UNet2DConditionModel

    from privevo.apis.text_to_image import load_text_to_image_pipeline
    from tiny_text_to_image import build_tiny_pipeline

    torch.set_num_threads(torch.get_num_threads())
    with tempfile.TemporaryDirectory() as folder:
        pipeline, _ = load_text_to_image_pipeline(build_tiny_pipeline(Path(folder) / "tiny"))
        tiny = pipeline.unet
        latent = (tiny.config.in_channels, tiny.config.sample_size, tiny.config.sample_size)
        tiny_flops = unet_flops(tiny, latent, pipeline.tokenizer.model_max_length,
                                pipeline.text_encoder.config.hidden_size)
        timings = []
        generator = torch.Generator("cpu").manual_seed(0)
        for _ in range(args.repeats + 1):  # the first call warms up
            start = time.perf_counter()
            pipeline(["a boot"] * args.images, num_inference_steps=args.steps, guidance_scale=1.0,
                     generator=generator, output_type="np")
            timings.append(time.perf_counter() - start)
    tiny_seconds = min(timings[1:]) / (args.images * args.steps)
    with torch.device("meta"):
        sd = UNet2DConditionModel(**SD15_UNET)
    sd_flops = unet_flops(sd, SD15_LATENT, SD15_TOKENS, SD15_TEXT_WIDTH)
    ratio = sd_flops / tiny_flops
    record = {
        "cpu": cpu_model(), "threads": torch.get_num_threads(),
        "tiny_unet_gflops_per_image_step": tiny_flops / 1e9,
        "tiny_seconds_per_image_step_measured": tiny_seconds,
        "tiny_note": "whole pipeline call (text encoder, UNet, VAE) over images x steps, best of repeats, guidance off",
        "sd15_unet_gflops_per_image_step": sd_flops / 1e9,
        "flop_ratio": ratio,
        "sd15_cpu_seconds_per_image_step_projected": tiny_seconds * ratio,
        "gpu_tflops_assumed": args.gpu_tflops,
        "sd15_gpu_seconds_per_image_step_projected": sd_flops / (args.gpu_tflops * 1e12),
        "classifier_free_guidance": "doubles the UNet batch: multiply by 2 when guidance_scale > 1",
    }
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
