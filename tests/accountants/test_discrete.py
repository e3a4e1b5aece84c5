"""The exact histograms' accounting: dp-accounting's PLD of the discrete Gaussian itself, CKS20's zCDP bound, OpenDP's
own privacy map, and how far all of them sit from the continuous mechanism."""

import math

import numpy as np
import pytest

from privevo.accountants import gdp
from privevo.accountants.analysis import discrete
from privevo.accountants.analysis.gdp import epsilon_for_noise_multiplier as continuous_epsilon
from privevo.accountants.analysis.pld import compose_epsilon

DEFAULT_SIGMA, DEFAULT_T, DEFAULT_M, DELTA = 10.552, 8, 10, 1e-5


def test_rho_is_t_over_two_sigma_squared_and_opendp_agrees():
    rho = discrete.zcdp_rho(noise_multiplier=DEFAULT_SIGMA, num_iterations=DEFAULT_T)
    assert rho == pytest.approx(8 / (2 * 10.552 ** 2), rel=1e-15) == pytest.approx(0.0359245, abs=1e-7)
    for m in (1, 4, 10):
        assert discrete.opendp_rho(noise_multiplier=DEFAULT_SIGMA, num_iterations=DEFAULT_T,
                                   votes_per_sample=m) == pytest.approx(rho, rel=1e-12)


@pytest.mark.parametrize("rho,delta", [(0.0359, 1e-5), (0.5, 1e-6), (2.0, 1e-5)])
def test_the_zcdp_conversion_is_the_infimum_of_cks20_corollary_13(rho, delta):
    alphas = 1 + np.exp(np.linspace(-12, 12, 400001))
    brute = np.min(alphas * rho + (np.log(1 / delta) + (alphas - 1) * np.log1p(-1 / alphas) - np.log(alphas))
                   / (alphas - 1))
    assert discrete.epsilon_of_rho(rho, delta=delta) == pytest.approx(brute, rel=1e-7)
    # Tighter than the textbook rho + 2 sqrt(rho log(1/delta)).
    assert discrete.epsilon_of_rho(rho, delta=delta) < rho + 2 * math.sqrt(rho * math.log(1 / delta))


def test_the_exact_mechanism_is_accounted_by_its_own_loss_not_the_continuous_one():
    """At a small scale the lattice shows: the discrete Gaussian's PLD gives a larger epsilon than the continuous
    Gaussian's (sigma 0.5, T 8: 39.66 against 39.38), so the accountant reads the mechanism that was drawn."""
    exact = discrete.pld_epsilon(noise_multiplier=0.5, num_iterations=8, votes_per_sample=1, delta=DELTA,
                                 discretization=1e-4)
    assert exact == pytest.approx(39.66, abs=0.02)
    assert exact > continuous_epsilon(noise_multiplier=0.5, delta=DELTA, num_iterations=8) + 0.2


@pytest.mark.parametrize("sigma,t,m", [(DEFAULT_SIGMA, DEFAULT_T, DEFAULT_M), (5 * math.sqrt(2), 20, 1),
                                       (1.414, 8, 10)])
def test_at_the_defaults_the_exact_and_continuous_curves_agree_and_zcdp_bounds_both(sigma, t, m):
    exact = discrete.pld_epsilon(noise_multiplier=sigma, num_iterations=t, votes_per_sample=m, delta=DELTA)
    continuous = continuous_epsilon(noise_multiplier=sigma, delta=DELTA, num_iterations=t)
    # The PLD rounds up (pessimistic grid): at most 0.2% above the continuous curve, never below it by more than
    # the lattice's own (negligible) advantage.
    assert continuous * (1 - 1e-4) <= exact <= continuous * 1.002
    assert discrete.zcdp_epsilon(noise_multiplier=sigma, num_iterations=t, delta=DELTA) > exact


def test_the_papers_golden_value_holds_for_the_exact_mechanism():
    """SPEC: sigma 5 sqrt(2), T 20, delta 1e-5 gives epsilon 2.594 (continuous); the exact mechanism at m = 1."""
    assert discrete.pld_epsilon(noise_multiplier=5 * math.sqrt(2), num_iterations=20, votes_per_sample=1,
                                delta=1e-5) == pytest.approx(2.594, abs=2e-3)


def test_calibration_solves_sigma_for_the_exact_mechanism():
    record = gdp.calibrate(epsilon=1.0, delta=DELTA, num_iterations=DEFAULT_T, accountant="pld",
                           mechanism="discrete_gaussian", votes_per_sample=DEFAULT_M)
    continuous_sigma = gdp.noise_multiplier_for_epsilon(epsilon=1.0, delta=DELTA, num_iterations=DEFAULT_T)
    assert continuous_sigma < record["noise_multiplier"] < 1.002 * continuous_sigma
    assert record["epsilon"] == 1.0 and 0.999 <= record["epsilon_accounted"] <= 1.0
    assert record["mechanism"] == "discrete_gaussian" and record["votes_per_sample"] == DEFAULT_M
    facts = record["discrete"]
    assert facts["zcdp_rho"] == pytest.approx(facts["zcdp_rho_opendp"], rel=1e-12)
    assert facts["zcdp_epsilon"] > record["epsilon_accounted"] > facts["continuous_gaussian_epsilon"]
    assert facts["noise_scale_integer_votes"] == pytest.approx(record["noise_multiplier"] * math.sqrt(10))
    by_zcdp = gdp.calibrate(epsilon=1.0, delta=DELTA, num_iterations=DEFAULT_T, accountant="zcdp",
                            mechanism="discrete_gaussian", votes_per_sample=DEFAULT_M, cross_check=False)
    assert by_zcdp["noise_multiplier"] > record["noise_multiplier"] * 1.05  # the closed form costs ~8% more noise


def test_gdp_refuses_the_exact_mechanism_in_one_line():
    with pytest.raises(Exception, match="does not compute exact discrete Gaussian"):
        gdp.calibrate(epsilon=1.0, delta=DELTA, num_iterations=8, mechanism="discrete_gaussian", votes_per_sample=10)


def test_exact_releases_compose_with_dpsgd_in_one_pld():
    exact = {"kind": "discrete_gaussian", "noise_multiplier": DEFAULT_SIGMA, "count": DEFAULT_T, "votes_per_sample": 10}
    sgd = {"kind": "poisson_gaussian", "noise_multiplier": 0.9, "count": 234, "sample_rate": 512 / 60000}
    alone = compose_epsilon([exact], delta=DELTA, discretization=1e-4)
    both = compose_epsilon([exact, sgd], delta=DELTA, discretization=1e-4)
    continuous = compose_epsilon([{"kind": "gaussian", "noise_multiplier": DEFAULT_SIGMA, "count": DEFAULT_T}, sgd],
                                 delta=DELTA, discretization=1e-4)
    assert alone == pytest.approx(1.004, abs=2e-3)
    assert both > alone and continuous <= both <= continuous * 1.01
