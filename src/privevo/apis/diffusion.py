"""The foundation model behind PE's two calls: RANDOM_API (samples) and VARIATION_API (SDEdit-style).

Both walk the model's noise schedule in S steps of ``pe.sampler``: DDIM (the paper's) or DPM-Solver++ (a
second-order multistep solver, which reaches DDIM's quality in fewer steps). A variation of degree d noises an
image forward to the timestep where the last round(d * S) of the S steps begin (``scheduler.add_noise``), then
denoises from there. Degree 0 returns the image, degree 1 is a fresh sample.

The model may work at another resolution or channel count than the private set (a local diffusers model, e.g.
32x32 RGB for 28x28 grey Fashion-MNIST): the API takes and returns images of the private shape and moves them to
and from the model's with ``resize_method`` (privevo.io.resize), which ``describe()`` reports.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from privevo.io.images import check_images
from privevo.io.resize import RESIZE_METHODS, to_image_shape
from privevo.apis.base import check_degree
from privevo.core.errors import ParamsError
from privevo.core.devices import out_of_memory_hint, resolve_device, resolve_mixed_precision
from privevo.core.timing import model_time

logger = logging.getLogger("privevo.apis.diffusion")


class ModelFolderError(FileNotFoundError):
    """A diffusers model folder is missing or incomplete."""


def autocast(device: torch.device, mixed_precision: str):
    """bf16 autocast on ``device``, or nothing for fp32; ``auto`` must be resolved first (resolve_mixed_precision)."""
    if mixed_precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    if mixed_precision == "fp32":
        return contextlib.nullcontext()
    raise ValueError(f"autocast needs a resolved precision, 'fp32' or 'bf16'; got {mixed_precision!r}")


def images_to_tensor(images: np.ndarray, channels: int) -> torch.Tensor:
    """uint8 NHWC -> float32 NCHW in [-1, 1], with grey repeated (or RGB averaged) to ``channels``."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    if x.shape[1] == channels:
        return x
    if channels == 3 and x.shape[1] == 1:
        return x.repeat(1, 3, 1, 1)
    if channels == 1 and x.shape[1] == 3:
        return x.mean(1, keepdim=True)
    raise ValueError(f"cannot convert {x.shape[1]}-channel images to {channels} channels")


