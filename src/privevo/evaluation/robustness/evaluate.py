"""All robustness measures of one trained classifier (SPEC section 4) in one call: a JSON-ready summary
plus long-format rows for tables and plots.

Rows are ``{"metric", "corruption", "severity", "value"}``; a field that does not apply is ``None``
(JSON null, an empty CSV cell), never "". Metrics that are not about a corruption carry their setting
in the metric name: ``fgsm_accuracy@8/255``, ``ood_auroc_energy@<set>``.

Adversarial accuracy is measured on a simple random subsample (without replacement, seeded) of at most
``attack_max_samples`` test images, since PGD costs ``steps`` forward-backward passes per image; the
clean accuracy of the same subsample is reported next to it so the two can be compared directly.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from privevo.core.seeding import named_seed_sequence
from privevo.core.timing import model_time
from privevo.evaluation.robustness import attacks as attacks_module
from privevo.evaluation.robustness.attacks import DEFAULT_EPSILONS, DEFAULT_PGD_STEPS, adversarial_accuracy
from privevo.evaluation.robustness.calibration import ECE_BINS, calibration_summary
from privevo.evaluation.robustness.corruptions import CORRUPTIONS, GREY_CHANNEL_RULE, SEVERITIES, corrupt
from privevo.evaluation.robustness.ood import ENERGY_TEMPERATURE, SCORES, match_model_input, ood_auroc, score
from privevo.io.images import check_images, check_labels
from privevo.models.classifier import _to_tensor

logger = logging.getLogger(__name__)

DEFAULT_ATTACK_MAX_SAMPLES = 500
DEFAULT_BATCH_SIZE = 256
SUBSAMPLE_RULE = "simple random sample without replacement (seeded), sorted by index"


def _stream_seed(seed: int, purpose: str) -> int:
    """A 63-bit seed for one purpose ("attack/pgd/8/255", "subsample") under the root ``seed``."""
    state = named_seed_sequence(seed, role="robustness", name=purpose).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))


@torch.no_grad()
def model_logits(model: nn.Module, images: np.ndarray, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
    """float64 logits (N, num_classes) of ``model`` on uint8 NHWC ``images``, in the model's eval mode."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    try:
        with model_time("classifier"):
            for start in range(0, images.shape[0], batch_size):
                out.append(model(_to_tensor(images[start : start + batch_size]).to(device)).double().cpu())
    finally:
        model.train(was_training)
    return torch.cat(out).numpy()


def _probabilities(logits: np.ndarray) -> np.ndarray:
    return torch.softmax(torch.from_numpy(logits), dim=1).numpy()


def _accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((logits.argmax(axis=1) == labels).mean())


def _budget_label(epsilon: float) -> str:
    return f"{float(epsilon) * 255:g}/255"


def _row(metric: str, value: float | None, corruption: str | None = None,
         severity: int | None = None) -> dict[str, Any]:
    return {"metric": metric, "corruption": corruption, "severity": severity, "value": value}


