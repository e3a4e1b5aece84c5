"""Tests of the downstream classifier: training, model selection on a validation split, the protocol, input checks."""

import inspect

import numpy as np

from conftest import squares
import pytest
import torch

import privevo.models.classifier as clf
from privevo.io.images import ArtifactError
from privevo.models.classifier import (
    SmallCNN,
    evaluate,
    num_parameters,
    predict_proba,
    run_downstream,
    stratified_split,
    train_classifier,
)




@pytest.fixture(scope="module")
def trained():
    x, y = squares(30, seed=0)
    model, history = train_classifier(x, y, seed=0, epochs=4, progress=False)
    return model, history


def test_model_size_and_shape():
    m = SmallCNN(1, 10)
    assert 100_000 <= num_parameters(m) <= 300_000
    assert m(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    assert SmallCNN(3, 10, (32, 32))(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_separable_data_reaches_high_accuracy(trained):
    model, history = trained
    xt, yt = squares(10, seed=1)
    metrics = evaluate(model, xt, yt)
    assert metrics["accuracy"] > 0.9
    assert metrics["num_examples"] == 100 and len(metrics["per_class_accuracy"]) == 10
    assert np.isfinite(metrics["nll"]) and 0 <= metrics["brier"] <= 2
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    for h in history:
        assert set(h) >= {"epoch", "train_loss", "train_acc", "val_loss", "val_acc"}
        assert 0 <= h["val_acc"] <= 1 and 0 <= h["train_acc"] <= 1
    assert model.split_sizes == {"train": 270, "val": 30}
    assert not model.training


def test_selected_epoch_is_best_validation_epoch(trained):
    model, history = trained
    best = max(history, key=lambda h: (h["val_acc"], -h["val_loss"]))
    assert model.selected_epoch == best["epoch"]


def test_predict_proba(trained):
    model, _ = trained
    xt, _ = squares(2, seed=2)
    p = predict_proba(model, xt)
    assert p.dtype == np.float64 and p.shape == (20, 10)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-12)
    assert (p >= 0).all()


def test_same_seed_same_history_different_seed_differs():
    x, y = squares(8, seed=3)
    kw = dict(epochs=2, progress=False, augment=True, hflip=True, max_shift=2)
    m1, h1 = train_classifier(x, y, seed=5, **kw)
    m2, h2 = train_classifier(x, y, seed=5, **kw)
    _, h3 = train_classifier(x, y, seed=6, **kw)
    strip = lambda h: [{k: v for k, v in e.items() if k != "seconds"} for e in h]  # noqa: E731
    assert strip(h1) == strip(h2)
    assert strip(h1) != strip(h3)
    for a, b in zip(m1.state_dict().values(), m2.state_dict().values()):
        assert torch.equal(a, b)


def test_training_leaves_global_torch_rng_alone():
    x, y = squares(2, seed=4)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_classifier(x, y, seed=0, epochs=1, progress=False)
    assert torch.equal(torch.rand(3), expected)


def test_stratified_split():
    labels = np.repeat(np.arange(10), 50)
    tr, va = stratified_split(labels, 0.1, seed=0)
    assert np.bincount(labels[va], minlength=10).tolist() == [5] * 10
    assert np.intersect1d(tr, va).size == 0 and np.union1d(tr, va).size == 500
    tr2, va2 = stratified_split(labels, 0.1, seed=0)
    assert np.array_equal(va, va2)
    _, va3 = stratified_split(labels, 0.1, seed=1)
    assert not np.array_equal(va, va3)


def test_split_rule_for_tiny_and_unbalanced_classes():
    # class 0: 1 image -> none in validation; class 1: 4 -> 0 (0.4 rounds down); class 2: 5 -> 1; class 3: 20 -> 2
    labels = np.array([0] + [1] * 4 + [2] * 5 + [3] * 20)
    tr, va = stratified_split(labels, 0.1, seed=0)
    assert np.bincount(labels[va], minlength=4).tolist() == [0, 0, 1, 2]
    assert np.bincount(labels[tr], minlength=4).tolist() == [1, 4, 4, 18]
    # a class never loses its last training image, even with a large fraction
    small = np.array([0, 0, 1])
    tr, va = stratified_split(small, 0.9, seed=0)
    assert np.bincount(small[tr], minlength=2).tolist() == [1, 1]
    assert np.bincount(small[va], minlength=2).tolist() == [1, 0]
    with pytest.raises(ValueError):
        stratified_split(small, 1.0, seed=0)


def test_tiny_set_without_validation_keeps_last_epoch():
    x, y = squares(1, seed=5)  # one image per class: no validation set possible
    model, history = train_classifier(x, y, seed=0, epochs=2, progress=False)
    assert model.split_sizes == {"train": 10, "val": 0}
    assert model.selected_epoch == 2
    assert all(h["val_acc"] is None and h["val_loss"] is None for h in history)
    # classes missing entirely are fine too, given the data's class count; without it the labels decide
    model, _ = train_classifier(x[y < 3], y[y < 3], seed=0, epochs=1, progress=False, num_classes=10)
    assert predict_proba(model, x).shape == (10, 10)
    model, _ = train_classifier(x[y < 3], y[y < 3], seed=0, epochs=1, progress=False)
    assert model.num_classes == 3


def test_training_never_sees_test_data(monkeypatch):
    assert not any("test" in name for name in inspect.signature(train_classifier).parameters)
    x, y = squares(3, seed=6)
    xt, yt = squares(2, seed=7)
    seen = []
    real = clf.train_classifier

    def spy(images, labels, **kw):
        seen.append((images, labels))
        return real(images, labels, **kw)

    monkeypatch.setattr(clf, "train_classifier", spy)
    out = run_downstream(x, y, xt, yt, seeds=[0, 1], epochs=1, progress=False)
    assert len(seen) == 2 and all(imgs is x and labs is y for imgs, labs in seen)
    assert out["num_train"] == 30 and out["num_test"] == 20 and out["seeds"] == [0, 1]
    assert out["std_ddof"] == 1
    assert out["accuracy_std"] == pytest.approx(np.std(out["accuracies"], ddof=1))
    assert out["accuracy_mean"] == pytest.approx(np.mean(out["accuracies"]))
    assert set(out["histories"]) == {0, 1} and len(out["histories"][0]) == 1
    single = run_downstream(x, y, xt, yt, seeds=[3], epochs=1, progress=False)
    assert single["std_ddof"] == 0 and single["accuracy_std"] == 0.0


def test_invalid_inputs(trained):
    model, _ = trained
    x, y = squares(1, seed=8)
    with pytest.raises(ArtifactError, match="train_images: images must be 4-d"):
        train_classifier(x[..., 0], y, seed=0, epochs=1)  # missing channel axis
    with pytest.raises(ArtifactError, match="train_images: images must have dtype uint8"):
        train_classifier(x.astype(np.float32), y, seed=0, epochs=1)
    with pytest.raises(ArtifactError, match="train_images: images must be at least 8x8"):
        train_classifier(x[:, :7, :7], y, seed=0, epochs=1)
    with pytest.raises(ArtifactError, match="train_images: no images"):
        train_classifier(x[:0], y[:0], seed=0, epochs=1)
    with pytest.raises(ArtifactError, match="train_labels: expected 10 labels"):
        train_classifier(x, y[:-1], seed=0, epochs=1)
    with pytest.raises(ArtifactError, match=r"train_labels: labels must be in 0\.\.9"):
        train_classifier(x, y + 5, seed=0, epochs=1, num_classes=10)  # label 14 out of range
    with pytest.raises(ArtifactError, match="train_labels: labels must be integers"):
        train_classifier(x, y.astype(np.float64), seed=0, epochs=1)
    with pytest.raises(ArtifactError, match=r"images: expected images of shape \(N, 28, 28, 1\)"):
        predict_proba(model, np.zeros((2, 32, 32, 1), np.uint8))
    with pytest.raises(ArtifactError, match="labels: expected 10 labels"):
        evaluate(model, x, y[:3])
    with pytest.raises(ArtifactError, match=r"test_images: expected images of shape \(N, 28, 28, 1\)"):
        run_downstream(x, y, np.zeros((2, 32, 32, 1), np.uint8), y[:2], seeds=[0], epochs=1)
    with pytest.raises(ValueError, match="seeds must not be empty"):
        run_downstream(x, y, x, y, seeds=[], epochs=1)
    assert evaluate(model, x, y.tolist())["num_examples"] == 10  # labels given as a list still work


def test_augment_shapes_and_flip():
    g = np.random.default_rng(0)
    x = torch.rand(16, 1, 28, 28) - 0.5
    out = clf._augment(x, g, max_shift=2, hflip=False)
    assert out.shape == x.shape
    # a centred blob moved by at most 2 px keeps all its mass
    blob = torch.full((4, 1, 28, 28), -0.5)
    blob[:, :, 10:18, 10:18] = 0.5
    shifted = clf._augment(blob, g, max_shift=2, hflip=True)
    assert torch.allclose((shifted + 0.5).sum((1, 2, 3)), (blob + 0.5).sum((1, 2, 3)))
    assert torch.equal(clf._augment(blob, g, max_shift=0, hflip=False), blob)


def test_grouped_split_keeps_each_group_on_one_side():
    from privevo.models.classifier import stratified_split

    labels = np.repeat(np.arange(3), 40)
    groups = np.arange(120) // 4  # ten sibling groups of four per class
    train, val = stratified_split(labels, 0.2, seed=3, groups=groups)
    assert set(groups[train]).isdisjoint(groups[val])
    assert len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == 120
    for c in range(3):
        assert (labels[val] == c).sum() == 8  # two whole groups reach the 20% target exactly
    with pytest.raises(ValueError, match="one entry per label"):
        stratified_split(labels, 0.2, seed=3, groups=groups[:-1])