def tensor_to_images(x: torch.Tensor, channels: int) -> np.ndarray:
    """float NCHW in [-1, 1] -> uint8 NHWC with ``channels`` channels."""
    x = x.float()
    if x.shape[1] != channels:
        x = x.mean(1, keepdim=True) if channels == 1 else x.repeat(1, channels // x.shape[1], 1, 1)
    x = ((x.clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).contiguous().cpu().numpy()


def load_unet_and_scheduler_config(model_dir: str | Path):
    """Load a local diffusers model: a pipeline folder (unet/, scheduler/) or a bare UNet2DModel folder."""
    from diffusers import DDPMScheduler, UNet2DModel

    model_dir = Path(model_dir)
    unet_dir = model_dir / "unet" if (model_dir / "unet").is_dir() else model_dir
    if not (unet_dir / "config.json").exists():
        raise ModelFolderError(
            f"no diffusers UNet2DModel under {model_dir} (looked for {unet_dir / 'config.json'}). "
            "Point model.local_path at a local diffusers folder (for example a copy of google/ddpm-cifar10-32 "
            "with unet/ and scheduler/), or set model.source: pretrain"
        )
    unet = UNet2DModel.from_pretrained(unet_dir, local_files_only=True)
    scheduler_dir = model_dir / "scheduler"
    if (scheduler_dir / "scheduler_config.json").exists():
        scheduler_config = DDPMScheduler.load_config(scheduler_dir, local_files_only=True)
    else:
        logger.warning("no scheduler/ in %s; assuming a linear 1000-step DDPM schedule", model_dir)
        scheduler_config = DDPMScheduler(num_train_timesteps=1000).config
    return unet, scheduler_config


def model_image_shape(model_dir: str | Path) -> tuple[int, int, int]:
    """(H, W, C) of a diffusers UNet's samples, from its config.json alone (no weights loaded)."""
    import json

    model_dir = Path(model_dir)
    config_path = (model_dir / "unet" if (model_dir / "unet").is_dir() else model_dir) / "config.json"
    if not config_path.exists():
        raise ModelFolderError(f"no diffusers UNet2DModel config at {config_path}")
    config = json.loads(config_path.read_text())
    size = config["sample_size"]
    height, width = (size, size) if isinstance(size, int) else size
    return int(height), int(width), int(config["in_channels"])


def resize_record(model_shape, image_shape, method: str) -> dict:
    """What the report says about moving images between the model's shape and the private set's (both H, W, C)."""
    resizes = tuple(model_shape[:2]) != tuple(image_shape[:2])
    return {"model_image_shape": list(model_shape), "image_shape": list(image_shape),
            "resize_method": method if resizes else None,
            "resize": RESIZE_METHODS[method] if resizes else "none (same resolution)",
            "channels": ("same" if model_shape[2] == image_shape[2] else
                         "grey repeated to RGB" if image_shape[2] == 3 else "RGB averaged to grey")}


SAMPLERS = {
    "ddim": "DDIM (eta 0), trailing timestep spacing",
    "dpm_solver": "DPM-Solver++ (2nd-order multistep), trailing timestep spacing, clean-image prediction clipped "
                  "like DDIM's",
}


def dpm_solver_guards(scheduler_config) -> dict:
    """DPM-Solver++ options that keep its data prediction as bounded as DDIM's on the same model.

    DDIM clips its prediction of the clean image to [-1, 1] when the model's schedule says so (``clip_sample``,
    true for privevo's DDPM and diffusers' default). DPM-Solver++ has no such option: at the first step of the
    cosine schedule (alpha_bar about 0 at t = 999) its prediction divides by about 0, and without a bound every
    pixel of a fresh sample saturates. Dynamic thresholding with ``sample_max_value`` 1 is exactly that clip
    (the threshold is clamped to [1, 1]); ``lambda_min_clipped`` -5.1 is diffusers' guard for the cosine schedule.
    """
    guards = {}
    if scheduler_config.get("clip_sample", False) and float(scheduler_config.get("clip_sample_range", 1.0)) == 1.0:
        guards.update(thresholding=True, sample_max_value=1.0)
    if scheduler_config.get("beta_schedule") == "squaredcos_cap_v2":
        guards["lambda_min_clipped"] = -5.1
    return guards


def make_sampler(name: str, scheduler_config):
    """The scheduler that walks the model's noise schedule in ``num_inference_steps`` steps."""
    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

    if name == "ddim":
        return DDIMScheduler.from_config(scheduler_config, timestep_spacing="trailing")
    if name == "dpm_solver":
        return DPMSolverMultistepScheduler.from_config(scheduler_config, timestep_spacing="trailing",
                                                       algorithm_type="dpmsolver++", solver_order=2,
                                                       **dpm_solver_guards(scheduler_config))
    raise ParamsError(f"params key pe.sampler: unknown {name!r}; known: {', '.join(SAMPLERS)}")


def model_classes(unet_config, class_labels: list[int] | None) -> list[int] | None:
    """The model class id of each PE class for a class-conditional UNet (``num_class_embeds``; default: c -> c),
    or None for an unconditional one (which must get no ``class_labels``)."""
    num_class_embeds = getattr(unet_config, "num_class_embeds", None)
    if num_class_embeds is None:
        if class_labels is not None:
            raise ParamsError("params key model.class_labels: the model is not class-conditional (its UNet has no "
                              "num_class_embeds); set model.class_labels to null")
        return None
    # Default c -> c: the model's first classes are the private set's, in order.
    ids = list(class_labels) if class_labels is not None else list(range(num_class_embeds))
    if max(ids) >= num_class_embeds or min(ids) < 0:
        raise ParamsError(f"params key model.class_labels: the model has {num_class_embeds} classes; got ids {ids}")
    logger.info("class-conditional model: PE class c is the model's class %s", ids)
    return ids


class DiffusionAPI:
    """RANDOM_API and VARIATION_API over a diffusers UNet2DModel with a DDIM or DPM-Solver++ sampler."""

    def __init__(
        self,
        unet,
        scheduler_config,
        *,
        num_inference_steps: int,
        image_shape: tuple[int, int, int] | None = None,
        resize_method: str = "torch_bicubic",
        class_labels: list[int] | None = None,
        sampler: str = "ddim",
        batch_size: int = 128,
        device: str = "auto",
        mixed_precision: str = "auto",
    ):
        """``image_shape`` (H, W, C): the images the API takes and returns; None: the model's H and W, grey.
        ``class_labels``: a class-conditional model's class id of each PE class (see :func:`model_classes`)."""
        self.device = resolve_device(device)
        self.unet = unet.to(self.device).eval()
        self.sampler = sampler
        self.scheduler = make_sampler(sampler, scheduler_config)
        self.scheduler.set_timesteps(num_inference_steps)
        self.num_inference_steps = num_inference_steps
        self.batch_size = batch_size
        self.mixed_precision, self.mixed_precision_reason = resolve_mixed_precision(mixed_precision, self.device)
        logger.info("sampling in %s on %s (%s)", self.mixed_precision, self.device, self.mixed_precision_reason)
        size = unet.config.sample_size
        self.sample_shape = (unet.config.in_channels, *((size, size) if isinstance(size, int) else size))
        self.image_shape = tuple(int(d) for d in (image_shape or (*self.sample_shape[1:], 1)))
        if resize_method not in RESIZE_METHODS:
            raise ValueError(f"model.resize_method: unknown {resize_method!r}; known: {', '.join(RESIZE_METHODS)}")
        self.resize_method = resize_method
        self.class_labels = model_classes(unet.config, class_labels)
        self.class_conditional = self.class_labels is not None
        self.resizes = tuple(self.image_shape[:2]) != tuple(self.sample_shape[1:])
        if self.resizes:
            logger.info("the model samples %s; images are resized to and from the private %s with %s",
                        "x".join(map(str, self.sample_shape[1:])), "x".join(map(str, self.image_shape[:2])),
                        RESIZE_METHODS[resize_method])

    @property
    def output_channels(self) -> int:
        return self.image_shape[2]

    def describe(self) -> dict:
        """How the model's images become the private set's: resolutions, channels and the resize method."""
        return resize_record((*self.sample_shape[1:], self.sample_shape[0]), self.image_shape, self.resize_method)

    @classmethod
    def from_params(cls, params: dict, *, model_dir: str | Path, image_shape=None) -> "DiffusionAPI":
        """The API a run's params ask for, over the diffusers model in ``model_dir``."""
        return cls.from_pretrained(
            model_dir,
            num_inference_steps=params["pe"]["num_inference_steps"],
            image_shape=image_shape,
            resize_method=params["model"]["resize_method"],
            class_labels=params["model"]["class_labels"],
            sampler=params["pe"]["sampler"],
            batch_size=params["pe"]["batch_size"],
            device=params["device"],
            mixed_precision=params["model"]["mixed_precision"],
        )

    @classmethod
    def from_pretrained(cls, model_dir: str | Path, **kwargs) -> "DiffusionAPI":
        unet, scheduler_config = load_unet_and_scheduler_config(model_dir)
        return cls(unet, scheduler_config, **kwargs)

    def noise(self, num_images: int, seed: int) -> torch.Tensor:
        """The Gaussian noise of one seeded stream; drawn on the CPU so results do not depend on the device."""
        generator = torch.Generator("cpu").manual_seed(int(seed))
        return torch.randn((num_images, *self.sample_shape), generator=generator)

    def random(self, num_images: int, *, seed: int, desc: str = "random samples", class_index: int | None = None
               ) -> np.ndarray:
        """RANDOM_API: ``num_images`` fresh DDIM samples, uint8 NHWC (of PE class ``class_index`` for a
        class-conditional model)."""
        noise = self.noise(num_images, seed)
        return self._denoise_batches(noise, start_index=0, desc=desc, model_class=self._model_class(class_index))

    def _model_class(self, class_index: int | None) -> int | None:
        if not self.class_conditional:
            return None
        if class_index is None:
            raise ValueError("a class-conditional model needs the class to draw (class_index)")
        return self.class_labels[class_index]

    def variation(self, images: np.ndarray, *, degree: float, seed: int, desc: str = "variations",
                  class_index: int | None = None) -> np.ndarray:
        """VARIATION_API: one variation of each image at ``degree`` (fraction of the schedule re-run), of PE class
        ``class_index`` for a class-conditional model."""
        model_class = self._model_class(class_index)
        check_images(images, name="variation input")
        steps = check_degree(degree, self.num_inference_steps, where="variation degree")
        if steps == 0:
            return images.copy()
        noise = self.noise(len(images), seed)
        if steps >= self.num_inference_steps:
            return self._denoise_batches(noise, start_index=0, desc=desc, model_class=model_class)
        start_index = self.num_inference_steps - steps
        t_start = self.scheduler.timesteps[start_index]
        if self.resizes:
            images = to_image_shape(images, (*self.sample_shape[1:], images.shape[3]), method=self.resize_method)
        clean = images_to_tensor(images, self.sample_shape[0])
        if clean.shape[1:] != noise.shape[1:]:
            raise ValueError(f"images of shape {tuple(clean.shape[1:])} do not match the model's {self.sample_shape}")
        noised = self.scheduler.add_noise(clean, noise, torch.full((len(images),), int(t_start)))
        return self._denoise_batches(noised, start_index=start_index, desc=desc, model_class=model_class)

    @torch.inference_mode()
    def _denoise_batches(self, x: torch.Tensor, *, start_index: int, desc: str, model_class: int | None = None
                         ) -> np.ndarray:
        timesteps = self.scheduler.timesteps[start_index:]
        out = []
        with out_of_memory_hint("pe.batch_size", self.batch_size, self.device), \
                tqdm(total=len(x) * len(timesteps), desc=desc, unit="img-step", leave=False) as bar:
            for begin in range(0, len(x), self.batch_size):
                # A multistep solver keeps the last model outputs: every batch starts from a fresh history.
                self.scheduler.set_timesteps(self.num_inference_steps)
                sample = x[begin : begin + self.batch_size].to(self.device)
                condition = ({} if model_class is None else
                             {"class_labels": torch.full((len(sample),), model_class, device=self.device)})
                for t in timesteps:
                    with model_time("unet"), autocast(self.device, self.mixed_precision):
                        eps = self.unet(sample, t, **condition).sample
                    sample = self.scheduler.step(eps.float(), t, sample).prev_sample
                    bar.update(len(sample))
                out.append(self._to_private_shape(tensor_to_images(sample, self.output_channels)))
        return np.concatenate(out) if out else np.zeros((0, *self.image_shape), np.uint8)

    def _to_private_shape(self, images: np.ndarray) -> np.ndarray:
        return to_image_shape(images, self.image_shape, method=self.resize_method) if self.resizes else images
