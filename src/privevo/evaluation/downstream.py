"""Downstream accuracy: the CNN trained on a set (synthetic, or real as the ceiling), tested on the real
test split. Reads private data: evaluation, not part of the DP release."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from privevo.data import stratified_head

# The real-data CNN is computed from private data without noise: its saved weights are private.
PRIVATE_MODEL_LABEL = ("PRIVATE: trained on the private data without noise (the non-private reference); not part of "
                       "any DP release, never to be published")
from privevo.models.classifier import run_downstream


def downstream_accuracy(train_images: np.ndarray, train_labels: np.ndarray, test_images: np.ndarray,
                        test_labels: np.ndarray, *, evaluation: dict, real: bool, groups: np.ndarray | None = None,
                        on_model: Callable | None = None, init_from=None, num_classes: int | None = None
                        ) -> tuple[dict, pd.DataFrame]:
    """The result record and the per-epoch curves of one CNN per ``evaluation.classifier_seeds``.

    Synthetic siblings share a group id (``groups``); the validation split keeps each group on one side.
    ``on_model(seed, model)`` receives every trained classifier; ``init_from`` (a SmallCNN) starts each one
    from that CNN's layers but the last. ``num_classes``: the CNN's outputs, the private set's classes (None: what
    the labels show).
    """
    if real and evaluation["real_max_samples"] is not None:
        train_images, train_labels = stratified_head(train_images, train_labels, evaluation["real_max_samples"])
    if evaluation["max_test_samples"] is not None:
        test_images, test_labels = stratified_head(test_images, test_labels, evaluation["max_test_samples"])
    result = run_downstream(train_images, train_labels, test_images, test_labels, seeds=evaluation["classifier_seeds"],
                            epochs=evaluation["real_epochs"] if real else evaluation["classifier_epochs"], groups=groups,
                            on_model=on_model, init_from=init_from,
                            **({} if num_classes is None else {"num_classes": int(num_classes)}))
    curves = pd.DataFrame([{"seed": seed, **row} for seed, history in result.pop("histories").items() for row in history])
    result["selected_epochs"] = {str(k): v for k, v in result["selected_epochs"].items()}
    result["trained_on"] = "real private training set, no privacy (reference ceiling)" if real else "synthetic set only"
    result["model_selection"] = ("best epoch by accuracy on a validation split carved from the training set"
                                 + ("" if groups is None else ", whole sibling groups (same PE parent) per side"))
    result["note"] = "accuracy on the real test split: evaluation, not part of the DP release"
    return result, curves
