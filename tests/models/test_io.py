"""Trained classifiers as artifacts: several classifier seeds in one safetensors file, loaded back exactly."""

import json

import numpy as np
import pytest
import torch

from privevo.models.classifier import SmallCNN
from privevo.models.io import load_classifier, save_classifier, save_classifiers


def _model(seed: int) -> SmallCNN:
    torch.manual_seed(seed)
    return SmallCNN(in_channels=1, num_classes=10).eval()


def _outputs(model: SmallCNN) -> np.ndarray:
    x = torch.linspace(-0.5, 0.5, 2 * 28 * 28).reshape(2, 1, 28, 28)
    with torch.no_grad():
        return model(x).numpy()


def test_every_seed_loads_back_to_the_same_function(tmp_path):
    models = {3: _model(3), 7: _model(7)}
    path = tmp_path / "classifiers.safetensors"
    save_classifiers(path, models, trained_on="synthetic")
    record = json.loads(path.with_suffix(".json").read_text())
    assert record["seeds"] == [3, 7] and record["trained_on"] == "synthetic"
    for seed, model in models.items():
        np.testing.assert_array_equal(_outputs(load_classifier(path, seed=seed)), _outputs(model))
    np.testing.assert_array_equal(_outputs(load_classifier(path)), _outputs(models[3]))  # the first seed
    assert not np.allclose(_outputs(models[3]), _outputs(models[7]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["classifiers.json", "classifiers.safetensors"]


def test_unknown_seed_and_missing_file_are_refused(tmp_path):
    path = tmp_path / "classifiers.safetensors"
    save_classifiers(path, {0: _model(0)})
    with pytest.raises(ValueError, match="seeds \\[0\\], not 5"):
        load_classifier(path, seed=5)
    with pytest.raises(FileNotFoundError, match="no classifier weights"):
        load_classifier(tmp_path / "absent.safetensors")


def test_one_model_file_still_loads(tmp_path):
    path = tmp_path / "model.safetensors"
    model = _model(1)
    save_classifier(path, model, seed=1)
    np.testing.assert_array_equal(_outputs(load_classifier(path)), _outputs(model))
