"""mu-GDP of T Gaussian releases with L2 sensitivity 1 (PE's histograms), and its (epsilon, delta) profile.

T releases of a Gaussian mechanism with sensitivity 1 and noise multiplier sigma compose exactly into
one Gaussian mechanism with mu = sqrt(T) / sigma (Dong, Roth and Su 2019). Its privacy profile is the
analytic Gaussian of Balle and Wang 2018:

    delta(eps) = Phi(-eps/mu + mu/2) - exp(eps) * Phi(-eps/mu - mu/2)
"""

from __future__ import annotations

import math

from scipy import optimize, stats

from privevo.accountants.validation import (
    MAX_EPSILON,
    AccountingError,
    check_delta,
    check_epsilon,
    check_iterations,
    check_positive,
)

_MU_LOWER, _MU_UPPER = 1e-8, 1e3


def gdp_mu(*, noise_multiplier: float, num_iterations: int) -> float:
    """mu of the composition of ``num_iterations`` Gaussian releases with sensitivity 1."""
    sigma = check_positive("noise_multiplier", noise_multiplier)
    return math.sqrt(check_iterations(num_iterations)) / sigma


def delta_for_mu(epsilon: float, mu: float) -> float:
    """delta(epsilon) of a mu-GDP mechanism, computed in log space for stability."""
    if epsilon < 0:
        raise AccountingError(f"epsilon must be non-negative, got {epsilon!r}")
    first = stats.norm.cdf(-epsilon / mu + mu / 2)
    second = math.exp(epsilon + stats.norm.logcdf(-epsilon / mu - mu / 2))
    return float(max(first - second, 0.0))


def delta_for_epsilon(epsilon: float, *, noise_multiplier: float, num_iterations: int) -> float:
    return delta_for_mu(epsilon, gdp_mu(noise_multiplier=noise_multiplier, num_iterations=num_iterations))


def epsilon_for_noise_multiplier(*, noise_multiplier: float, delta: float, num_iterations: int) -> float:
    """The smallest epsilon such that T Gaussian releases with this noise are (epsilon, delta)-DP."""
    delta = check_delta(delta)
    mu = gdp_mu(noise_multiplier=noise_multiplier, num_iterations=num_iterations)
    if delta_for_mu(0.0, mu) <= delta:
        return 0.0
    if delta_for_mu(MAX_EPSILON, mu) > delta:
        raise AccountingError(f"noise_multiplier {noise_multiplier:g} over {num_iterations} iterations gives an epsilon "
                              f"above {MAX_EPSILON:g} at delta {delta:g}: no meaningful guarantee; add more noise")
    # delta(eps) decreases in eps, so the root is unique.
    return float(optimize.brentq(lambda eps: delta_for_mu(eps, mu) - delta, 0.0, MAX_EPSILON, xtol=1e-12, rtol=1e-12))


def noise_multiplier_for_epsilon(*, epsilon: float, delta: float, num_iterations: int) -> float:
    """The smallest noise multiplier sigma that makes T Gaussian releases (epsilon, delta)-DP (exact, not a search)."""
    epsilon = check_epsilon(epsilon)
    delta = check_delta(delta)
    num_iterations = check_iterations(num_iterations)
    # delta(eps; mu) increases in mu: find the largest admissible mu.
    mu = optimize.brentq(lambda m: delta_for_mu(epsilon, m) - delta, _MU_LOWER, _MU_UPPER, xtol=1e-14, rtol=1e-14)
    return float(math.sqrt(num_iterations) / mu)


def event_epsilon(event: dict, *, delta: float) -> float:
    """The registry's "gdp": ``event`` is ``{"kind": "gaussian", "noise_multiplier": s, "count": T}``."""
    if event["kind"] != "gaussian":
        raise AccountingError(f"the GDP accountant computes Gaussian releases, not {event['kind']!r} events")
    return epsilon_for_noise_multiplier(noise_multiplier=event["noise_multiplier"], delta=delta,
                                        num_iterations=event["count"])


def pld_epsilon(*, noise_multiplier: float, delta: float, num_iterations: int, discretization: float = 1e-4) -> float:
    """Independent cross-check of the GDP number: epsilon from dp-accounting's PLD on T composed Gaussian events."""
    from dp_accounting import dp_event
    from dp_accounting.pld import pld_privacy_accountant

    accountant = pld_privacy_accountant.PLDAccountant(value_discretization_interval=discretization)
    accountant.compose(dp_event.GaussianDpEvent(float(noise_multiplier)), int(num_iterations))
    return float(accountant.get_epsilon(float(delta)))
