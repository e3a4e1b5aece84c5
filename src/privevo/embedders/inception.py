"""The "inception" embedder: FID Inception-v3 pool features from a user-supplied TorchScript file."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from privevo.core.devices import resolve_device
from privevo.core.timing import model_time
from privevo.embedders.base import Embedder, to_rgb

logger = logging.getLogger(__name__)

INCEPTION_FILENAME = "inception-2015-12-05.pt"
INCEPTION_URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt"
INCEPTION_ENV_VAR = "PRIVEVO_INCEPTION_PATH"


def _inception_candidates(weights_path: str | os.PathLike | None) -> list[Path]:
    if weights_path is None:
        weights_path = os.environ.get(INCEPTION_ENV_VAR) or None
    if weights_path is not None:
        p = Path(weights_path).expanduser()
        return [p / INCEPTION_FILENAME] if p.is_dir() else [p]
    return [Path.cwd() / INCEPTION_FILENAME, Path("~/.cache/privevo").expanduser() / INCEPTION_FILENAME]


def find_inception_weights(weights_path: str | os.PathLike | None = None) -> Path:
    """Locate ``inception-2015-12-05.pt``: the given path (a file or a folder holding it), else
    ``$PRIVEVO_INCEPTION_PATH``, else ./ and ~/.cache/privevo/. Raise FileNotFoundError if absent."""
    candidates = _inception_candidates(weights_path)
    for c in candidates:
        if c.is_file():
            return c
    raise FileNotFoundError(missing_weights_message(candidates))


def missing_weights_message(candidates: list[Path]) -> str:
    """One line: which file is missing, where it was looked for, where to put it and where to get it."""
    where = ", ".join(str(c) for c in candidates)
    return (
        f"Inception FID weights {INCEPTION_FILENAME} not found (looked for: {where}); privevo never downloads it: "
        f"fetch {INCEPTION_URL} on a machine with internet, copy it here and set embedding.inception_path in the "
        f"params file (or {INCEPTION_ENV_VAR}, or weights_path in Python) to the file or its folder"
    )


class InceptionEmbedder(Embedder):
    """FID Inception-v3 pool features (2048-d) from the TorchScript ``inception-2015-12-05.pt``.

    Follows clean-fid: each image is resized to 299 x 299 with PIL bicubic and fed as float 0..255
    (the TorchScript itself normalises with (x - 128) / 128 and skips its internal resize at 299);
    features come from ``model(x, return_features=True)``. By default (``quantize_after_resize=False``)
    each channel is resized in float and clipped to 0..255, without quantisation: clean-fid's "clean" mode
    (``build_resizer("clean")``), so privevo's FID is the number clean-fid reports on the same images.
    ``True`` runs the PIL resize on the uint8 image instead, so the resized images stay uint8-quantised
    (not clean-fid's convention).
    """

    name: ClassVar[str] = "inception"
    _SIZE: ClassVar[int] = 299

    def __init__(
        self,
        *,
        weights_path: str | os.PathLike | None = None,
        device: str = "cpu",
        quantize_after_resize: bool = False,
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
        rgb = to_rgb(batch)
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
