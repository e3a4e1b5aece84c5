"""PE's accountant: the privacy of T Gaussian histogram releases with L2 sensitivity 1, and its calibration.

:func:`calibrate` solves for the noise multiplier of an epsilon (or the epsilon of a noise multiplier)
through the registry: ``accountant`` is any registered accountant that computes ``"gaussian"``
(``privevo.accountants.PE_ACCOUNTANTS``), by default ``gdp``, the exact mu-GDP composition
(:mod:`privevo.accountants.analysis.gdp`), whose declared exact inverse gives the noise multiplier; an
accountant without one is searched (:func:`privevo.accountants.calibration.solve_noise_multiplier`). The
record carries dp-accounting's PLD as an independent cross-check.
"""

from __future__ import annotations

from privevo.accountants import ACCOUNTANTS
from privevo.accountants.analysis import gdp as analysis
from privevo.accountants.analysis.gdp import pld_epsilon
from privevo.accountants.analysis.pld import pld_discretization
from privevo.accountants.records import pe_cross_check, pe_record
from privevo.accountants.validation import (
    check_delta,
    check_epsilon,
    check_iterations,
    check_noise_multiplier,
    check_result,
    check_target,
)

KIND = "gaussian"


def _event(noise_multiplier: float, num_iterations: int) -> dict:
    return {"kind": KIND, "noise_multiplier": check_noise_multiplier(noise_multiplier),
            "count": check_iterations(num_iterations)}


def epsilon_for_noise_multiplier(*, noise_multiplier: float, delta: float, num_iterations: int,
                                 accountant: str = "gdp") -> float:
    """The epsilon at ``delta`` of ``num_iterations`` Gaussian releases with this noise, by ``accountant``."""
    entry = ACCOUNTANTS.get(accountant, computes=KIND)
    return entry.epsilon(_event(noise_multiplier, num_iterations), delta=check_delta(delta))


def noise_multiplier_for_epsilon(*, epsilon: float, delta: float, num_iterations: int, accountant: str = "gdp") -> float:
    """The (for ``gdp`` exactly, otherwise nearly) smallest noise multiplier that makes ``num_iterations`` Gaussian
    releases (``epsilon``, ``delta``)-DP by ``accountant``."""
    entry = ACCOUNTANTS.get(accountant, computes=KIND)
    inverse = entry.inverse()
    if inverse is not None:
        return inverse(epsilon=epsilon, delta=delta, num_iterations=num_iterations)
    from privevo.accountants.calibration import solve_noise_multiplier

    target, delta, num_iterations = check_epsilon(epsilon), check_delta(delta), check_iterations(num_iterations)
    return solve_noise_multiplier(
        lambda sigma: check_result(entry.epsilon(_event(sigma, num_iterations), delta=delta),
                                   f"noise_multiplier {sigma:g} over {num_iterations} iterations"), target)


def calibrate(
    *,
    delta: float,
    num_iterations: int,
    epsilon: float | None = None,
    noise_multiplier: float | None = None,
    cross_check: bool = True,
    accountant: str = "gdp",
) -> dict:
    """Solve for whichever of epsilon / noise_multiplier is missing; return a JSON-ready record."""
    check_target(epsilon, noise_multiplier)
    accountant = ACCOUNTANTS.check(accountant, computes=KIND)
    if epsilon is not None:
        noise_multiplier = noise_multiplier_for_epsilon(epsilon=epsilon, delta=delta, num_iterations=num_iterations,
                                                        accountant=accountant)
        solved_for = "noise_multiplier"
        if ACCOUNTANTS.get(accountant).inverse() is None:  # a search: report the epsilon of the sigma found
            epsilon = epsilon_for_noise_multiplier(noise_multiplier=noise_multiplier, delta=delta,
                                                   num_iterations=num_iterations, accountant=accountant)
    else:
        noise_multiplier = check_noise_multiplier(noise_multiplier)
        epsilon = epsilon_for_noise_multiplier(noise_multiplier=noise_multiplier, delta=delta,
                                               num_iterations=num_iterations, accountant=accountant)
        solved_for = "epsilon"
    record = pe_record(epsilon=epsilon, delta=delta, noise_multiplier=noise_multiplier, num_iterations=num_iterations,
                       mu=analysis.gdp_mu(noise_multiplier=noise_multiplier, num_iterations=num_iterations),
                       solved_for=solved_for, accountant=accountant, description=ACCOUNTANTS.describe(accountant))
    if cross_check:
        step = pld_discretization(epsilon)
        record["cross_check"] = pe_cross_check(
            pld_epsilon(noise_multiplier=noise_multiplier, delta=delta, num_iterations=num_iterations,
                        discretization=step), step)
    return record
