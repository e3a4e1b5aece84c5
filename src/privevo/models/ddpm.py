"""Pretrain the small foundation DDPM on public images only (never the private set)."""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from privevo.core import seeding
from privevo.io.artifacts import atomic_path, save_csv, save_json
from privevo.io.images import check_images
from privevo.core.devices import out_of_memory_hint, resolve_device, resolve_mixed_precision
from privevo.apis.diffusion import autocast, images_to_tensor
from privevo.core.timing import model_time

logger = logging.getLogger("privevo.models.ddpm")


def build_unet(*, image_size: int, channels: int, block_out_channels, layers_per_block: int, attention: bool):
    from diffusers import UNet2DModel

    depth = len(block_out_channels)
    down = ["DownBlock2D"] * depth
    up = ["UpBlock2D"] * depth
    if attention:
        down[-1], up[0] = "AttnDownBlock2D", "AttnUpBlock2D"
    return UNet2DModel(
        sample_size=image_size,
        in_channels=channels,
        out_channels=channels,
        layers_per_block=layers_per_block,
        block_out_channels=tuple(block_out_channels),
        down_block_types=tuple(down),
        up_block_types=tuple(up),
        norm_num_groups=min(8, min(block_out_channels)),
        attention_head_dim=8,
    )


def pretrain(images: np.ndarray, *, model_params: dict, out_dir: str | Path, seed: int, device: str = "auto",
             checkpoint_every: int = 200) -> dict:
    """Train a UNet2DModel DDPM on ``images`` (uint8 NHWC); save it with ``save_pretrained`` under ``out_dir``.

    Writes out_dir/unet, out_dir/scheduler, out_dir/loss.csv and returns a summary. Every
    ``checkpoint_every`` steps the whole training state is saved, so a killed run resumes where it
    stopped (with the same settings) and ends with the same weights as an uninterrupted one.
    """
    from diffusers import DDPMScheduler

    check_images(images, name="public images")
    out_dir = Path(out_dir)
    dev = resolve_device(device)
    # Resolved once here; the checkpoint fingerprint keeps the setting as written (e.g. "auto") in model_params.
    precision, precision_reason = resolve_mixed_precision(model_params["mixed_precision"], dev)
    logger.info("training in %s on %s (%s)", precision, dev, precision_reason)
    torch.manual_seed(seeding.torch_seed(seed, role="pretrain"))
    rng = seeding.rng(seed, role="pretrain")
    n, size, _, channels = images.shape
    if size % (2 ** (len(model_params["block_out_channels"]) - 1)):
        raise ValueError(
            f"model.block_out_channels: {len(model_params['block_out_channels'])} blocks halve {size}x{size} images "
            f"{len(model_params['block_out_channels']) - 1} times, which does not divide evenly; use fewer blocks"
        )
    unet = build_unet(
        image_size=size,
        channels=channels,
        block_out_channels=model_params["block_out_channels"],
        layers_per_block=model_params["layers_per_block"],
        attention=model_params["attention"],
    ).to(dev)
    num_parameters = sum(p.numel() for p in unet.parameters())
    logger.info("UNet2DModel with %.2fM parameters on %s; %d public images", num_parameters / 1e6, dev, n)
    scheduler = DDPMScheduler(
        num_train_timesteps=model_params["num_train_timesteps"], beta_schedule=model_params["beta_schedule"]
    )
    ema = copy.deepcopy(unet).eval().requires_grad_(False)
    optimizer = torch.optim.AdamW(unet.parameters(), lr=model_params["learning_rate"], weight_decay=1e-4)
    total, warmup = model_params["train_steps"], model_params["warmup_steps"]
    lr_schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min(1.0, (step + 1) / max(1, warmup)) * 0.5 * (1 + math.cos(math.pi * min(step, total) / total)),
    )
    data = images_to_tensor(images, channels)
    batch_size = model_params["batch_size"]
    decay = model_params["ema_decay"]
    losses = []
    checkpoint = out_dir / ".pretrain_checkpoint.pt"
    fingerprint = json.dumps({"model": model_params, "seed": seed, "images": int(n)}, sort_keys=True)
    first_step = _resume(checkpoint, fingerprint, unet, ema, optimizer, lr_schedule, rng, losses)
    start = time.perf_counter()
    unet.train()
    for step in tqdm(range(first_step, total), desc="pretrain DDPM", unit="step", initial=first_step, total=total):
        if step > first_step and step % checkpoint_every == 0:
            _save_checkpoint(checkpoint, fingerprint, step, unet, ema, optimizer, lr_schedule, rng, losses)
        index = torch.from_numpy(rng.integers(0, n, size=batch_size))
        clean = data[index]
        flip = torch.from_numpy(rng.random(batch_size) < 0.5)
        clean = torch.where(flip[:, None, None, None], clean.flip(-1), clean).to(dev)
        noise = torch.randn_like(clean)
        timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (batch_size,), device=dev)
        noisy = scheduler.add_noise(clean, noise, timesteps)
        with out_of_memory_hint("model.batch_size", batch_size, dev), model_time("unet_train"), \
                autocast(dev, precision):
            prediction = unet(noisy, timesteps).sample
        loss = torch.nn.functional.mse_loss(prediction.float(), noise)
        optimizer.zero_grad(set_to_none=True)
        with out_of_memory_hint("model.batch_size", batch_size, dev), model_time("unet_train"):
            loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        optimizer.step()
        lr_schedule.step()
        # Warm the EMA up so that short (smoke) runs are not dominated by the random initialisation.
        step_decay = min(decay, (1 + step) / (10 + step))
        with torch.no_grad():
            for ema_param, param in zip(ema.parameters(), unet.parameters()):
                ema_param.lerp_(param, 1 - step_decay)
        losses.append(loss.item())
    seconds = time.perf_counter() - start
    checkpoint.unlink(missing_ok=True)
    ema.save_pretrained(_tmp_dir(out_dir / "unet"), safe_serialization=True)
    _commit_dir(out_dir / "unet")
    scheduler.save_pretrained(_tmp_dir(out_dir / "scheduler"))
    _commit_dir(out_dir / "scheduler")
    loss_frame = pd.DataFrame({"step": np.arange(1, total + 1), "loss": losses})
    loss_frame["loss_smoothed"] = loss_frame["loss"].ewm(alpha=0.05).mean()
    save_csv(out_dir / "loss.csv", loss_frame)
    summary = {
        "num_parameters": int(num_parameters),
        "num_public_images": int(n),
        "train_steps": int(total),
        "seconds": round(seconds, 2),
        "final_loss_smoothed": float(loss_frame["loss_smoothed"].iloc[-1]),
        "device": str(dev),
        "mixed_precision": precision,
        "mixed_precision_reason": precision_reason,
    }
    save_json(out_dir / "pretrain_summary.json", summary)
    return summary


