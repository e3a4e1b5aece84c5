"""DP-SGD training: the stated epsilon, its three accountants, the record, sampling and secret noise (the one DP
noise policy of privevo.pe.noise: OS entropy by default, privacy.secure_noise for the secure draw)."""

import json
import logging
import re
from pathlib import Path

import numpy as np

from conftest import squares
import pytest
import torch

import privevo.models.dpsgd as dpsgd_model
from privevo.models.classifier import SmallCNN, evaluate, num_parameters
from privevo.models.dpsgd import SHUFFLED_WARNING, train_dpsgd
from privevo.models.dpsgd_settings import SELECTED_ON_PRIVATE_DATA, SELECTED_ON_PRIVATE_DATA_STATUS
from privevo.pe.noise import EntropyNoise, ReproducibleNoise, SecureNoise, dp_noise_source


TINY = dict(epsilon=3.0, delta=1e-5, epochs=1, expected_batch_size=60, physical_batch_size=32, max_grad_norm=1.0,
            learning_rate=0.5, progress=False)


@pytest.fixture(scope="module")
def data():
    return squares(60, seed=0)  # 600 images


@pytest.fixture(scope="module")
def run(data):
    x, y = data
    return train_dpsgd(x, y, seed=0, **TINY)


def test_epsilon_meets_target_and_accountants_agree(run):
    _, record = run
    assert record["target_epsilon"] == 3.0
    assert 3.0 * 0.95 <= record["epsilon"] <= 3.0
    assert record["accountant_epsilon_after_training"] == pytest.approx(record["accountant_epsilon"], rel=1e-9)
    assert record["cross_check"]["epsilon"] == pytest.approx(record["epsilon"], rel=0.05)
    assert record["opacus_check"]["epsilon"] == pytest.approx(record["epsilon"], rel=0.05)
    assert record["epsilon"] >= 0.99 * record["cross_check"]["epsilon"]


def test_record_lists_everything_that_changes_epsilon(run):
    model, record = run
    json.dumps(record)
    for key in ("sampling", "sample_rate", "steps", "epochs", "expected_batch_size", "physical_batch_size",
                "noise_multiplier", "max_grad_norm", "learning_rate", "optimizer", "accountant", "epsilon",
                "cross_check", "opacus_check", "delta", "num_parameters", "wall_seconds", "model_selection",
                "warnings", "data_set_size", "selected_on_private_data"):
        assert key in record, key
    assert record["sampling"] == "poisson" and record["warnings"] == []
    assert record["sample_rate"] == pytest.approx(60 / 600)
    assert record["steps"] == record["epochs"] * record["steps_per_epoch"] == 10
    assert record["num_parameters"] == num_parameters(model) == num_parameters(SmallCNN(1, 10))
    assert "last" in record["model_selection"]
    assert record["noise_multiplier"] > 0.5


