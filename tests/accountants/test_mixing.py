"""PE + DP-SGD under one accountant: DP-SGD calibrated after PE's Gaussian histogram releases (PLD composition)."""

import json
import math

import pytest

from privevo.accountants import calibration, gdp
from privevo.accountants.analysis import pld
from privevo.accountants.validation import AccountingError

DELTA = 1e-5
T = 11
TOTAL = 4.0
Q, STEPS = 0.05, 40


def pe_events(epsilon_pe: float) -> list[dict]:
    sigma = gdp.calibrate(epsilon=epsilon_pe, delta=DELTA, num_iterations=T)["noise_multiplier"]
    return [{"kind": "gaussian", "noise_multiplier": sigma, "count": T}]


@pytest.fixture(scope="module")
def half():
    """Half of the total budget to PE (pe_fraction 0.5)."""
    pe = pe_events(0.5 * TOTAL)
    return pe, calibration.calibrate_sgd_after(pe, sample_rate=Q, steps=STEPS, delta=DELTA, epsilon=TOTAL)


@pytest.fixture(scope="module")
def plain():
    """DP-SGD alone at the total budget (named accountant prv, PLD cross-checked)."""
    return calibration.calibrate_sgd(sample_rate=Q, steps=STEPS, delta=DELTA, epsilon=TOTAL)


def test_total_meets_target_and_is_close(half):
    _, record = half
    assert record["solved_for"] == "noise_multiplier"
    assert 0.97 * TOTAL <= record["epsilon"] <= TOTAL
    assert record["accountant"] == "pld (composed over PE histogram releases and DP-SGD steps)"
    # an upper bound: the finer grid is not above the reported epsilon (by more than 1%)
    check = record["cross_check"]
    assert check["passed"] and check["value_discretization_interval"] < record["value_discretization_interval"]
    assert check["epsilon"] <= record["epsilon"] * (1 + calibration.UPPER_BOUND_TOLERANCE)
    assert record["epsilon"] >= record["accountant_epsilon"] and record["epsilon"] >= check["epsilon"]


def test_matches_composition_by_hand(half):
    from dp_accounting import dp_event
    from dp_accounting.pld import pld_privacy_accountant

    pe, record = half
    sigma_pe, sigma = pe[0]["noise_multiplier"], record["noise_multiplier"]
    sgd = [{"kind": "poisson_gaussian", "sample_rate": Q, "noise_multiplier": sigma, "count": STEPS}]
    assert record["events"] == pe + sgd and record["prior_events"] == pe and record["dpsgd_events"] == sgd
    assert pld.compose_epsilon(pe + sgd, delta=DELTA) == pytest.approx(record["epsilon"], rel=0.01)

    accountant = pld_privacy_accountant.PLDAccountant(value_discretization_interval=1e-4)
    accountant.compose(dp_event.ComposedDpEvent([
        dp_event.SelfComposedDpEvent(dp_event.GaussianDpEvent(sigma_pe), T),
        dp_event.SelfComposedDpEvent(dp_event.PoissonSampledDpEvent(Q, dp_event.GaussianDpEvent(sigma)), STEPS),
    ]))
    by_hand = accountant.get_epsilon(DELTA)
    assert by_hand == pytest.approx(record["epsilon"], rel=0.01)
    assert by_hand <= record["epsilon"] * (1 + 1e-9)


def test_parts_alone(half):
    pe, record = half
    assert record["prior_epsilon"] == pytest.approx(0.5 * TOTAL, rel=0.01)
    assert record["prior_epsilon"] == pytest.approx(pld.compose_epsilon(pe, delta=DELTA), rel=0.01)
    assert record["dpsgd_epsilon"] == pytest.approx(
        pld.pld_epsilon(sample_rate=Q, noise_multiplier=record["noise_multiplier"], steps=STEPS, delta=DELTA), rel=0.01)
    assert record["epsilon"] > record["prior_epsilon"] and record["epsilon"] > record["dpsgd_epsilon"]
    assert record["epsilon"] <= record["prior_epsilon"] + record["dpsgd_epsilon"]


def test_record_is_json_ready_and_round_trips(half):
    pe, record = half
    json.dumps(record)
    for key in ("epsilon", "delta", "noise_multiplier", "sample_rate", "steps", "sampling", "accountant",
                "accountant_description", "neighbouring", "cross_check", "events", "prior_epsilon", "dpsgd_epsilon"):
        assert key in record, key
    back = calibration.calibrate_sgd_after(pe, sample_rate=Q, steps=STEPS, delta=DELTA,
                                     noise_multiplier=record["noise_multiplier"])
    assert back["solved_for"] == "epsilon"
    assert back["epsilon"] == pytest.approx(record["epsilon"], rel=0.01)


def test_more_noise_than_dpsgd_alone(half, plain):
    _, record = half
    assert record["noise_multiplier"] > plain["noise_multiplier"]


def test_small_pe_fraction_approaches_plain_dpsgd(plain):
    mixed = calibration.calibrate_sgd_after(pe_events(0.01 * TOTAL), sample_rate=Q, steps=STEPS, delta=DELTA, epsilon=TOTAL)
    assert mixed["noise_multiplier"] == pytest.approx(plain["noise_multiplier"], rel=0.03)
    assert mixed["noise_multiplier"] >= plain["noise_multiplier"] * 0.99


@pytest.mark.parametrize("epsilon_pe,match", [
    (1.5 * TOTAL, r"alone cost epsilon 6(\.0+)? >= total 4 "),
    (1.01 * TOTAL, r"alone cost epsilon 4\.04 >= total 4 "),
    (TOTAL, r"alone cost epsilon [\d.]+ of the total 4 .* too close"),  # pe_fraction 1: just below the total
])
def test_prior_events_over_budget_raise(epsilon_pe, match):
    with pytest.raises(AccountingError, match=r"PE's releases \(prior_events\) " + match + r".*lower mixing\.pe_fraction"):
        calibration.calibrate_sgd_after(pe_events(epsilon_pe), sample_rate=Q, steps=STEPS, delta=DELTA, epsilon=TOTAL)


@pytest.mark.parametrize("prior,kwargs,match", [
    ([], {}, "prior_events is empty"),
    ({"kind": "gaussian", "noise_multiplier": 5.0, "count": 3}, {}, "prior_events must be a list"),
    ([{"kind": "laplace", "noise_multiplier": 5.0, "count": 3}], {}, r"prior_events\[0\]\.kind"),
    ([{"kind": "gaussian", "noise_multiplier": -1.0, "count": 3}], {}, r"prior_events\[0\]\.noise_multiplier"),
    ([{"kind": "gaussian", "noise_multiplier": 5.0, "count": 3}], {"noise_multiplier": 1.0}, "exactly one"),
    ([{"kind": "gaussian", "noise_multiplier": 5.0, "count": 3}], {"sample_rate": 2.0}, "sample_rate"),
    ([{"kind": "gaussian", "noise_multiplier": 5.0, "count": 3}], {"delta": 0.0}, "delta"),
])
def test_bad_arguments(prior, kwargs, match):
    args = dict(sample_rate=Q, steps=STEPS, delta=DELTA, epsilon=TOTAL) | kwargs
    with pytest.raises(AccountingError, match=match):
        calibration.calibrate_sgd_after(prior, **args)