def _save_checkpoint(path: Path, fingerprint: str, step: int, unet, ema, optimizer, lr_schedule, rng, losses) -> None:
    state = {
        "fingerprint": fingerprint, "step": step, "unet": unet.state_dict(), "ema": ema.state_dict(),
        "optimizer": optimizer.state_dict(), "lr_schedule": lr_schedule.state_dict(),
        "numpy_rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(), "losses": list(losses),
    }
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(state, tmp)


def _resume(path: Path, fingerprint: str, unet, ema, optimizer, lr_schedule, rng, losses) -> int:
    """Load a checkpoint written with the same settings; return the step to continue from (0 if none)."""
    if not path.exists():
        return 0
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state["fingerprint"] != fingerprint:
        logger.info("ignoring %s: it was written with other settings", path)
        return 0
    unet.load_state_dict(state["unet"])
    ema.load_state_dict(state["ema"])
    optimizer.load_state_dict(state["optimizer"])
    lr_schedule.load_state_dict(state["lr_schedule"])
    rng.bit_generator.state = state["numpy_rng"]
    torch.set_rng_state(state["torch_rng"])
    losses.extend(state["losses"])
    logger.info("resuming pretraining from step %d (%s)", state["step"], path)
    return int(state["step"])


def _tmp_dir(final: Path) -> Path:
    return final.with_name(f".{final.name}.tmp")


def _commit_dir(final: Path) -> None:
    """Swap a fully written temporary folder into place (the folder analogue of an atomic rename)."""
    import shutil

    tmp = _tmp_dir(final)
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
