"""One registry of accountants: each declares its name and what it computes; calibration goes through it."""

import json

import pytest

from privevo.accountants import ACCOUNTANTS, calibration, gdp
from privevo.accountants.registry import KINDS, AccountantRegistry
from privevo.accountants.validation import AccountingError, UnknownAccountantError
from privevo.core.registry import UnknownNameError

CALLS = []


def fake_epsilon(event, *, delta):
    """A deliberately crude accountant: epsilon = count / noise_multiplier (it records its calls)."""
    CALLS.append(dict(event))
    return event["count"] / event["noise_multiplier"]


@pytest.fixture
def fake():
    CALLS.clear()
    ACCOUNTANTS.add("fake", f"{__name__}:fake_epsilon", computes=("gaussian", "poisson_gaussian"),
                    description="a test's accountant")
    try:
        yield "fake"
    finally:
        ACCOUNTANTS.remove("fake")


def test_every_accountant_declares_what_it_computes():
    assert ACCOUNTANTS.names() == ["gdp", "prv", "rdp", "pld", "zcdp"]
    for name in ACCOUNTANTS.names():
        traits = ACCOUNTANTS.traits(name)
        assert set(traits["computes"]) <= set(KINDS) and traits["computes"] and traits["description"]
    assert ACCOUNTANTS.computing("gaussian") == ["gdp", "prv", "rdp", "pld", "zcdp"]
    assert ACCOUNTANTS.computing("discrete_gaussian") == ["pld", "zcdp"]
    assert ACCOUNTANTS.computing("poisson_gaussian") == ["prv", "rdp", "pld"]
    assert ACCOUNTANTS.get("gdp").inverse() is not None and ACCOUNTANTS.get("prv").inverse() is None


def test_an_unknown_accountant_is_one_line_listing_the_known_ones():
    with pytest.raises(UnknownNameError) as err:
        ACCOUNTANTS.check("moments", key="privacy.accountant")
    assert str(err.value) == ("params key privacy.accountant: unknown accountant 'moments'; choose from "
                              "gdp, prv, rdp, pld, zcdp")
    with pytest.raises(AccountingError, match=r"^unknown accountant 'moments'; choose from prv, rdp, pld$"):
        calibration.calibrate_sgd(sample_rate=0.01, steps=10, delta=1e-5, noise_multiplier=1.0, accountant="moments")
    with pytest.raises(UnknownAccountantError, match=r"^accountant 'gdp' does not compute Poisson-subsampled Gaussian "
                                                     r"steps \(DP-SGD\); choose from prv, rdp, pld$"):
        calibration.epsilon_for(sample_rate=0.01, noise_multiplier=1.0, steps=10, delta=1e-5, accountant="gdp")
    with pytest.raises(AccountingError, match="unknown accountant 'moments'; choose from gdp, prv, rdp, pld, zcdp"):
        gdp.calibrate(delta=1e-5, num_iterations=3, epsilon=1.0, accountant="moments")


def test_bad_declarations_are_refused():
    registry = AccountantRegistry()
    with pytest.raises(ValueError, match="computes"):
        registry.add("x", "m:f", computes=("laplace",), description="d")
    with pytest.raises(ValueError, match="computes"):
        registry.add("x", "m:f", computes="gaussian", description="d")
    with pytest.raises(ValueError, match="description"):
        registry.add("x", "m:f", computes=("gaussian",))
    with pytest.raises(ValueError, match="exact_inverse"):
        registry.add("x", "m:f", computes=("poisson_gaussian",), description="d", exact_inverse="m:g")


def test_a_registered_accountant_is_used_by_pe_calibration(fake):
    record = gdp.calibrate(delta=1e-5, num_iterations=4, noise_multiplier=2.0, accountant=fake, cross_check=False)
    assert CALLS == [{"kind": "gaussian", "noise_multiplier": 2.0, "count": 4}]
    assert record["epsilon"] == 2.0 and record["accountant"] == "fake"
    assert record["accountant_description"] == "a test's accountant"
    # Solving for sigma searches with the fake (it declares no exact inverse): epsilon 4 / sigma = 1 needs sigma 4.
    solved = gdp.calibrate(delta=1e-5, num_iterations=4, epsilon=1.0, accountant=fake, cross_check=False)
    assert solved["solved_for"] == "noise_multiplier" and solved["noise_multiplier"] == pytest.approx(4.0, rel=0.01)
    assert 0.995 <= solved["epsilon"] <= 1.0 and len(CALLS) > 2
    # The registry's contract for PE: ACCOUNTANTS.get(name)(...) is that calibration.
    assert ACCOUNTANTS.get(fake)(delta=1e-5, num_iterations=4, noise_multiplier=2.0, cross_check=False) == record
    json.dumps(solved)


def test_a_registered_accountant_is_used_by_dpsgd_calibration(fake):
    record = calibration.calibrate_sgd(sample_rate=0.01, steps=100, delta=1e-5, noise_multiplier=50.0,
                                       accountant=fake)
    assert CALLS[0] == {"kind": "poisson_gaussian", "sample_rate": 0.01, "noise_multiplier": 50.0, "count": 100}
    assert record["accountant"] == "fake" and record["accountant_epsilon"] == 2.0
    # the cross-check rule still holds over any accountant: the fake is far above the PLD, so it is reported
    assert record["epsilon_source"] == "accountant" and record["cross_check"]["epsilon"] < 2.0


def test_pe_calibration_by_another_registered_accountant_is_close_to_gdp():
    exact = gdp.calibrate(delta=1e-5, num_iterations=8, epsilon=1.0, cross_check=False)
    by_pld = gdp.calibrate(delta=1e-5, num_iterations=8, epsilon=1.0, accountant="pld", cross_check=False)
    assert by_pld["accountant"] == "pld" and 0.995 <= by_pld["epsilon"] <= 1.0
    assert by_pld["noise_multiplier"] == pytest.approx(exact["noise_multiplier"], rel=0.01)
    # RDP is a looser bound: it needs more noise for the same epsilon
    by_rdp = gdp.calibrate(delta=1e-5, num_iterations=8, epsilon=1.0, accountant="rdp", cross_check=False)
    assert by_rdp["noise_multiplier"] > exact["noise_multiplier"]