def _walk(value, path=()):
    """Every (path, leaf) of a JSON-ready value; dict keys are part of the path."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, path + (key,))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _walk(item, path + (index,))
    else:
        yield path, value


PRIVATE_BATCH_STATISTICS = ("history", "train_loss", "train_acc", "loss", "accuracy", "examples_seen", "num_train",
                            "num_training_examples")


def test_the_record_holds_no_statistic_of_the_private_batches_nor_n(run):
    """Loss, accuracy and examples seen are computed on private batches without noise, and N is private: none of
    them may reach dpsgd.json. q (which reveals N) is written, with a statement that the accounting treats N as
    public."""
    _, record = run
    keys = {key for path, _ in _walk(record) for key in path if isinstance(key, str)}
    assert not keys & set(PRIVATE_BATCH_STATISTICS), keys & set(PRIVATE_BATCH_STATISTICS)
    n = 600
    assert [path for path, value in _walk(record) if not isinstance(value, bool) and isinstance(value, (int, float))
            and value == n] == []
    assert record["sample_rate"] == pytest.approx(60 / n)  # part of the accounting, so kept
    note = record["data_set_size"]
    assert "reveals" in note and "public" in note and "add/remove" in note and "not written" in note


class RecordingBar:
    """Stands in for tqdm: keeps every postfix and description the trainer sets."""

    calls: list = []

    def __init__(self, *args, **kwargs):
        RecordingBar.calls.append(("init", args, kwargs))

    def update(self, n=1):
        pass

    def set_postfix(self, *args, **kwargs):
        RecordingBar.calls.append(("set_postfix", args, kwargs))

    def set_postfix_str(self, *args, **kwargs):
        RecordingBar.calls.append(("set_postfix_str", args, kwargs))

    def set_description(self, *args, **kwargs):
        RecordingBar.calls.append(("set_description", args, kwargs))

    def close(self):
        pass


def test_progress_bar_and_logs_show_no_loss_accuracy_or_n(data, monkeypatch, caplog):
    x, y = data
    RecordingBar.calls = []
    monkeypatch.setattr(dpsgd_model, "tqdm", RecordingBar)
    with caplog.at_level(logging.DEBUG, logger="privevo"):
        train_dpsgd(x[:300], y[:300], seed=0, **dict(TINY, epochs=2, expected_batch_size=100))
    postfixes = [call for call in RecordingBar.calls if call[0] == "set_postfix"]
    assert len(postfixes) == 2  # one per epoch: the bar is the one the trainer drives
    statistic = re.compile(r"loss|acc\b|acc=|accuracy|train_acc|examples_seen|\bseen\b")
    shown = " ".join(f"{args} {kwargs}" for _, args, kwargs in RecordingBar.calls).lower()
    assert not statistic.search(shown), shown
    messages = " ".join(r.getMessage() for r in caplog.records if r.name.startswith("privevo")).lower()
    assert "dp-sgd seed 0" in messages and not statistic.search(messages), messages
    assert not re.search(r"\b300\b", messages.replace(",", "")), messages  # the number of private training images


def test_the_record_lists_the_settings_chosen_on_private_data(run):
    """Read from the one constant of privevo.models.dpsgd_settings, with this run's value of each."""
    _, record = run
    selected = record["selected_on_private_data"]
    assert selected["status"] == SELECTED_ON_PRIVATE_DATA_STATUS == "selected on private data, not accounted"
    assert [s["setting"] for s in selected["settings"]] == [s["setting"] for s in SELECTED_ON_PRIVATE_DATA]
    assert {s["argument"] for s in selected["settings"]} >= {"epochs", "expected_batch_size", "learning_rate"}
    by_argument = {s["argument"]: s for s in selected["settings"]}
    assert by_argument["learning_rate"]["this_run"] == 0.5 and by_argument["learning_rate"]["in_effect"] is True
    assert by_argument["epochs"]["this_run"] == 1 and by_argument["epochs"]["in_effect"] is False  # TINY: 1, not 2
    assert "validation" in selected["how"] and "not accounted" in selected["how"]
    assert "dpsgd.max_grad_norm" in selected["fixed_a_priori"]


def test_the_chosen_values_are_the_shipped_defaults():
    """The constant names the values params.yaml ships and train_dpsgd defaults to, so it cannot drift from them."""
    import inspect

    import yaml

    shipped = yaml.safe_load((Path(__file__).resolve().parents[2] / "params.yaml").read_text())["dpsgd"]
    defaults = {name: p.default for name, p in inspect.signature(train_dpsgd).parameters.items()}
    for entry in SELECTED_ON_PRIVATE_DATA:
        assert defaults[entry["argument"]] == entry["chosen"], entry
        if entry["setting"].startswith("dpsgd."):
            assert shipped[entry["setting"].split(".", 1)[1]] == entry["chosen"], entry


