"""DP-SGD accounting: golden values against dp-accounting's PLD, calibration, the upper-bound rule, composition."""

import json
import math

import pytest

from privevo.accountants import calibration, gdp, records
from privevo.accountants.analysis import pld, rdp
from privevo.accountants.validation import AccountingError

# (sample_rate, noise_multiplier, steps, delta) -> epsilon from dp_accounting 0.6's PLDAccountant
# (add/remove, value_discretization_interval 1e-4). The second is Abadi et al. 2016's MNIST setting
# (q = 0.01, sigma = 4, 100 epochs), 1.26 under their moments accountant.
GOLDEN = [
    (256 / 60000, 1.0, 1000, 1e-5, 0.72764),
    (0.01, 4.0, 10000, 1e-5, 0.94700),
    (512 / 60000, 0.8, 351, 1e-5, 1.84998),
    (0.1, 1.5, 50, 1e-6, 2.93477),
]


@pytest.mark.parametrize("q,sigma,steps,delta,epsilon", GOLDEN)
def test_pld_golden(q, sigma, steps, delta, epsilon):
    got = pld.pld_epsilon(sample_rate=q, noise_multiplier=sigma, steps=steps, delta=delta)
    assert got == pytest.approx(epsilon, abs=2e-5)


@pytest.mark.parametrize("q,sigma,steps,delta,epsilon", GOLDEN)
def test_accountants_agree_with_pld_and_bound_it(q, sigma, steps, delta, epsilon):
    prv = calibration.epsilon_for(sample_rate=q, noise_multiplier=sigma, steps=steps, delta=delta, accountant="prv")
    rdp = calibration.epsilon_for(sample_rate=q, noise_multiplier=sigma, steps=steps, delta=delta, accountant="rdp")
    # PRV's upper bound is tight: at most 0.01 (its error bound) plus 0.5% above the PLD, never 1% below.
    assert epsilon * (1 - calibration.UPPER_BOUND_TOLERANCE) <= prv <= epsilon * 1.005 + 0.01
    # RDP is a looser upper bound.
    assert rdp >= prv
    assert rdp <= 1.6 * epsilon


@pytest.mark.parametrize("accountant", ["prv", "rdp"])
@pytest.mark.parametrize("target,q,steps", [(1.0, 512 / 54000, 316), (10.0, 256 / 54000, 421), (0.3, 0.01, 200)])
def test_epsilon_to_sigma_to_epsilon(accountant, target, q, steps):
    record = calibration.calibrate_sgd(sample_rate=q, steps=steps, delta=1e-5, epsilon=target, accountant=accountant)
    assert record["solved_for"] == "noise_multiplier"
    # the reported epsilon is an upper bound at most the target, and within 1% of it
    assert target * 0.99 <= record["epsilon"] <= target
    # ... and never more than 1% below the independent PLD's
    assert record["epsilon"] >= (1 - calibration.UPPER_BOUND_TOLERANCE) * record["cross_check"]["epsilon"]
    back = calibration.calibrate_sgd(sample_rate=q, steps=steps, delta=1e-5, noise_multiplier=record["noise_multiplier"],
                               accountant=accountant)
    assert back["solved_for"] == "epsilon"
    assert back["epsilon"] == pytest.approx(target, rel=0.01)


@pytest.mark.parametrize("sigma", [0.7, 1.3])
def test_sigma_to_epsilon_to_sigma(sigma):
    q, steps = 1024 / 60000, 150
    forward = calibration.calibrate_sgd(sample_rate=q, steps=steps, delta=1e-5, noise_multiplier=sigma)
    back = calibration.calibrate_sgd(sample_rate=q, steps=steps, delta=1e-5, epsilon=forward["epsilon"])
    assert back["noise_multiplier"] == pytest.approx(sigma, rel=0.01)
    assert back["noise_multiplier"] >= sigma * (1 - 1e-6)  # never less noise than needed for that epsilon


def test_record_is_json_ready_and_complete():
    record = calibration.calibrate_sgd(sample_rate=0.01, steps=100, delta=1e-5, noise_multiplier=1.0)
    json.dumps(record)
    keys = {"epsilon", "delta", "noise_multiplier", "solved_for", "accountant", "accountant_description",
            "neighbouring", "cross_check", "sample_rate", "steps", "sampling", "accountant_epsilon", "epsilon_source"}
    assert keys <= set(record)
    assert record["sampling"] == "poisson" and record["neighbouring"] == records.NEIGHBOURING
    assert record["cross_check"]["accountant"] == "dp_accounting.pld.PLDAccountant"
    assert record["epsilon_source"] == "accountant" and record["epsilon"] == record["accountant_epsilon"]
    assert "cross_check" not in calibration.calibrate_sgd(sample_rate=0.01, steps=100, delta=1e-5, noise_multiplier=1.0,
                                                    cross_check=False)


