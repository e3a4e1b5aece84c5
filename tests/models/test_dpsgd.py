"""DP-SGD training: the stated epsilon, its three accountants, the record, sampling and secret noise (the one DP
noise policy of privevo.pe.noise: OS entropy by default, privacy.secure_noise for the secure draw)."""

import json

import numpy as np

from conftest import squares
import pytest
import torch

import privevo.models.dpsgd as dpsgd_model
from privevo.models.classifier import SmallCNN, evaluate, num_parameters
from privevo.models.dpsgd import SHUFFLED_WARNING, train_dpsgd
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
                "warnings", "history"):
        assert key in record, key
    assert record["sampling"] == "poisson" and record["warnings"] == []
    assert record["sample_rate"] == pytest.approx(60 / 600)
    assert record["steps"] == record["epochs"] * record["steps_per_epoch"] == 10
    assert record["history"][-1]["steps"] == record["steps"]
    assert record["num_parameters"] == num_parameters(model) == num_parameters(SmallCNN(1, 10))
    assert "last" in record["model_selection"]
    assert record["noise_multiplier"] > 0.5


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
