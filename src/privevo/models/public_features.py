"""A CNN trained on the public set's own labels (animal class, digit, shape kind, or the source where a
source has none), used as the feature extractor that the "public + PE" downstream CNN starts from.

It sees public data only, so the downstream CNN built on it costs no privacy beyond PE's release."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from privevo.models.classifier import SmallCNN, train_classifier

logger = logging.getLogger(__name__)


def public_classes(source_ids: np.ndarray, source_labels: np.ndarray, source_names: list[str]
                   ) -> tuple[np.ndarray, list[str]]:
    """One class per (source, label) pair; a source without labels (label -1) is one class of its own.
    Returns the class index of every image and the class names ("mnist5k/3", "procedural_shapes")."""
    source_ids = np.asarray(source_ids, dtype=np.int64)
    source_labels = np.asarray(source_labels, dtype=np.int64)
    if source_ids.shape != source_labels.shape:
        raise ValueError(f"{source_ids.size} source ids but {source_labels.size} source labels")
    pairs = sorted(set(zip(source_ids.tolist(), source_labels.tolist())))
    index = {pair: i for i, pair in enumerate(pairs)}
    classes = np.array([index[pair] for pair in zip(source_ids.tolist(), source_labels.tolist())], dtype=np.int64)
    names = [source_names[s] if label < 0 else f"{source_names[s]}/{label}" for s, label in pairs]
    return classes, names


def train_public_classifier(images: np.ndarray, source_ids: np.ndarray, source_labels: np.ndarray,
                            source_names: list[str], *, seed: int, epochs: int,
                            max_samples: int | None = None) -> tuple[SmallCNN, dict[str, Any]]:
    """The SmallCNN trained on the public classes of :func:`public_classes` (model selection on a split of the
    public set itself); returns the model and a JSON-ready record."""
    classes, names = public_classes(source_ids, source_labels, source_names)
    if max_samples is not None and images.shape[0] > max_samples:
        from privevo.core.seeding import rng

        keep = np.sort(rng(seed, role="classifier", iteration=1).choice(images.shape[0], max_samples, replace=False))
        images, classes = images[keep], classes[keep]
    model, history = train_classifier(images, classes, seed=seed, epochs=epochs, num_classes=len(names))
    record = {"trained_on": "public set only, with its own labels (no private data)", "num_images": int(images.shape[0]),
              "num_classes": len(names), "class_names": names, "epochs": int(epochs), "seed": int(seed),
              "selected_epoch": int(model.selected_epoch),
              "val_acc": history[model.selected_epoch - 1]["val_acc"]}
    logger.info("public CNN: %d images, %d classes, kept epoch %d (val acc %s)", images.shape[0], len(names),
                model.selected_epoch, record["val_acc"])
    return model, record
