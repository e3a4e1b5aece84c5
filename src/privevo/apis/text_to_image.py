"""A local diffusers text-to-image pipeline (Stable Diffusion and kin) as PE's API, after the reference ``pe``
library's StableDiffusion API.

RANDOM_API for class c is text-to-image: each image gets a prompt drawn (seeded) from class c's prompt list
(``pe.prompts``; default: the class name; unlabelled data: ``pe.prompt``). VARIATION_API is img2img of each
candidate with the prompt it was drawn with, its ``strength`` playing the variation degree: of the schedule's S
steps (``pe.num_inference_steps``) it re-runs round(degree * S), like the diffusion API (apis.base.check_degree).
Degree 0 returns the candidate, degree 1 is a fresh text-to-image draw with the same prompt.

Each image's (class index, prompt index) rides along as a two-column ``api_state`` (apis.base), so a variation
keeps its candidate's prompt. The pipeline works at its own square resolution (``text_to_image.resolution``;
default: UNet sample size x VAE factor) in RGB; images move to and from the private shape with
``model.resize_method`` (privevo.io.resize), as ``describe()`` reports.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from privevo.apis.base import check_degree
from privevo.apis.diffusion import ModelFolderError, autocast, resize_record
from privevo.core.devices import out_of_memory_hint, resolve_device, resolve_mixed_precision
from privevo.core.errors import ParamsError
from privevo.core.timing import model_time
from privevo.io.images import check_images
from privevo.io.resize import RESIZE_METHODS, to_image_shape

logger = logging.getLogger("privevo.apis.text_to_image")

DEFAULT_GUIDANCE_SCALE = 7.5  # the reference library's default for both calls
# The one population of unlabelled data: data.private.UNLABELLED_CLASS_NAME, which apis may not import (layers).
UNLABELLED_POPULATION = "all images"
CLASS_COLUMN, PROMPT_COLUMN = 0, 1
STATE_WIDTH = 2
# Separate random streams of one call's seed: which prompt each image gets, and each batch's noise.
_PROMPT_STREAM, _NOISE_STREAM = 0, 1


# ----------------------------------------------------------------------------------------------- prompts

def check_prompts(prompts: dict | None, class_names: list[str]) -> None:
    """Reject a ``pe.prompts`` map that names a class the private set does not have (a typo would otherwise
    silently fall back to the class name)."""
    if not prompts:
        return
    unknown = [name for name in prompts if name not in class_names]
    if unknown:
        raise ParamsError(f"params key pe.prompts: the map names class(es) {', '.join(map(repr, unknown))} that the "
                          f"private set does not have; its classes are {', '.join(map(repr, class_names))}")


def class_prompts(params: dict, class_names: list[str]) -> list[list[str]]:
    """The prompts of each PE class, in class order: ``pe.prompts[name]`` or ``[name]``; unlabelled data has one
    population whose prompt is ``pe.prompt`` (or the empty prompt)."""
    pe = params["pe"]
    if not params["data"].get("labelled", True):
        if pe.get("prompts"):
            logger.warning("pe.prompts is not used for unlabelled data (data.labelled false); pe.prompt is the "
                           "population's one prompt")
        return [[pe.get("prompt") or ""]]
    prompts = pe.get("prompts") or {}
    check_prompts(prompts, class_names)
    return [list(prompts.get(name) or [name]) for name in class_names]


def default_class_names(params: dict) -> list[str]:
    """The class names when the caller gives none: only unlabelled data's one population is known from the params
    alone (apis may not read the private set, docs/architecture.md)."""
    data = params["data"]
    if not data.get("labelled", True):
        return [UNLABELLED_POPULATION]
    raise ValueError(f"the text_to_image API needs the class names of data.private_set {data.get('private_set')!r}: "
                     "pass class_names (privevo.data.private.params_class_names) to make_api / from_params")


# ----------------------------------------------------------------------------------------------- the model folder

def load_text_to_image_pipeline(model_dir: str | Path):
    """A local diffusers text-to-image pipeline (no download, no safety checker) and its img2img twin, sharing
    the same components."""
    from diffusers import AutoPipelineForImage2Image, AutoPipelineForText2Image

    model_dir = Path(model_dir)
    expected = ("a local diffusers text-to-image pipeline folder (model_index.json with unet/, vae/, text_encoder/, "
                "tokenizer/, scheduler/: e.g. a saved StableDiffusionPipeline) at model.local_path")
    index_path = model_dir / "model_index.json"
    if not index_path.is_file():
        raise ModelFolderError(f"no model_index.json in {model_dir}: pe.api text_to_image needs {expected}")
    index = json.loads(index_path.read_text())
    # Only pipelines that have a safety checker accept these; they would warn about the keys otherwise.
    no_checker = {key: value for key, value in (("safety_checker", None), ("requires_safety_checker", False))
                  if key in index}
    try:
        text_pipeline = AutoPipelineForText2Image.from_pretrained(model_dir, local_files_only=True, **no_checker)
        image_pipeline = AutoPipelineForImage2Image.from_pipe(text_pipeline)
    except Exception as exc:  # diffusers raises many kinds; the user needs one line naming the folder
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelFolderError(f"cannot load {model_dir} as a text-to-image pipeline ({type(exc).__name__}: "
                               f"{first_line}); pe.api text_to_image needs {expected}") from exc
    for pipeline in (text_pipeline, image_pipeline):
        pipeline.set_progress_bar_config(disable=True)  # our own tqdm counts image-steps across batches
    return text_pipeline, image_pipeline


def weights_sha256(model_dir: str | Path) -> str:
    """sha256 over the folder's weight files (*.safetensors, *.bin), each as its relative path and bytes, sorted."""
    model_dir = Path(model_dir)
    digest = hashlib.sha256()
    for path in sorted(p for p in model_dir.rglob("*") if p.suffix in (".safetensors", ".bin") and p.is_file()):
        digest.update(str(path.relative_to(model_dir)).encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def batch_seed(seed: int, batch_index: int) -> int:
    """The torch seed of one batch of a call: independent streams per batch, the same on every rerun."""
    return int(np.random.SeedSequence([int(seed), _NOISE_STREAM, int(batch_index)]).generate_state(1)[0])


# ----------------------------------------------------------------------------------------------- the API

class TextToImageAPI:
    """RANDOM_API (text-to-image) and VARIATION_API (img2img, same prompt) over a local diffusers pipeline."""

    carries_state = True
    class_conditional = True

    def __init__(
        self,
        text_pipeline,
        image_pipeline,
        *,
        class_names: list[str],
        prompts: list[list[str]],
        num_inference_steps: int,
        image_shape: tuple[int, int, int],
        guidance_scale: float = DEFAULT_GUIDANCE_SCALE,
        resolution: int | None = None,
        resize_method: str = "torch_bicubic",
        batch_size: int = 16,
        device: str = "auto",
        mixed_precision: str = "auto",
        model_dir: str | Path | None = None,
    ):
        """``prompts[c]``: the prompts of PE class c (named ``class_names[c]``). ``resolution``: the side of the
        pipeline's square images; None: its own (UNet sample size x VAE factor)."""
        if len(prompts) != len(class_names) or not all(prompts):
            raise ValueError(f"one non-empty prompt list per class: {len(class_names)} classes, {len(prompts)} lists")
        if not (isinstance(guidance_scale, (int, float)) and guidance_scale >= 0):
            raise ParamsError(f"params key text_to_image.guidance_scale: a number >= 0, got {guidance_scale!r}")
        if resize_method not in RESIZE_METHODS:
            raise ValueError(f"model.resize_method: unknown {resize_method!r}; known: {', '.join(RESIZE_METHODS)}")
        self.device = resolve_device(device)
        self.text_pipeline = text_pipeline.to(self.device)
        self.image_pipeline = image_pipeline.to(self.device)
        self.class_names = list(class_names)
        self.prompts = [list(p) for p in prompts]
        self.num_inference_steps = int(num_inference_steps)
        self.guidance_scale = float(guidance_scale)
        self.resize_method = resize_method
        self.batch_size = int(batch_size)
        self.model_dir = None if model_dir is None else Path(model_dir)
        self.mixed_precision, self.mixed_precision_reason = resolve_mixed_precision(mixed_precision, self.device)
        self.resolution = self._check_resolution(resolution)
        self.model_shape = (self.resolution, self.resolution, 3)
        self.image_shape = tuple(int(d) for d in image_shape)
        self._weights_sha256 = None
        logger.info("text-to-image at %dx%d in %s on %s (%s), %d steps, guidance %.3g; images resized to the "
                    "private %s with %s", self.resolution, self.resolution, self.mixed_precision, self.device,
                    self.mixed_precision_reason, self.num_inference_steps, self.guidance_scale,
                    "x".join(map(str, self.image_shape)), resize_method)

    def _check_resolution(self, resolution: int | None) -> int:
        factor = int(self.text_pipeline.vae_scale_factor)
        if resolution is None:
            size = self.text_pipeline.unet.config.sample_size
            return int(size if isinstance(size, int) else size[0]) * factor
        if not (isinstance(resolution, int) and resolution > 0 and resolution % factor == 0):
            raise ParamsError(f"params key text_to_image.resolution: the pipeline's VAE works on multiples of "
                              f"{factor} pixels; got {resolution!r} (null: the model's own)")
        return resolution

    @classmethod
    def from_params(cls, params: dict, *, model_dir: str | Path, image_shape, class_names: list[str] | None = None
                    ) -> "TextToImageAPI":
        """The API a run's params ask for, over the pipeline in ``model_dir``, returning images of ``image_shape``
        (H, W, C). ``class_names``: the private set's classes (None: what the params alone say)."""
        class_names = list(class_names) if class_names is not None else default_class_names(params)
        prompts = class_prompts(params, class_names)  # before loading: a bad prompt map fails fast
        settings = params.get("text_to_image") or {}
        return cls.from_pretrained(
            model_dir,
            class_names=class_names,
            prompts=prompts,
            num_inference_steps=params["pe"]["num_inference_steps"],
            image_shape=image_shape,
            guidance_scale=settings.get("guidance_scale", DEFAULT_GUIDANCE_SCALE),
            resolution=settings.get("resolution"),
            resize_method=params["model"]["resize_method"],
            batch_size=params["pe"]["batch_size"],
            device=params["device"],
            mixed_precision=params["model"]["mixed_precision"],
        )

    @classmethod
    def from_pretrained(cls, model_dir: str | Path, **kwargs) -> "TextToImageAPI":
        text_pipeline, image_pipeline = load_text_to_image_pipeline(model_dir)
        return cls(text_pipeline, image_pipeline, model_dir=model_dir, **kwargs)

    def describe(self) -> dict:
        """What the report and the run's identity say about the model: resolutions and resize, prompts, guidance,
        scheduler and a hash of the weights."""
        if self._weights_sha256 is None and self.model_dir is not None:
            self._weights_sha256 = weights_sha256(self.model_dir)
        return {
            **resize_record(self.model_shape, self.image_shape, self.resize_method),
            "pipeline": type(self.text_pipeline).__name__,
            "scheduler": type(self.text_pipeline.scheduler).__name__,
            "num_inference_steps": self.num_inference_steps,
            "guidance_scale": self.guidance_scale,
            "prompts": dict(zip(self.class_names, self.prompts)),
            "variation": "img2img with the candidate's prompt, re-running round(degree x steps) of the steps; "
                         "degree 1: a fresh text-to-image draw",
            "weights_sha256": self._weights_sha256,
        }

    # ------------------------------------------------------------------------------------------- PE's calls

    def random_with_state(self, num_images: int, *, class_index: int, seed: int, desc: str = "text-to-image"
                          ) -> tuple[np.ndarray, np.ndarray]:
        """RANDOM_API for class ``class_index``: (images, state rows (class index, prompt index))."""
        if not 0 <= class_index < len(self.prompts):
            raise ValueError(f"class_index must lie in 0..{len(self.prompts) - 1}, got {class_index}")
        rng = np.random.default_rng([int(seed), _PROMPT_STREAM])
        state = np.empty((num_images, STATE_WIDTH), dtype=np.int64)
        state[:, CLASS_COLUMN] = class_index
        state[:, PROMPT_COLUMN] = rng.integers(0, len(self.prompts[class_index]), num_images)
        return self._run(state, None, steps=self.num_inference_steps, seed=seed, desc=desc), state

    def variation_with_state(self, images: np.ndarray, state: np.ndarray, *, degree: float, seed: int,
                             desc: str = "img2img variations") -> tuple[np.ndarray, np.ndarray]:
        """VARIATION_API: img2img of each image with its own prompt; (images, the same state rows)."""
        check_images(images, name="variation input")
        state = self.check_state(state, num_images=len(images))
        steps = check_degree(degree, self.num_inference_steps, where="variation degree")
        if steps == 0:
            return images.copy(), state.copy()
        if steps >= self.num_inference_steps:
            return self._run(state, None, steps=steps, seed=seed, desc=desc), state.copy()
        model_input = to_image_shape(images, self.model_shape, method=self.resize_method)
        return self._run(state, model_input, steps=steps, seed=seed, desc=desc), state.copy()

    def random(self, num_images: int, *, seed: int, desc: str = "text-to-image", class_index: int = 0) -> np.ndarray:
        """RANDOM_API (PEAPI protocol)."""
        return self.random_with_state(num_images, class_index=class_index, seed=seed, desc=desc)[0]

    def variation(self, images: np.ndarray, *, degree: float, seed: int, desc: str = "img2img variations",
                  state: np.ndarray | None = None) -> np.ndarray:
        """VARIATION_API (PEAPI protocol); needs the images' prompts (``state``)."""
        return self.variation_with_state(images, state, degree=degree, seed=seed, desc=desc)[0]

    def check_state(self, state, *, num_images: int) -> np.ndarray:
        if state is None:
            raise ValueError("text_to_image varies each image with its own prompt: give the api_state that came "
                             "with these images (the candidates/selected .npz carry it)")
        state = np.asarray(state)
        if state.ndim != 2 or state.shape[1] != STATE_WIDTH or len(state) != num_images:
            raise ValueError(f"text_to_image state must have shape ({num_images}, {STATE_WIDTH}), got {state.shape}")
        if state.size and not np.all(state == np.round(state)):
            raise ValueError("text_to_image state must hold integer (class, prompt) indices")
        state = state.astype(np.int64)
        for class_index, prompt_index in np.unique(state, axis=0):
            if not (0 <= class_index < len(self.prompts) and 0 <= prompt_index < len(self.prompts[class_index])):
                raise ValueError(f"text_to_image state row ({class_index}, {prompt_index}) names no prompt of this "
                                 f"API's {len(self.prompts)} classes")
        return state

    # ------------------------------------------------------------------------------------------- the pipelines

    @torch.inference_mode()
    def _run(self, state: np.ndarray, model_input: np.ndarray | None, *, steps: int, seed: int, desc: str
             ) -> np.ndarray:
        """Text-to-image (``model_input`` None) or img2img of ``model_input`` re-running ``steps`` of the
        schedule, batch by batch, each image with its state row's prompt; uint8 NHWC of the private shape."""
        prompts = [self.prompts[c][p] for c, p in state]
        out = []
        with out_of_memory_hint("pe.batch_size", self.batch_size, self.device), \
                tqdm(total=len(prompts) * steps, desc=desc, unit="img-step", leave=False) as bar:
            for batch_index, begin in enumerate(range(0, len(prompts), self.batch_size)):
                batch = slice(begin, begin + self.batch_size)
                size = len(prompts[batch])

                def count_step(pipeline, step, timestep, callback_kwargs, size=size):
                    bar.update(size)
                    return callback_kwargs

                common = dict(prompt=prompts[batch], num_inference_steps=self.num_inference_steps,
                              guidance_scale=self.guidance_scale, output_type="np",
                              generator=torch.Generator("cpu").manual_seed(batch_seed(seed, batch_index)),
                              callback_on_step_end=count_step)
                with model_time("unet"), autocast(self.device, self.mixed_precision):
                    if model_input is None:
                        result = self.text_pipeline(height=self.resolution, width=self.resolution, **common)
                    else:
                        pixels = torch.from_numpy(np.ascontiguousarray(model_input[batch])).permute(0, 3, 1, 2)
                        result = self.image_pipeline(image=pixels.float() / 255.0,
                                                     strength=self._strength(steps), **common)
                generated = np.rint(np.clip(np.asarray(result.images, dtype=np.float32) * 255.0, 0, 255))
                out.append(to_image_shape(generated.astype(np.uint8), self.image_shape, method=self.resize_method))
        return np.concatenate(out) if out else np.zeros((0, *self.image_shape), np.uint8)

    @torch.inference_mode()
    def measure_seconds_per_image_step(self, *, repeats: int = 2) -> float:
        """Seconds for one image through one denoising step on this device: the UNet on one latent of the model's
        resolution (two with classifier-free guidance, as the pipelines run it), after one warm-up call; the best
        of ``repeats``. What the run's image-steps cost here, measured before any of them is made."""
        unet = self.text_pipeline.unet
        factor = int(self.text_pipeline.vae_scale_factor)
        passes = 2 if self.guidance_scale > 1 else 1
        side = self.resolution // factor
        dtype = next(unet.parameters()).dtype
        latents = torch.zeros(passes, unet.config.in_channels, side, side, device=self.device, dtype=dtype)
        tokens = int(getattr(self.text_pipeline.tokenizer, "model_max_length", 77))
        text = torch.zeros(passes, tokens, unet.config.cross_attention_dim, device=self.device, dtype=dtype)
        timestep = torch.tensor(self.text_pipeline.scheduler.config.num_train_timesteps // 2, device=self.device)
        best = float("inf")
        with autocast(self.device, self.mixed_precision):
            for call in range(repeats + 1):
                start = time.perf_counter()
                unet(latents, timestep, encoder_hidden_states=text)
                if self.device.type == "cuda":
                    torch.cuda.synchronize(self.device)
                if call:  # the first call warms up
                    best = min(best, time.perf_counter() - start)
        return best


    def _strength(self, steps: int) -> float:
        """The img2img strength that re-runs exactly ``steps`` of the schedule. diffusers runs
        int(num_inference_steps * strength) steps, which floors (and 3 * (1/3) can land just below 1): aiming
        at the middle of the step makes the count check_degree's round(degree * S) whatever the rounding."""
        return min(1.0, (steps + 0.5) / self.num_inference_steps)
