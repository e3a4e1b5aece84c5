"""Privacy accounting of PE: T Gaussian histogram releases with L2 sensitivity 1, composed as mu-GDP.

T releases of a Gaussian mechanism with sensitivity 1 and noise multiplier sigma compose exactly into
one Gaussian mechanism with mu = sqrt(T) / sigma (Dong, Roth and Su 2019). Its privacy profile is the
analytic Gaussian of Balle and Wang 2018:

    delta(eps) = Phi(-eps/mu + mu/2) - exp(eps) * Phi(-eps/mu - mu/2)
"""

from __future__ import annotations

import math

from scipy import optimize, stats

ACCOUNTANT = "gdp"
ACCOUNTANT_DESCRIPTION = (
    "exact mu-GDP composition of T Gaussian mechanisms (Dong-Roth-Su), "
    "converted to (epsilon, delta) with the analytic Gaussian (Balle-Wang)"
)
MECHANISM = "Gaussian mechanism on nearest-neighbour vote histograms"
NEIGHBOURING = "add/remove one private sample"
SENSITIVITY_L2 = 1.0

MAX_EPSILON = 1000.0
"""Above this an (epsilon, delta) guarantee promises nothing (e^epsilon overflows a double past ~709)."""
_MU_LOWER, _MU_UPPER = 1e-8, 1e3


class AccountingError(ValueError):
    """A privacy parameter is out of range; the message names it."""


def _check_positive(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise AccountingError(f"{name} must be a positive finite number, got {value!r}")
    return value


def _check_epsilon(epsilon: float) -> float:
    epsilon = _check_positive("epsilon", epsilon)
    if epsilon > MAX_EPSILON:
        raise AccountingError(f"epsilon {epsilon:g} is above {MAX_EPSILON:g}, where an (epsilon, delta) guarantee "
                              "promises nothing; refusing rather than calibrating noise to it")
    return epsilon


def _check_delta(delta: float) -> float:
    delta = float(delta)
    if not 0 < delta < 1:
        raise AccountingError(f"delta must lie strictly between 0 and 1, got {delta!r}")
    return delta


def _check_iterations(num_iterations: int) -> int:
    if int(num_iterations) != num_iterations or num_iterations < 1:
        raise AccountingError(f"num_iterations must be a positive integer, got {num_iterations!r}")
    return int(num_iterations)


def gdp_mu(*, noise_multiplier: float, num_iterations: int) -> float:
    """mu of the composition of ``num_iterations`` Gaussian releases with sensitivity 1."""
    sigma = _check_positive("noise_multiplier", noise_multiplier)
    return math.sqrt(_check_iterations(num_iterations)) / sigma


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
    """The smallest epsilon such that PE with this noise is (epsilon, delta)-DP."""
    delta = _check_delta(delta)
    mu = gdp_mu(noise_multiplier=noise_multiplier, num_iterations=num_iterations)
    if delta_for_mu(0.0, mu) <= delta:
        return 0.0
    if delta_for_mu(MAX_EPSILON, mu) > delta:
        raise AccountingError(f"noise_multiplier {noise_multiplier:g} over {num_iterations} iterations gives an epsilon "
                              f"above {MAX_EPSILON:g} at delta {delta:g}: no meaningful guarantee; add more noise")
    # delta(eps) decreases in eps, so the root is unique.
    return float(optimize.brentq(lambda eps: delta_for_mu(eps, mu) - delta, 0.0, MAX_EPSILON, xtol=1e-12, rtol=1e-12))


def noise_multiplier_for_epsilon(*, epsilon: float, delta: float, num_iterations: int) -> float:
    """The smallest noise multiplier sigma that makes PE (epsilon, delta)-DP over ``num_iterations``."""
    epsilon = _check_epsilon(epsilon)
    delta = _check_delta(delta)
    num_iterations = _check_iterations(num_iterations)
    # delta(eps; mu) increases in mu: find the largest admissible mu.
    mu = optimize.brentq(lambda m: delta_for_mu(epsilon, m) - delta, _MU_LOWER, _MU_UPPER, xtol=1e-14, rtol=1e-14)
    return float(math.sqrt(num_iterations) / mu)


def pld_discretization(epsilon: float) -> float:
    """The PLD grid step for a cross-check near ``epsilon``: 1e-4, coarser for large epsilon.

    The PLD's cost grows with epsilon / step (54 s at epsilon 1000 with a fixed 1e-4); a step of
    2e-5 * epsilon keeps it under a second while its pessimistic rounding stays far below 0.1%.
    """
    return max(1e-4, 2e-5 * float(epsilon))


def pld_epsilon(*, noise_multiplier: float, delta: float, num_iterations: int, discretization: float = 1e-4) -> float:
    """Independent cross-check: epsilon from dp-accounting's PLD accountant on composed Gaussian events."""
    from dp_accounting import dp_event
    from dp_accounting.pld import pld_privacy_accountant

    accountant = pld_privacy_accountant.PLDAccountant(value_discretization_interval=discretization)
    accountant.compose(dp_event.GaussianDpEvent(float(noise_multiplier)), int(num_iterations))
    return float(accountant.get_epsilon(float(delta)))


def calibrate(
    *,
    delta: float,
    num_iterations: int,
    epsilon: float | None = None,
    noise_multiplier: float | None = None,
    cross_check: bool = True,
) -> dict:
    """Solve for whichever of epsilon / noise_multiplier is missing; return a JSON-ready record."""
    if (epsilon is None) == (noise_multiplier is None):
        raise ValueError("give exactly one of epsilon or noise_multiplier")
    if epsilon is not None:
        noise_multiplier = noise_multiplier_for_epsilon(epsilon=epsilon, delta=delta, num_iterations=num_iterations)
        solved_for = "noise_multiplier"
    else:
        epsilon = epsilon_for_noise_multiplier(noise_multiplier=noise_multiplier, delta=delta, num_iterations=num_iterations)
        solved_for = "epsilon"
    record = {
        "epsilon": float(epsilon),
        "delta": float(delta),
        "noise_multiplier": float(noise_multiplier),
        "num_iterations": int(num_iterations),
        "mu": gdp_mu(noise_multiplier=noise_multiplier, num_iterations=num_iterations),
        "solved_for": solved_for,
        "accountant": ACCOUNTANT,
        "accountant_description": ACCOUNTANT_DESCRIPTION,
        "sensitivity_l2": SENSITIVITY_L2,
        "neighbouring": NEIGHBOURING,
    }
    if cross_check:
        step = pld_discretization(epsilon)
        record["cross_check"] = {
            "accountant": "dp_accounting.pld.PLDAccountant",
            "epsilon": pld_epsilon(noise_multiplier=noise_multiplier, delta=delta, num_iterations=num_iterations,
                                   discretization=step),
            "value_discretization_interval": step,
        }
    return record
