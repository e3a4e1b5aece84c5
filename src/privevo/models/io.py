"""Trained classifiers as artifacts: safetensors weights plus a JSON config, so any of them can be evaluated
again without retraining (and without pickles)."""

from __future__ import annotations

import json
from pathlib import Path

from privevo.io.artifacts import atomic_path, save_json
from privevo.models.classifier import SmallCNN


def classifier_config(model: SmallCNN) -> dict:
    height, width, channels = model.input_shape
    return {"architecture": type(model).__name__, "in_channels": channels, "num_classes": model.num_classes,
            "input_hw": [height, width]}


def save_classifier(weights_path: str | Path, model: SmallCNN, **record) -> None:
    """Write ``model.safetensors`` and, next to it, ``model.json`` (its config plus ``record``)."""
    from safetensors.torch import save_file

    state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    with atomic_path(weights_path, suffix=".safetensors") as tmp:
        save_file(state, str(tmp))
    save_json(Path(weights_path).with_suffix(".json"), {"config": classifier_config(model), **record})


def load_classifier(weights_path: str | Path) -> SmallCNN:
    """The classifier saved by :func:`save_classifier`, in eval mode."""
    from safetensors.torch import load_file

    config = json.loads(Path(weights_path).with_suffix(".json").read_text())["config"]
    if config["architecture"] != SmallCNN.__name__:
        raise ValueError(f"{weights_path}: unknown architecture {config['architecture']!r}")
    model = SmallCNN(in_channels=config["in_channels"], num_classes=config["num_classes"],
                     input_hw=tuple(config["input_hw"]))
    model.load_state_dict(load_file(str(weights_path)))
    return model.eval()