def test_accountant_below_pld_is_never_reported(monkeypatch):
    """An accountant that under-reports by more than 1% is overridden by the PLD (and solved against it)."""
    real = rdp.rdp_epsilon
    monkeypatch.setattr(rdp, "rdp_epsilon", lambda **kw: 0.5 * real(**kw))
    q, steps = 0.01, 200
    record = calibration.calibrate_sgd(sample_rate=q, steps=steps, delta=1e-5, noise_multiplier=1.0, accountant="rdp")
    assert record["epsilon_source"] == "cross_check"
    assert record["epsilon"] == record["cross_check"]["epsilon"] > record["accountant_epsilon"]
    solved = calibration.calibrate_sgd(sample_rate=q, steps=steps, delta=1e-5, epsilon=2.0, accountant="rdp")
    assert solved["epsilon_source"] == "cross_check"
    assert 2.0 * 0.99 <= solved["epsilon"] <= 2.0
    true_eps = pld.pld_epsilon(sample_rate=q, noise_multiplier=solved["noise_multiplier"], steps=steps, delta=1e-5)
    assert true_eps <= 2.0 * 1.001


def test_compose_single_gaussian_matches_gdp():
    sigma, iterations = 5 * math.sqrt(2), 20
    ours = pld.compose_epsilon([{"kind": "gaussian", "noise_multiplier": sigma, "count": iterations}], delta=1e-5)
    pe = gdp.epsilon_for_noise_multiplier(noise_multiplier=sigma, delta=1e-5, num_iterations=iterations)
    assert ours == pytest.approx(pe, rel=0.01)
    assert ours >= pe * (1 - 1e-6)  # pessimistic PLD rounds up


def test_compose_mixture_costs_more_than_each_part():
    pe = {"kind": "gaussian", "noise_multiplier": 5 * math.sqrt(2), "count": 20}
    sgd = {"kind": "poisson_gaussian", "sample_rate": 256 / 60000, "noise_multiplier": 1.0, "count": 1000}
    both = pld.compose_epsilon([pe, sgd], delta=1e-5)
    alone = [pld.compose_epsilon([e], delta=1e-5) for e in (pe, sgd)]
    assert both >= max(alone)
    assert both <= sum(alone)  # tighter than adding epsilons (basic composition)
    assert alone[1] == pytest.approx(GOLDEN[0][-1], rel=2e-3)


@pytest.mark.parametrize("kwargs,name", [
    (dict(sample_rate=0.0), "sample_rate"),
    (dict(sample_rate=1.5), "sample_rate"),
    (dict(sample_rate="x"), "sample_rate"),
    (dict(noise_multiplier=-1.0), "noise_multiplier"),
    (dict(noise_multiplier=float("nan")), "noise_multiplier"),
    (dict(steps=0), "steps"),
    (dict(steps=2.5), "steps"),
    (dict(delta=0.0), "delta"),
    (dict(delta=1.0), "delta"),
    (dict(accountant="moments"), "accountant"),
])
def test_bad_arguments_name_the_parameter(kwargs, name):
    args = dict(sample_rate=0.01, noise_multiplier=1.0, steps=100, delta=1e-5, accountant="prv") | kwargs
    with pytest.raises(AccountingError, match=name):
        calibration.epsilon_for(**args)


@pytest.mark.parametrize("kwargs,name", [
    (dict(epsilon=-1.0), "epsilon"),
    (dict(epsilon=5000.0), "epsilon"),
    (dict(epsilon=1.0, noise_multiplier=1.0), "exactly one"),
    (dict(), "exactly one"),
    (dict(epsilon=1.0, steps=-3), "steps"),
    (dict(epsilon=1.0, sample_rate=2.0), "sample_rate"),
])
def test_bad_calibration_arguments(kwargs, name):
    args = dict(sample_rate=0.01, steps=100, delta=1e-5) | kwargs
    with pytest.raises(AccountingError, match=name):
        calibration.calibrate_sgd(**args)


def test_useless_guarantees_are_refused():
    with pytest.raises(AccountingError, match="noise_multiplier"):
        calibration.epsilon_for(sample_rate=1.0, noise_multiplier=0.01, steps=1000, delta=1e-5)


@pytest.mark.parametrize("events,name", [
    ([], "events"),
    ([{"kind": "laplace", "noise_multiplier": 1.0, "count": 1}], "kind"),
    ([{"kind": "gaussian", "count": 1}], "noise_multiplier"),
    ([{"kind": "gaussian", "noise_multiplier": 1.0, "count": 0}], "count"),
    ([{"kind": "poisson_gaussian", "noise_multiplier": 1.0, "count": 3, "sample_rate": 0}], "sample_rate"),
    ([{"kind": "gaussian", "noise_multiplier": 1.0, "count": 3, "sample_rate": 0.1}], "unknown keys"),
])
def test_bad_events(events, name):
    with pytest.raises(AccountingError, match=name):
        pld.compose_epsilon(events, delta=1e-5)
