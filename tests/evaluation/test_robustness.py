"""Robustness measures: calibration golden values, corruption properties, attack invariants, OOD AUROC, and the
orchestrating evaluate_robustness on a tiny setting."""

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from privevo.evaluation.robustness import (
    CORRUPTIONS,
    ECE_BINS,
    adversarial_accuracy,
    brier_score,
    calibration_summary,
    corrupt,
    energy_score,
    evaluate_robustness,
    expected_calibration_error,
    match_model_input,
    msp_score,
    negative_log_likelihood,
    ood_auroc,
    pgd_step_size,
    reliability_bins,
    save_reliability_diagram,
)
from privevo.evaluation.robustness.attacks import UnitRangeModel, _worst_case, to_unit_range
from privevo.models.classifier import SmallCNN, _to_tensor

# --------------------------------------------------------------------------------------------
# calibration


def confident_probs(labels, confidence, correct, num_classes=10):
    """Rows with ``confidence`` on the true class (if ``correct``) or on the next class, the rest spread evenly."""
    n = labels.size
    probs = np.full((n, num_classes), (1.0 - confidence) / (num_classes - 1))
    top = np.where(correct, labels, (labels + 1) % num_classes)
    probs[np.arange(n), top] = confidence
    return probs


def test_ece_is_zero_when_confidence_matches_accuracy():
    labels = np.arange(100) % 10
    correct = np.arange(100) < 80  # 80% right at confidence 0.8
    probs = confident_probs(labels, 0.8, correct)
    assert expected_calibration_error(probs, labels) == pytest.approx(0.0, abs=1e-6)


def test_ece_of_an_overconfident_model_is_the_gap():
    labels = np.arange(100) % 10
    probs = confident_probs(labels, 0.9, np.arange(100) < 50)  # 90% confident, 50% right
    assert expected_calibration_error(probs, labels) == pytest.approx(0.4, abs=1e-6)


def test_brier_and_nll_golden_values():
    labels = np.array([0, 3, 9, 9])
    onehot = np.eye(10)[labels]
    assert brier_score(onehot, labels) == 0.0
    assert negative_log_likelihood(onehot, labels) == 0.0
    uniform = np.full((4, 10), 0.1)
    assert brier_score(uniform, labels) == pytest.approx(0.81 + 9 * 0.01)
    assert negative_log_likelihood(uniform, labels) == pytest.approx(math.log(10))
    wrong = np.eye(10)[(labels + 1) % 10]  # confidently wrong: Brier 2, NLL finite (clipped) but huge
    assert brier_score(wrong, labels) == pytest.approx(2.0)
    assert 700 < negative_log_likelihood(wrong, labels) < np.inf


def test_reliability_bins_reproduce_torchmetrics_ece():
    r = np.random.default_rng(0)
    logits = r.normal(size=(500, 10)) * 3
    probs = torch.softmax(torch.from_numpy(logits), 1).numpy()
    labels = r.integers(0, 10, 500)
    bins = reliability_bins(probs, labels)
    assert len(bins) == ECE_BINS
    assert sum(b["count"] for b in bins) == 500
    assert bins[0]["lower"] == 0.0 and bins[-1]["upper"] == 1.0
    for b in bins:
        if b["count"]:
            assert b["lower"] <= b["confidence"] <= b["upper"]
    recomputed = sum(b["count"] / 500 * abs(b["accuracy"] - b["confidence"]) for b in bins if b["count"])
    assert recomputed == pytest.approx(expected_calibration_error(probs, labels), abs=1e-6)
    summary = calibration_summary(probs, labels)
    assert summary["ece_bins"] == ECE_BINS and summary["num_confidence_one"] == 0
    assert summary["accuracy"] == pytest.approx((probs.argmax(1) == labels).mean())
    json.dumps(summary)


