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


def save_classifiers(weights_path: str | Path, models: dict[int, SmallCNN], **record) -> None:
    """The classifiers of several classifier seeds (same architecture) in one file: tensor names are prefixed
    ``seed_<s>/``, and ``model.json``'s ``seeds`` lists them in training order."""
    from safetensors.torch import save_file

    if not models:
        raise ValueError("no classifiers to save")
    configs = {json.dumps(classifier_config(m), sort_keys=True) for m in models.values()}
    if len(configs) != 1:
        raise ValueError("classifiers saved in one file must share one architecture")
    state = {f"seed_{int(seed)}/{name}": tensor.detach().cpu().contiguous()
             for seed, model in models.items() for name, tensor in model.state_dict().items()}
    with atomic_path(weights_path, suffix=".safetensors") as tmp:
        save_file(state, str(tmp))
    first = next(iter(models.values()))
    save_json(Path(weights_path).with_suffix(".json"),
              {"config": classifier_config(first), "seeds": [int(s) for s in models], **record})


def load_classifier(weights_path: str | Path, seed: int | None = None) -> SmallCNN:
    """The classifier saved by :func:`save_classifier`, or the one of classifier ``seed`` (default: the first)
    from a file written by :func:`save_classifiers` (``seed`` is ignored for a one-model file); in eval mode."""
    from safetensors.torch import load_file

    weights_path = Path(weights_path)
    if not weights_path.exists():
        raise FileNotFoundError(f"no classifier weights at {weights_path}")
    record = json.loads(weights_path.with_suffix(".json").read_text())
    config = record["config"]
    if config["architecture"] != SmallCNN.__name__:
        raise ValueError(f"{weights_path}: unknown architecture {config['architecture']!r}")
    model = SmallCNN(in_channels=config["in_channels"], num_classes=config["num_classes"],
                     input_hw=tuple(config["input_hw"]))
    state = load_file(str(weights_path))
    if "seeds" in record:
        seed = record["seeds"][0] if seed is None else int(seed)
        if seed not in record["seeds"]:
            raise ValueError(f"{weights_path} holds classifier seeds {record['seeds']}, not {seed}")
        prefix = f"seed_{seed}/"
        state = {name[len(prefix):]: tensor for name, tensor in state.items() if name.startswith(prefix)}
    model.load_state_dict(state)
    return model.eval()