def evaluate_robustness(
    model: nn.Module,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    ood_sets: Mapping[str, np.ndarray] | None = None,
    *,
    seed: int,
    corruption_names: Sequence[str] = CORRUPTIONS,
    severities: Sequence[int] = SEVERITIES,
    attacks: Sequence[str] = attacks_module.ATTACKS,
    attack_budgets: Sequence[float] = DEFAULT_EPSILONS,
    pgd_steps: int = DEFAULT_PGD_STEPS,
    attack_max_samples: int | None = DEFAULT_ATTACK_MAX_SAMPLES,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Clean accuracy, calibration, corruption accuracy, adversarial accuracy and OOD AUROC of ``model``.

    ``test_images`` are uint8 NHWC of the model's input shape, ``test_labels`` integer classes.
    ``ood_sets`` maps a name to uint8 NHWC images of any size and 1 or 3 channels (converted with
    :func:`~privevo.evaluation.robustness.ood.match_model_input`). ``attack_max_samples=None`` attacks the
    whole test set. Everything random derives from ``seed``. Returns ``(summary, rows)``; see the module
    docstring for the rows.
    """
    test_images = check_images(test_images, name="test_images", allow_empty=False,
                               shape=getattr(model, "input_shape", None))
    num_classes = getattr(model, "num_classes", None)
    labels = check_labels(np.asarray(test_labels), num_images=test_images.shape[0], num_classes=num_classes,
                          name="test_labels")
    unknown = sorted(set(corruption_names) - set(CORRUPTIONS))
    if unknown:
        raise ValueError(f"unknown corruptions {unknown}; known: {', '.join(CORRUPTIONS)}")
    bad_attacks = sorted(set(attacks) - set(attacks_module.ATTACKS))
    if bad_attacks:
        raise ValueError(f"unknown attacks {bad_attacks}; known: {', '.join(attacks_module.ATTACKS)}")
    if attack_max_samples is not None and attack_max_samples < 1:
        raise ValueError(f"attack_max_samples must be >= 1 or None, got {attack_max_samples}")
    input_shape = tuple(test_images.shape[1:])
    seconds: dict[str, float] = {}
    rows: list[dict[str, Any]] = []

    # --- clean accuracy and calibration
    start = time.perf_counter()
    clean_logits = model_logits(model, test_images, batch_size)
    calibration = calibration_summary(_probabilities(clean_logits), labels, ECE_BINS)
    clean_accuracy = calibration.pop("accuracy")
    seconds["clean"] = time.perf_counter() - start
    rows += [_row("clean_accuracy", clean_accuracy), _row("ece", calibration["ece"]), _row("nll", calibration["nll"]),
             _row("brier", calibration["brier"])]

    # --- common corruptions
    start = time.perf_counter()
    per_corruption: dict[str, dict[str, float]] = {}
    settings = [(name, int(s)) for name in corruption_names for s in severities]
    disable = None if progress is None else not progress
    for name, severity in tqdm(settings, desc="corruptions", leave=False, disable=disable):
        corrupted = corrupt(test_images, name, severity, seed)
        accuracy = _accuracy(model_logits(model, corrupted, batch_size), labels)
        per_corruption.setdefault(name, {})[str(severity)] = accuracy
        rows.append(_row("corruption_accuracy", accuracy, name, severity))
    mean_per_corruption = {name: float(np.mean(list(acc.values()))) for name, acc in per_corruption.items()}
    for name, value in mean_per_corruption.items():
        rows.append(_row("mean_corruption_accuracy", value, name))
    all_accuracies = [a for acc in per_corruption.values() for a in acc.values()]
    mean_corruption = float(np.mean(all_accuracies)) if all_accuracies else None
    relative_drop = None
    if mean_corruption is not None and clean_accuracy > 0:
        relative_drop = (clean_accuracy - mean_corruption) / clean_accuracy
    rows += [_row("mean_corruption_accuracy", mean_corruption), _row("relative_corruption_drop", relative_drop)]
    seconds["corruptions"] = time.perf_counter() - start

    # --- adversarial attacks, on a seeded subsample
    start = time.perf_counter()
    n = test_images.shape[0]
    if attack_max_samples is None or attack_max_samples >= n:
        subset = np.arange(n)
    else:
        gen = np.random.default_rng(_stream_seed(seed, "subsample"))
        subset = np.sort(gen.choice(n, size=int(attack_max_samples), replace=False))
    subset_clean = _accuracy(clean_logits[subset], labels[subset]) if attacks else None
    adversarial = []
    for attack in attacks:
        for epsilon in attack_budgets:
            label = _budget_label(epsilon)
            result = adversarial_accuracy(model, test_images[subset], labels[subset], attack=attack, epsilon=epsilon,
                                          steps=pgd_steps, seed=_stream_seed(seed, f"attack/{attack}/{label}"),
                                          batch_size=batch_size, progress=progress)
            adversarial.append(result)
            rows.append(_row(f"{attack}_accuracy@{label}", result["accuracy"]))
    if attacks:
        rows.append(_row("attack_subset_clean_accuracy", subset_clean))
    seconds["attacks"] = time.perf_counter() - start

    # --- out-of-distribution detection
    start = time.perf_counter()
    in_scores = {name: score(clean_logits, name) for name in SCORES}
    ood: dict[str, Any] = {}
    for set_name, images in (ood_sets or {}).items():
        original_shape = list(images.shape[1:]) if isinstance(images, np.ndarray) else None
        matched = match_model_input(images, input_shape, name=f"OOD set {set_name}")
        logits = model_logits(model, matched, batch_size)
        aurocs = {name: ood_auroc(in_scores[name], score(logits, name)) for name in SCORES}
        ood[set_name] = {"num_images": int(matched.shape[0]), "original_shape": original_shape,
                         "converted": original_shape != list(input_shape), "auroc": aurocs}
        rows += [_row(f"ood_auroc_{name}@{set_name}", value) for name, value in aurocs.items()]
    seconds["ood"] = time.perf_counter() - start

    summary = {
        "num_test": int(n),
        "clean_accuracy": clean_accuracy,
        "calibration": calibration,
        "corruptions": {
            "names": list(corruption_names),
            "severities": [int(s) for s in severities],
            "accuracy": per_corruption,
            "mean_accuracy_per_corruption": mean_per_corruption,
            "mean_accuracy": mean_corruption,
            "relative_drop": relative_drop,
            "relative_drop_rule": "(clean - mean corruption accuracy) / clean",
            "grey_images": GREY_CHANNEL_RULE,
            "seed": int(seed),
        },
        "adversarial": {
            "norm": attacks_module.NORM,
            "pixel_range": "[0, 1] (epsilon 8/255 = 8 grey levels)",
            "num_samples": int(subset.size),
            "subsample": SUBSAMPLE_RULE if subset.size < n else "whole test set",
            "clean_accuracy_subsample": subset_clean,
            "scoring": "worst of (clean, attack output) per example",
            "results": adversarial,
        },
        "ood": {"scores": list(SCORES), "energy_temperature": ENERGY_TEMPERATURE,
                "positive": "in-distribution (test set)", "sets": ood},
        "seconds": seconds,
    }
    attacked = ", ".join(f"{r['attack']}@{_budget_label(r['epsilon'])} {r['accuracy']:.4f}" for r in adversarial)
    logger.info("robustness: clean %.4f, ECE %.4f, mean corruption %s, %s", clean_accuracy, calibration["ece"],
                None if mean_corruption is None else round(mean_corruption, 4), attacked)
    return summary, rows