def test_confidence_one_lands_in_the_last_bin():
    labels = np.arange(20) % 10
    probs = np.eye(10)[labels]
    probs[:5] = np.eye(10)[(labels[:5] + 1) % 10]  # 15 right and 5 wrong, all at confidence 1
    bins = reliability_bins(probs, labels)
    assert [b["count"] for b in bins] == [0] * (ECE_BINS - 1) + [20]
    assert bins[-1]["accuracy"] == 0.75 and bins[-1]["confidence"] == 1.0
    summary = calibration_summary(probs, labels)
    assert summary["num_confidence_one"] == 20 and summary["ece"] == pytest.approx(0.25)


def test_calibration_rejects_logits_and_bad_labels():
    labels = np.zeros(3, dtype=np.int64)
    with pytest.raises(ValueError, match="logits"):
        expected_calibration_error(np.full((3, 10), 2.0), labels)
    with pytest.raises(ValueError, match="sum to 1"):
        brier_score(np.full((3, 10), 0.5), labels)
    with pytest.raises(ValueError, match="labels"):
        brier_score(np.full((3, 10), 0.1), np.array([0, 1, 10]))


def test_reliability_diagram_is_written_atomically(tmp_path):
    labels = np.arange(50) % 10
    probs = confident_probs(labels, 0.7, np.arange(50) < 30)
    path = tmp_path / "plots" / "reliability.png"
    save_reliability_diagram(path, reliability_bins(probs, labels), ece=0.1)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in path.parent.iterdir()] == ["reliability.png"]  # no temporary file left behind


# --------------------------------------------------------------------------------------------
# corruptions


def textured(n, channels, seed=0):
    """Mid-grey images with a smooth texture and mild noise, so every corruption changes them measurably."""
    r = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:28, 0:28]
    images = []
    for k in range(n):
        base = 128 + 50 * np.sin(xx / (2 + k) + k) * np.cos(yy / (3 + k)) + r.normal(0, 10, (28, 28))
        images.append(np.clip(base, 0, 255))
    grey = np.array(images)[..., None].astype(np.uint8)
    return grey if channels == 1 else np.concatenate([grey, np.roll(grey, 3, axis=1), 255 - grey], axis=-1)


def mean_abs_change(name, images, seed=0):
    """(severity, image) mean absolute change from the clean images."""
    return np.array([np.abs(corrupt(images, name, s, seed).astype(float) - images).mean(axis=(1, 2, 3))
                     for s in range(1, 6)])


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", CORRUPTIONS)
def test_corruption_strength_grows_with_severity(name, channels):
    change = mean_abs_change(name, textured(6, channels))
    assert change[0].min() > 0.5  # severity 1 already changes every image
    # Over a handful of images the change never decreases with severity, for every corruption.
    assert (np.diff(change.mean(axis=1)) > 0).all(), change.mean(axis=1)
    if name not in ("jpeg_compression", "pixelate"):
        # Per image too, except for JPEG (a coarser quantiser can round a coefficient closer to its value) and
        # pixelate (28 px -> 8 vs 7 px blocks: one block grid can fit a texture better than a finer one); both
        # dip by < 1 grey level on a few % of images, so only their mean is monotone.
        assert (np.diff(change, axis=0) >= 0).all(), change


@pytest.mark.parametrize("channels", [1, 3])
def test_corrupt_keeps_shape_dtype_and_is_deterministic(channels):
    images = textured(3, channels)
    before = np.random.get_state()[1].copy()
    for name in CORRUPTIONS:
        out = corrupt(images, name, 3, seed=7)
        assert out.dtype == np.uint8 and out.shape == images.shape
        np.testing.assert_array_equal(out, corrupt(images, name, 3, seed=7))
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # the global numpy RNG is left as it was
    noisy = [corrupt(images, "gaussian_noise", 3, seed=s) for s in (7, 8)]
    assert not np.array_equal(*noisy)


