"""L-infinity adversarial accuracy under FGSM and PGD (torchattacks), evaluated as a sound worst case.

Pixel scale: torchattacks perturbs images in [0, 1] and clips to that box; :class:`UnitRangeModel` maps
[0, 1] to the [-0.5, 0.5] that :func:`privevo.models.classifier._to_tensor` feeds the classifier, so
epsilon is in units of the full pixel range (8/255 = 8 grey levels) and the model's own preprocessing is
unchanged. Adversarial images stay float: rounding them to uint8 could leave the epsilon ball's edge.

PGD (Madry et al., 2018): random start uniform in the ball, ``steps`` signed-gradient steps of size
``alpha`` projected back onto the ball and the box. The default step size is the Madry convention
``alpha = 2.5 * epsilon / steps`` (:data:`PGD_ALPHA_FACTOR`), so that the walk can cross the ball
from edge to edge; the value used is returned with the result.

Neither attack is guaranteed to do any harm: FGSM follows a linear approximation and PGD returns its
last iterate, which after a random start can be a *better* point for the model than the clean image.
Since the clean image is itself inside the ball, each example is scored on the worse of the two
candidates (clean, attack output): an example counts as robust only if the model is right on both, and
the returned image is a misclassified candidate if there is one, else the one with the higher loss.
``clean_kept`` in the result counts the examples where the clean image was the worse one.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from privevo.core.timing import model_time
from privevo.io.images import check_images, check_labels

logger = logging.getLogger(__name__)

ATTACKS = ("fgsm", "pgd")
DEFAULT_EPSILONS = (2 / 255, 8 / 255)
DEFAULT_PGD_STEPS = 20
PGD_ALPHA_FACTOR = 2.5
NORM = "Linf"
# SmallCNN sees pixel / 255 - 0.5 (privevo.models.classifier._to_tensor); the wrapper undoes the shift.
MODEL_INPUT_SHIFT = 0.5


class UnitRangeModel(nn.Module):
    """``model`` behind an input in [0, 1], the range torchattacks clips adversarial images to."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x - MODEL_INPUT_SHIFT)


def pgd_step_size(epsilon: float, steps: int) -> float:
    """The default PGD step size, ``PGD_ALPHA_FACTOR * epsilon / steps``."""
    return PGD_ALPHA_FACTOR * float(epsilon) / int(steps)


def to_unit_range(images: np.ndarray) -> torch.Tensor:
    """uint8 NHWC -> float32 NCHW in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)


def _model_device(model: nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def _build_attack(name: str, wrapped: nn.Module, epsilon: float, steps: int, alpha: float):
    import torchattacks

    if name == "fgsm":
        return torchattacks.FGSM(wrapped, eps=epsilon)
    return torchattacks.PGD(wrapped, eps=epsilon, alpha=alpha, steps=steps, random_start=True)


def _worst_case(model: nn.Module, clean: torch.Tensor, attacked: torch.Tensor, labels: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per example, the worse of (clean, attacked) for the model: ``(images, correct, clean_correct, clean_kept)``."""
    with torch.no_grad():
        logits_clean, logits_adv = model(clean), model(attacked)
    loss_clean = F.cross_entropy(logits_clean, labels, reduction="none")
    loss_adv = F.cross_entropy(logits_adv, labels, reduction="none")
    wrong_clean = logits_clean.argmax(1) != labels
    wrong_adv = logits_adv.argmax(1) != labels
    # Misclassification decides first (it is what accuracy counts), the loss breaks ties.
    keep_clean = (wrong_clean & ~wrong_adv) | ((wrong_clean == wrong_adv) & (loss_clean > loss_adv))
    images = torch.where(keep_clean[:, None, None, None], clean, attacked)
    correct = ~(wrong_clean | wrong_adv)
    return images, correct, ~wrong_clean, keep_clean


