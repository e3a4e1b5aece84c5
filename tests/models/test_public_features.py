"""The "public + PE" feature extractor: public classes from the public set's own labels, and a transfer that
keeps every layer but the last."""

import numpy as np
import pytest
import torch

from privevo.models.classifier import SmallCNN, train_classifier, transfer_features
from privevo.models.public_features import public_classes, train_public_classifier

from conftest import squares


def test_public_classes_pair_source_and_label():
    classes, names = public_classes(np.array([0, 0, 1, 2, 2]), np.array([3, 5, -1, 0, 3]), ["digits", "shapes", "animals"])
    assert names == ["digits/3", "digits/5", "shapes", "animals/0", "animals/3"]
    assert classes.tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="5 source ids but 4"):
        public_classes(np.zeros(5), np.zeros(4), ["a"])


def test_transfer_keeps_every_layer_but_the_last():
    torch.manual_seed(0)
    source = SmallCNN(1, 7)
    torch.manual_seed(1)
    target = SmallCNN(1, 10)
    before_last = target.head[3].weight.detach().clone()
    transfer_features(source, target)
    for name, tensor in source.state_dict().items():
        if not name.startswith("head.3."):
            assert torch.equal(tensor, target.state_dict()[name]), name
    assert torch.equal(target.head[3].weight, before_last) and target.head[3].weight.shape == (10, 128)
    with pytest.raises(ValueError, match="cannot transfer"):
        transfer_features(SmallCNN(in_channels=3, num_classes=10), target)


def test_training_from_public_features_starts_from_them_and_leaves_them_alone():
    images, labels = squares(6, seed=0)
    public, record = train_public_classifier(images, np.zeros(len(labels), dtype=np.int64), labels, ["squares"],
                                             seed=0, epochs=1)
    assert record["num_classes"] == 10 and record["trained_on"].startswith("public set only")
    kept = {k: v.clone() for k, v in public.state_dict().items()}
    scratch, _ = train_classifier(images, labels, seed=3, epochs=1, lr=1e-9)
    started, _ = train_classifier(images, labels, seed=3, epochs=1, lr=1e-9, init_from=public)
    first = "features.0.0.weight"
    assert torch.allclose(started.state_dict()[first], kept[first], atol=1e-6)
    assert not torch.allclose(scratch.state_dict()[first], kept[first], atol=1e-3)
    assert all(torch.equal(v, public.state_dict()[k]) for k, v in kept.items())


def test_cli_public_classifier_then_public_plus_pe_downstream(tmp_path):
    import json

    import yaml

    from privevo.cli import main
    from privevo.io.artifacts import save_images
    from privevo.models.io import load_classifier

    from conftest import ROOT, write_params

    params = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    params["mixing"]["public_epochs"] = 1
    params["evaluation"].update(classifier_seeds=[0, 1], classifier_epochs=1)
    params_file = write_params(tmp_path / "params.yaml", params)
    images, labels = squares(6, seed=0)
    save_images(tmp_path / "public.npz", images, np.zeros(len(labels), dtype=np.int64),
                source_names=np.array(["squares"]), source_labels=labels)
    save_images(tmp_path / "train.npz", images, labels)
    save_images(tmp_path / "test.npz", *squares(3, seed=1))
    assert main(["public-classifier", "--params", str(params_file), "--public", str(tmp_path / "public.npz"),
                 "--out", str(tmp_path / "public.safetensors")]) == 0
    assert json.loads((tmp_path / "public.json").read_text())["class_names"][:2] == ["squares/0", "squares/1"]
    out = tmp_path / "public_pe"
    assert main(["eval-downstream", "--params", str(params_file), "--train", str(tmp_path / "train.npz"),
                 "--test", str(tmp_path / "test.npz"), "--init-classifier", str(tmp_path / "public.safetensors"),
                 "--out", str(out / "downstream.json"), "--out-curves", str(out / "c.csv"), "--out-png", str(out / "c.png"),
                 "--out-classifiers", str(out / "classifiers.safetensors")]) == 0
    result = json.loads((out / "downstream.json").read_text())
    assert "public + PE" in result["trained_on"] and len(result["accuracies"]) == 2
    assert load_classifier(out / "classifiers.safetensors", seed=1).num_classes == 10