def test_grey_images_get_channel_0_of_the_rgb_result():
    grey = textured(2, 1)
    rgb = np.repeat(grey, 3, axis=-1)
    for name in CORRUPTIONS:
        out_rgb = corrupt(rgb, name, 4, seed=0)
        # Same draws, so a grey image gets exactly the R channel: noise keeps the library's per-pixel strength.
        np.testing.assert_array_equal(corrupt(grey, name, 4, seed=0), out_rgb[..., :1])
        if name not in ("gaussian_noise", "shot_noise"):
            np.testing.assert_array_equal(out_rgb[..., 0], out_rgb[..., 2])  # the channel choice does not matter


def test_corrupt_rejects_unknown_names_and_severities():
    images = textured(1, 1)
    with pytest.raises(ValueError, match="unknown corruption"):
        corrupt(images, "fog_of_war", 1, 0)
    with pytest.raises(ValueError, match="severity"):
        corrupt(images, "contrast", 6, 0)


# --------------------------------------------------------------------------------------------
# attacks


class LinearNet(nn.Module):
    """A softmax regression on pixels with SmallCNN's input convention; trains in a blink and is easy to attack."""

    num_classes = 10

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(28 * 28, 10)

    def forward(self, x):
        return self.fc(x.flatten(1))


def faint_squares(per_class, seed):
    """Class c = a faint 6x6 square at position c on a noisy mid-grey background (learnable but not robust)."""
    r = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10), per_class)
    images = r.integers(90, 130, (labels.size, 28, 28, 1)).astype(np.uint8)
    for i, c in enumerate(labels):
        y, x = 3 + 13 * (c // 5), 1 + 5 * (c % 5)
        images[i, y : y + 6, x : x + 6, 0] = 150
    return images, labels


@pytest.fixture(scope="module")
def trained_linear():
    images, labels = faint_squares(10, 0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = LinearNet()
        opt = torch.optim.Adam(model.parameters(), lr=0.05)
        x, y = _to_tensor(images), torch.from_numpy(labels)
        for _ in range(100):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


@pytest.fixture(scope="module")
def small_cnn():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return SmallCNN(in_channels=1, num_classes=10).eval()


def per_example_loss(model, x01, labels):
    with torch.no_grad():
        return F.cross_entropy(UnitRangeModel(model)(x01), torch.from_numpy(labels), reduction="none")


def test_unit_range_wrapper_feeds_the_classifier_its_own_preprocessing(small_cnn):
    images, _ = faint_squares(1, 3)
    with torch.no_grad():
        torch.testing.assert_close(UnitRangeModel(small_cnn)(to_unit_range(images)), small_cnn(_to_tensor(images)))


@pytest.mark.parametrize("model_name", ["trained_linear", "small_cnn"])
def test_pgd_stays_in_the_ball_and_never_lowers_the_loss(model_name, request):
    model = request.getfixturevalue(model_name)
    images, labels = faint_squares(2, 1)
    eps = 8 / 255
    result = adversarial_accuracy(model, images, labels, attack="pgd", epsilon=eps, steps=5, seed=0, batch_size=8,
                                  return_images=True)
    adv = torch.from_numpy(result["images"]).permute(0, 3, 1, 2)
    clean = to_unit_range(images)
    assert adv.dtype == torch.float32 and adv.shape == clean.shape
    assert (adv - clean).abs().max() <= eps + 1e-6
    assert adv.min() >= 0.0 and adv.max() <= 1.0
    loss_clean, loss_adv = per_example_loss(model, clean, labels), per_example_loss(model, adv, labels)
    assert (loss_adv >= loss_clean - 1e-6).all()
    assert loss_adv.mean() > loss_clean.mean()  # the attack does something on average
    assert result["step_size"] == pytest.approx(2.5 * eps / 5) == pytest.approx(pgd_step_size(eps, 5))
    assert result["random_start"] and result["steps"] == 5 and result["num_examples"] == 20


def test_attacks_lower_accuracy_reproducibly_and_leave_rng_and_mode_alone(trained_linear):
    images, labels = faint_squares(3, 2)
    clean = float((UnitRangeModel(trained_linear)(to_unit_range(images)).argmax(1).numpy() == labels).mean())
    assert clean >= 0.9  # the tiny model did learn the task
    state = torch.get_rng_state()
    fgsm = adversarial_accuracy(trained_linear, images, labels, attack="fgsm", epsilon=8 / 255, seed=0)
    pgd = adversarial_accuracy(trained_linear, images, labels, attack="pgd", epsilon=8 / 255, steps=10, seed=0)
    again = adversarial_accuracy(trained_linear, images, labels, attack="pgd", epsilon=8 / 255, steps=10, seed=0)
    assert torch.equal(torch.get_rng_state(), state)
    assert fgsm["clean_accuracy"] == pytest.approx(clean)
    assert fgsm["accuracy"] <= clean and pgd["accuracy"] <= clean
    assert pgd["accuracy"] < clean  # 8/255 is enough to break a linear model on faint squares
    assert again == pgd
    assert not trained_linear.training
    trained_linear.train()
    adversarial_accuracy(trained_linear, images[:4], labels[:4], attack="fgsm", epsilon=2 / 255, seed=0)
    assert trained_linear.training  # the caller's mode comes back as it was
    trained_linear.eval()


def test_a_point_better_than_the_clean_image_is_not_scored(trained_linear):
    images, labels = faint_squares(2, 4)
    labels[:4] = (labels[:4] + 1) % 10  # wrong labels: the model is "wrong" on these clean images
    clean = to_unit_range(images).requires_grad_(True)
    wrapped = UnitRangeModel(trained_linear)
    grad, = torch.autograd.grad(F.cross_entropy(wrapped(clean), torch.from_numpy(labels)), clean)
    helpful = (clean - 24 / 255 * grad.sign()).clamp(0, 1).detach()  # walks *down* the loss
    clean = clean.detach()
    assert (per_example_loss(trained_linear, helpful, labels) < per_example_loss(trained_linear, clean, labels)).all()
    with torch.no_grad():
        assert (wrapped(helpful).argmax(1)[:4] == torch.from_numpy(labels[:4])).any()  # "fixed" by the perturbation
    scored, correct, clean_correct, kept = _worst_case(wrapped, clean, helpful, torch.from_numpy(labels))
    assert kept.all() and torch.equal(scored, clean)
    assert torch.equal(correct, clean_correct) and not clean_correct[:4].any()


def test_attack_arguments_are_checked(trained_linear):
    images, labels = faint_squares(1, 0)
    with pytest.raises(ValueError, match="unknown attack"):
        adversarial_accuracy(trained_linear, images, labels, attack="cw", epsilon=0.1, seed=0)
    with pytest.raises(ValueError, match="epsilon"):
        adversarial_accuracy(trained_linear, images, labels, attack="pgd", epsilon=8, seed=0)


# --------------------------------------------------------------------------------------------
# out-of-distribution detection


def test_scores_golden_values():
    logits = np.array([[0.0, 0.0], [math.log(3.0), 0.0]])
    np.testing.assert_allclose(msp_score(logits), [0.5, 0.75])
    np.testing.assert_allclose(energy_score(logits), [math.log(2.0), math.log(4.0)])


def test_auroc_separable_identical_and_large_energies():
    r = np.random.default_rng(0)
    scores = r.normal(size=200)
    assert ood_auroc(scores + 10, scores - 10) == pytest.approx(1.0)
    assert ood_auroc(scores - 10, scores + 10) == pytest.approx(0.0)
    assert ood_auroc(scores, scores) == pytest.approx(0.5, abs=1e-6)
    # Energies of confident models run far past where a sigmoid saturates; the order must still count.
    assert ood_auroc(np.arange(50.0, 60.0), np.arange(40.0, 50.0)) == pytest.approx(1.0)


def test_match_model_input_converts_channels_and_size():
    r = np.random.default_rng(0)
    rgb32 = r.integers(0, 256, (3, 32, 32, 3)).astype(np.uint8)
    grey = match_model_input(rgb32, (28, 28, 1))
    assert grey.shape == (3, 28, 28, 1) and grey.dtype == np.uint8
    flat = np.full((2, 28, 28, 3), (100, 200, 50), dtype=np.uint8)
    np.testing.assert_array_equal(match_model_input(flat, (28, 28, 1)), 153)  # ITU-R 601 luma: .299 R + .587 G + .114 B
    grey28 = r.integers(0, 256, (2, 28, 28, 1)).astype(np.uint8)
    np.testing.assert_array_equal(match_model_input(grey28, (28, 28, 3)), np.repeat(grey28, 3, axis=-1))
    assert match_model_input(grey28, (28, 28, 1)) is grey28


# --------------------------------------------------------------------------------------------
# everything together


def test_evaluate_robustness_tiny(trained_linear):
    images, labels = faint_squares(2, 5)
    labels[:3] = (labels[:3] + 1) % 10  # so that clean accuracy is below 1 and the relative drop is informative
    r = np.random.default_rng(0)
    ood = {"rgb": r.integers(0, 256, (8, 32, 32, 3)).astype(np.uint8), "same": images.copy()}
    kwargs = dict(seed=0, corruption_names=("gaussian_noise", "contrast"), severities=(1, 5),
                  attack_budgets=(8 / 255,), pgd_steps=2, attack_max_samples=6, batch_size=8)
    summary, rows = evaluate_robustness(trained_linear, images, labels, ood, **kwargs)
    json.dumps(summary)
    json.dumps(rows)

    assert summary["num_test"] == 20 and summary["calibration"]["ece_bins"] == ECE_BINS
    assert len(summary["calibration"]["reliability"]) == ECE_BINS
    corr = summary["corruptions"]
    assert set(corr["accuracy"]) == {"gaussian_noise", "contrast"} and set(corr["accuracy"]["contrast"]) == {"1", "5"}
    mean = np.mean([a for acc in corr["accuracy"].values() for a in acc.values()])
    assert corr["mean_accuracy"] == pytest.approx(mean)
    assert 0.5 < summary["clean_accuracy"] < 1
    assert corr["relative_drop"] == pytest.approx((summary["clean_accuracy"] - mean) / summary["clean_accuracy"])
    adv = summary["adversarial"]
    assert adv["num_samples"] == 6 and [(a["attack"], a["epsilon"]) for a in adv["results"]] == [
        ("fgsm", 8 / 255), ("pgd", 8 / 255)]
    assert adv["results"][1]["step_size"] == pytest.approx(2.5 * (8 / 255) / 2)
    for result in adv["results"]:
        assert result["accuracy"] <= result["clean_accuracy"] == adv["clean_accuracy_subsample"]
    assert summary["ood"]["sets"]["rgb"]["converted"] and not summary["ood"]["sets"]["same"]["converted"]
    assert summary["ood"]["sets"]["same"]["auroc"]["msp"] == pytest.approx(0.5, abs=1e-6)

    assert all(set(row) == {"metric", "corruption", "severity", "value"} for row in rows)
    metrics = {row["metric"] for row in rows}
    assert {"clean_accuracy", "ece", "nll", "brier", "corruption_accuracy", "mean_corruption_accuracy",
            "relative_corruption_drop", "fgsm_accuracy@8/255", "pgd_accuracy@8/255", "ood_auroc_msp@rgb",
            "ood_auroc_energy@same"} <= metrics
    assert sum(row["metric"] == "corruption_accuracy" for row in rows) == 4
    assert all(row["severity"] is None for row in rows if row["metric"] != "corruption_accuracy")
    assert all(row["corruption"] is None for row in rows if "corruption" not in row["metric"])

    # Reproducible from the seed.
    assert evaluate_robustness(trained_linear, images, labels, ood, **kwargs)[1] == rows
