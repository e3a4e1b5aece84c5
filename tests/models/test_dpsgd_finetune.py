"""PE + DP-SGD: DP-SGD fine-tuning of a (PE-pretrained) SmallCNN, accounted together with PE's releases."""

import json

import numpy as np
import pytest
import torch

from conftest import squares
from privevo.accountants import records
from privevo.accountants import gdp
from privevo.models.classifier import SmallCNN
from privevo.models.dpsgd import train_dpsgd

DELTA = 1e-5
TOTAL = 3.0
T = 5
TINY = dict(delta=DELTA, epochs=1, expected_batch_size=40, physical_batch_size=40, max_grad_norm=1.0,
            progress=False)


def flat(model) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.fixture(scope="module")
def data():
    return squares(20, seed=3)  # 200 images


@pytest.fixture(scope="module")
def pe_events():
    sigma = gdp.calibrate(epsilon=0.5 * TOTAL, delta=DELTA, num_iterations=T)["noise_multiplier"]
    return [{"kind": "gaussian", "noise_multiplier": sigma, "count": T}]


@pytest.fixture(scope="module")
def pretrained():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1234)
        model = SmallCNN(1, 10)
    return model.eval()


@pytest.fixture(scope="module")
def finetuned(data, pretrained, pe_events):
    x, y = data
    before = {k: v.clone() for k, v in pretrained.state_dict().items()}
    model, record = train_dpsgd(x, y, epsilon=TOTAL, seed=0, learning_rate=1e-4, initial_model=pretrained,
                                prior_events=pe_events, **TINY)
    return before, model, record


def test_input_model_is_unchanged(finetuned, pretrained):
    before, model, _ = finetuned
    assert model is not pretrained
    assert all(torch.equal(before[k], v) for k, v in pretrained.state_dict().items())
    assert not pretrained.training and not any(hasattr(p, "grad_sample") for p in pretrained.parameters())
    assert type(model) is SmallCNN and not model.training


def test_starts_from_the_initial_weights(finetuned, pretrained):
    _, model, record = finetuned
    start, end = flat(pretrained), flat(model)
    fresh = flat(SmallCNN(1, 10))
    assert not torch.equal(start, end)  # it did train
    assert (end - start).norm() < 0.05 * (fresh - start).norm()
    assert record["initialisation"].startswith("copy of initial_model")


def test_record_composes_both_parts(finetuned, pe_events):
    _, _, record = finetuned
    json.dumps(record)
    assert record["target_epsilon"] == TOTAL
    assert 0.97 * TOTAL <= record["epsilon"] <= TOTAL
    assert record["accountant"] == records.COMPOSED_ACCOUNTANT
    sgd = {"kind": "poisson_gaussian", "sample_rate": 40 / 200, "noise_multiplier": record["noise_multiplier"],
           "count": record["steps"]}
    assert record["events"] == pe_events + [sgd]
    assert record["prior_epsilon"] == pytest.approx(0.5 * TOTAL, rel=0.01)
    assert max(record["prior_epsilon"], record["dpsgd_epsilon"]) < record["epsilon"]
    assert record["epsilon"] <= record["prior_epsilon"] + record["dpsgd_epsilon"]
    assert record["accountant_epsilon_after_training"] == pytest.approx(record["accountant_epsilon"], rel=1e-9)
    # the DP-SGD part alone: PLD, the named accountant and Opacus' own agree
    assert record["named_accountant_check"]["epsilon"] == pytest.approx(record["dpsgd_epsilon"], rel=0.05)
    assert record["opacus_check"]["epsilon"] == pytest.approx(record["dpsgd_epsilon"], rel=0.05)
    assert record["cross_check"]["passed"]


def test_fine_tuning_without_prior_events_is_plain_dpsgd_accounting(data, pretrained):
    x, y = data
    model, record = train_dpsgd(x, y, epsilon=TOTAL, seed=0, learning_rate=1e-4, initial_model=pretrained,
                                accountant="rdp", **TINY)
    assert record["accountant"] == "rdp" and "events" not in record and "prior_epsilon" not in record
    assert 0.95 * TOTAL <= record["epsilon"] <= TOTAL
    assert (flat(model) - flat(pretrained)).norm() < 0.05 * (flat(SmallCNN(1, 10)) - flat(pretrained)).norm()


@pytest.mark.parametrize("kwargs,match", [
    (dict(initial_model=SmallCNN(1, 5)), "initial_model"),
    (dict(initial_model=SmallCNN(in_channels=3, num_classes=10)), "initial_model"),
    (dict(initial_model=torch.nn.Linear(2, 2)), "initial_model"),
    (dict(prior_events=[{"kind": "gaussian", "noise_multiplier": 0.2, "count": 50}]), "mixing.pe_fraction"),
    (dict(prior_events=[{"kind": "gaussian", "count": 5}]), r"prior_events\[0\]\.noise_multiplier"),
    (dict(prior_events={"kind": "gaussian", "noise_multiplier": 5.0, "count": 5}), "prior_events"),
])
def test_bad_arguments(data, kwargs, match):
    x, y = data
    with pytest.raises(ValueError, match=match):
        train_dpsgd(x, y, epsilon=TOTAL, seed=0, **TINY, **kwargs)