@pytest.mark.parametrize("source", [None, EntropyNoise()], ids=["opacus-default", "entropy"])
def test_the_noise_statement_says_what_opacus_offers_here(data, source):
    x, y = data
    _, record = train_dpsgd(x[:200], y[:200], seed=0, noise=source, **dict(TINY, expected_batch_size=50))
    noise = record["noise"]
    assert noise["exact_sampler"] is False and "floating" in noise["sampler"]
    assert "continuous Gaussian" in noise["distribution"]
    assert "torchcsprng" in noise["opacus_secure_mode"] and "not used" in noise["opacus_secure_mode"]
    assert noise["runtime"]["torchcsprng_installed"] is False
    assert "final weights" in noise["released"] and "never directly" in noise["released"]
    assert noise["seed_stored"] is False
    if source is None:
        assert "os.urandom" in noise["description"] and "float32" in noise["precision"]
    else:
        assert noise["description"] == source.description and "float64" in noise["precision"]


def test_returns_a_plain_model_in_eval_mode(run, data):
    model, _ = run
    assert type(model) is SmallCNN and not model.training
    assert not any(hasattr(p, "grad_sample") for p in model.parameters())
    x, y = data
    metrics = evaluate(model, x[:50], y[:50])
    assert 0.0 <= metrics["accuracy"] <= 1.0


def test_shuffled_batches_carry_a_warning(data):
    x, y = data
    _, record = train_dpsgd(x[:300], y[:300], seed=0, poisson_sampling=False, **TINY)
    assert SHUFFLED_WARNING in record["warnings"]
    assert "Poisson" in SHUFFLED_WARNING and "not a proven bound" in SHUFFLED_WARNING
    assert record["sampling"] != "poisson" and record["accounting_sampling"] == "poisson"
    assert record["steps"] == 300 // 60