def adversarial_accuracy(model: nn.Module, images_uint8: np.ndarray, labels: np.ndarray, *, attack: str,
                         epsilon: float, steps: int = DEFAULT_PGD_STEPS, seed: int, batch_size: int = 256,
                         alpha: float | None = None, return_images: bool = False, progress: bool | None = None
                         ) -> dict[str, Any]:
    """Accuracy of ``model`` on ``images_uint8`` under an L-infinity ``attack`` ("fgsm" or "pgd") of radius ``epsilon``.

    ``epsilon`` and ``alpha`` are in [0, 1] pixel units (8/255 = 8 grey levels); ``alpha`` defaults to
    :func:`pgd_step_size`; FGSM takes one step of size epsilon and ignores ``steps``. PGD's random start
    is drawn from a torch RNG seeded with ``seed`` inside ``fork_rng``, so the result is reproducible
    and the caller's global torch RNG is untouched. The model is left in the train/eval mode it had.

    Returns ``attack``, ``norm``, ``epsilon``, ``steps``, ``step_size``, ``random_start``, ``accuracy``,
    ``clean_accuracy`` (same examples, no attack), ``num_examples``, ``clean_kept`` and, with
    ``return_images``, ``images``: the scored adversarial images, float32 NHWC in [0, 1].
    """
    if attack not in ATTACKS:
        raise ValueError(f"unknown attack {attack!r}; known: {', '.join(ATTACKS)}")
    if not 0.0 < float(epsilon) <= 1.0:
        raise ValueError(f"epsilon must lie in (0, 1] (pixel range [0, 1]), got {epsilon}")
    check_images(images_uint8, name="images to attack", allow_empty=False)
    num_classes = getattr(model, "num_classes", None)
    labels = check_labels(np.asarray(labels), num_images=images_uint8.shape[0], num_classes=num_classes,
                          name="labels")
    if attack == "fgsm":
        steps, alpha = 1, float(epsilon)
    else:
        if int(steps) < 1:
            raise ValueError(f"PGD needs steps >= 1, got {steps}")
        steps = int(steps)
        alpha = pgd_step_size(epsilon, steps) if alpha is None else float(alpha)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if attack == "fgsm":
        rule = "epsilon (one step)"
    else:
        rule = f"{PGD_ALPHA_FACTOR:g} * epsilon / steps" if alpha == pgd_step_size(epsilon, steps) else "given"

    device = _model_device(model)
    was_training = model.training
    wrapped = UnitRangeModel(model).eval()  # eval: torchattacks restores train mode only if it found it on
    adversary = _build_attack(attack, wrapped, float(epsilon), steps, alpha)
    x_all, y_all = to_unit_range(images_uint8), torch.from_numpy(labels)
    n = x_all.shape[0]
    correct, clean_correct, kept, adv_batches = [], [], [], []
    fork_devices = [device] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=fork_devices):
            torch.manual_seed(int(seed))
            bar = tqdm(range(0, n, batch_size), desc=f"{attack} eps={float(epsilon) * 255:g}/255", leave=False,
                       disable=None if progress is None else not progress)
            for start in bar:
                x = x_all[start : start + batch_size].to(device)
                y = y_all[start : start + batch_size].to(device)
                with model_time("classifier"):
                    x_adv = adversary(x, y)
                    scored, ok, clean_ok, keep = _worst_case(wrapped, x, x_adv, y)
                correct.append(ok.cpu())
                clean_correct.append(clean_ok.cpu())
                kept.append(keep.cpu())
                if return_images:
                    adv_batches.append(scored.permute(0, 2, 3, 1).cpu())
    finally:
        model.train(was_training)

    result: dict[str, Any] = {
        "attack": attack,
        "norm": NORM,
        "epsilon": float(epsilon),
        "epsilon_255": float(epsilon) * 255.0,
        "steps": steps,
        "step_size": alpha,
        "step_size_rule": rule,
        "random_start": attack == "pgd",
        "accuracy": float(torch.cat(correct).double().mean()),
        "clean_accuracy": float(torch.cat(clean_correct).double().mean()),
        "num_examples": int(n),
        "clean_kept": int(torch.cat(kept).sum()),
    }
    logger.info("%s (Linf, eps %.4g = %g/255, %d steps of %.4g): accuracy %.4f (clean %.4f) on %d images",
                attack, epsilon, float(epsilon) * 255, steps, alpha, result["accuracy"], result["clean_accuracy"], n)
    if return_images:
        result["images"] = torch.cat(adv_batches).numpy()
    return result
