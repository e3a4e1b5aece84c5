"""Out-of-distribution detection from a classifier's logits: scores, AUROC, and OOD images brought to the model's shape.

Both scores are "higher = more in-distribution": the maximum softmax probability (Hendrycks & Gimpel,
2017) and the negative free energy ``T * logsumexp(logits / T)`` with ``T = 1`` (Liu et al., 2020).
The AUROC labels the in-distribution (test) images positive, so 1.0 is perfect separation, 0.5 chance,
and below 0.5 means the model is *more* confident on the OOD set.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from privevo.io.images import check_images

logger = logging.getLogger(__name__)

SCORES = ("msp", "energy")
ENERGY_TEMPERATURE = 1.0


def msp_score(logits: np.ndarray | torch.Tensor) -> np.ndarray:
    """Maximum softmax probability per row of ``logits`` (N, C), float64."""
    logits = torch.as_tensor(np.asarray(logits), dtype=torch.float64)
    return torch.softmax(logits, dim=1).max(dim=1).values.numpy()


def energy_score(logits: np.ndarray | torch.Tensor, temperature: float = ENERGY_TEMPERATURE) -> np.ndarray:
    """Negative free energy ``T * logsumexp(logits / T)`` per row, float64."""
    logits = torch.as_tensor(np.asarray(logits), dtype=torch.float64)
    return (temperature * torch.logsumexp(logits / temperature, dim=1)).numpy()


def score(logits: np.ndarray, name: str) -> np.ndarray:
    if name == "msp":
        return msp_score(logits)
    if name == "energy":
        return energy_score(logits)
    raise ValueError(f"unknown OOD score {name!r}; known: {', '.join(SCORES)}")


def ood_auroc(in_scores: np.ndarray, out_scores: np.ndarray) -> float:
    """AUROC of telling in-distribution (positive) from OOD scores, higher score = more in-distribution."""
    from torchmetrics.functional.classification import binary_auroc

    in_scores = np.asarray(in_scores, dtype=np.float64).ravel()
    out_scores = np.asarray(out_scores, dtype=np.float64).ravel()
    if in_scores.size == 0 or out_scores.size == 0:
        raise ValueError("AUROC needs at least one in-distribution and one OOD score")
    if not (np.isfinite(in_scores).all() and np.isfinite(out_scores).all()):
        raise ValueError("OOD scores must be finite")
    # torchmetrics squashes scores outside [0, 1] with a sigmoid, which ties large energies (sigmoid(40) == 1.0
    # in float64); AUROC depends only on the order, so pass order-and-tie-preserving ranks scaled to [0, 1].
    _, ranks = np.unique(np.concatenate([in_scores, out_scores]), return_inverse=True)
    preds = torch.from_numpy(ranks.astype(np.float64) / max(1, int(ranks.max())))
    target = torch.cat([torch.ones(in_scores.size, dtype=torch.long), torch.zeros(out_scores.size, dtype=torch.long)])
    # thresholds=None: the exact AUROC over all distinct scores, not a binned approximation.
    return float(binary_auroc(preds, target, thresholds=None).item())


def match_model_input(images: np.ndarray, shape: tuple[int, int, int], *, name: str = "OOD images") -> np.ndarray:
    """``images`` (uint8 NHWC) converted to (H, W, C) = ``shape``: grey is repeated to RGB, RGB becomes grey by
    PIL's ITU-R 601 luma (``convert("L")``), and a different size is resized with PIL bicubic."""
    from PIL import Image

    check_images(images, name=name)
    height, width, channels = (int(v) for v in shape)
    if channels not in (1, 3):
        raise ValueError(f"the model must take 1 or 3 channels, got {channels}")
    if tuple(images.shape[1:]) == (height, width, channels):
        return images
    same_size = tuple(images.shape[1:3]) == (height, width)
    logger.info("%s: converting %s images to %dx%dx%d", name, "x".join(map(str, images.shape[1:])), height, width,
                channels)
    if same_size and images.shape[-1] == 1:  # grey -> RGB needs no PIL round trip
        return np.repeat(images, 3, axis=-1)
    out = np.empty((images.shape[0], height, width, channels), dtype=np.uint8)
    mode = "L" if channels == 1 else "RGB"
    for i, image in enumerate(images):
        pil = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).convert(mode)
        if not same_size:
            pil = pil.resize((width, height), Image.BICUBIC)
        array = np.asarray(pil)
        out[i] = array[..., None] if channels == 1 else array
    return out