class CountingSource:
    """A DP source that wraps another and counts its draws."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []
        self.name, self.description, self.is_dp = inner.name, inner.description, inner.is_dp

    def gaussian(self, sigma, size):
        self.calls.append((sigma, size))
        return self.inner.gaussian(sigma, size)


@pytest.mark.parametrize("source", [None, EntropyNoise(), SecureNoise()], ids=["opacus-default", "entropy", "secure"])
def test_noise_is_not_reproducible_from_any_dp_source(data, monkeypatch, source):
    """Same seed: the same initial weights and the same seeded everything else, but different final weights."""
    x, y = data
    kw = dict(TINY, expected_batch_size=100, noise=source)
    inits = []
    real = dpsgd_model.SmallCNN

    def spy(*args, **kwargs):
        model = real(*args, **kwargs)
        inits.append({k: v.clone() for k, v in model.state_dict().items()})
        return model

    monkeypatch.setattr(dpsgd_model, "SmallCNN", spy)
    m1, r1 = train_dpsgd(x[:300], y[:300], seed=7, **kw)
    m2, r2 = train_dpsgd(x[:300], y[:300], seed=7, **kw)
    assert all(torch.equal(inits[0][k], inits[1][k]) for k in inits[0])
    assert any(not torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values()))
    assert r1["noise_multiplier"] == r2["noise_multiplier"] and r1["steps"] == r2["steps"]
    assert r1["noise"] == r2["noise"] and r1["noise"]["seed_stored"] is False
    assert r1["noise"]["source"] == ("os-entropy" if source is None else source.name)


def test_secure_noise_reaches_dpsgd_and_the_record_names_it(data):
    """privacy.secure_noise picks the secure source for DP-SGD as for PE's histograms; every gradient noise value is
    drawn from it (one draw per parameter tensor per step, at sigma * max_grad_norm), and the record says so."""
    x, y = data
    source = dp_noise_source({"secure_noise": True, "reproducible_noise": False})
    assert isinstance(source, SecureNoise)
    counting = CountingSource(source)
    model, record = train_dpsgd(x[:300], y[:300], seed=0, **dict(TINY, expected_batch_size=100, max_grad_norm=0.5),
                                noise=counting)
    shapes = [p.numel() for p in model.parameters()]
    assert len(counting.calls) == record["steps"] * len(shapes)
    assert sorted({size for _, size in counting.calls}) == sorted(set(shapes))
    assert all(sigma == pytest.approx(record["noise_multiplier"] * 0.5) for sigma, _ in counting.calls)
    assert record["noise"]["source"] == "secure" and record["noise"]["description"] == SecureNoise.description
    assert "add_noise" in record["noise"]["drawn"] and record["noise"]["seed_stored"] is False
    json.dumps(record)


def test_the_default_record_names_opacus_os_entropy_draw(run):
    _, record = run
    assert record["noise"]["source"] == "os-entropy" and "os.urandom" in record["noise"]["description"]
    assert record["noise"]["seed_stored"] is False


def test_the_noise_hook_adds_the_sources_values_to_the_summed_gradients():
    class Fixed:
        name, description, is_dp = "fixed", "test", True

        def gaussian(self, sigma, size):
            return np.full(size, sigma)

    grads = [torch.ones(2, 3), torch.zeros(4)]
    params = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
    for p, g in zip(params, grads):
        p.summed_grad = g.clone()
    optimizer = type("FakeDPOptimizer", (), {"noise_multiplier": 2.0, "max_grad_norm": 0.25, "params": params})()
    dpsgd_model._draw_noise_from(Fixed(), optimizer)
    optimizer.add_noise()
    assert torch.equal(params[0].grad, torch.full((2, 3), 1.5)) and torch.equal(params[1].grad, torch.full((4,), 0.5))
    assert params[0].grad.dtype == torch.float32


def test_noise_derivable_from_a_seed_is_refused(data):
    x, y = data
    with pytest.raises(ValueError, match="not a DP noise source"):
        train_dpsgd(x[:100], y[:100], seed=0, noise=ReproducibleNoise(0, class_index=0, iteration=1), **TINY)
    with pytest.raises(ValueError, match="noise must be a DP noise source"):
        train_dpsgd(x[:100], y[:100], seed=0, noise="secure", **TINY)


def test_generators_come_from_os_entropy(monkeypatch):
    calls = []
    real = dpsgd_model.os.urandom

    def spy(n):
        calls.append(n)
        return real(n)

    monkeypatch.setattr(dpsgd_model.os, "urandom", spy)
    g1, g2 = dpsgd_model._os_entropy_generator(), dpsgd_model._os_entropy_generator()
    assert calls == [8, 8]
    assert g1.initial_seed() != g2.initial_seed()


def test_training_leaves_global_torch_rng_alone(data):
    x, y = data
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_dpsgd(x[:200], y[:200], seed=0, **dict(TINY, expected_batch_size=50))
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("kwargs,match", [
    (dict(expected_batch_size=1000), "expected_batch_size"),
    (dict(epochs=0), "epochs"),
    (dict(physical_batch_size=0), "physical_batch_size"),
    (dict(max_grad_norm=-1.0), "max_grad_norm"),
    (dict(learning_rate=0.0), "learning_rate"),
    (dict(optimizer="rmsprop"), "optimizer"),
    (dict(epsilon=-1.0), "epsilon"),
    (dict(delta=2.0), "delta"),
    (dict(accountant="moments"), "accountant"),
])
def test_bad_arguments(data, kwargs, match):
    x, y = data
    with pytest.raises(ValueError, match=match):
        train_dpsgd(x[:100], y[:100], seed=0, **(TINY | kwargs))


@pytest.mark.slow
def test_learns_separable_data():
    x, y = squares(200, seed=1)
    model, record = train_dpsgd(x, y, seed=0, epsilon=8.0, delta=1e-5, epochs=4, expected_batch_size=200,
                                physical_batch_size=200, max_grad_norm=1.0, learning_rate=1.0, progress=False)
    xt, yt = squares(20, seed=2)
    assert evaluate(model, xt, yt)["accuracy"] > 0.8
    assert record["steps"] == 4 * 10
