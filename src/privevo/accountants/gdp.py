"""PE's accountant: the privacy of T histogram releases with L2 sensitivity 1, and its calibration.

``mechanism`` is ``"discrete_gaussian"`` (the default histograms: integer votes, m per private sample, plus exact
discrete Gaussian noise; :mod:`privevo.accountants.analysis.discrete`) or ``"gaussian"`` (continuous noise).

:func:`calibrate` solves for the noise multiplier of an epsilon (or the epsilon of a noise multiplier)
through the registry: ``accountant`` is any registered accountant that computes ``"gaussian"``
(``privevo.accountants.PE_ACCOUNTANTS``), by default ``gdp``, the exact mu-GDP composition
(:mod:`privevo.accountants.analysis.gdp`), whose declared exact inverse gives the noise multiplier; an
accountant without one is searched (:func:`privevo.accountants.calibration.solve_noise_multiplier`). The
record carries dp-accounting's PLD as an independent cross-check.
"""

from __future__ import annotations

import math

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
DISCRETE_KIND = "discrete_gaussian"
MECHANISMS = (DISCRETE_KIND, KIND)


def _event(noise_multiplier: float, num_iterations: int, mechanism: str = KIND, votes_per_sample: int = 1) -> dict:
    event = {"kind": mechanism, "noise_multiplier": check_noise_multiplier(noise_multiplier),
             "count": check_iterations(num_iterations)}
    if mechanism == DISCRETE_KIND:
        event["votes_per_sample"] = int(votes_per_sample)
    elif mechanism != KIND:
        raise ValueError(f"PE's histogram mechanism must be one of {', '.join(MECHANISMS)}, got {mechanism!r}")
    return event


def epsilon_for_noise_multiplier(*, noise_multiplier: float, delta: float, num_iterations: int,
                                 accountant: str = "gdp", mechanism: str = KIND, votes_per_sample: int = 1) -> float:
    """The epsilon at ``delta`` of ``num_iterations`` histogram releases with this noise, by ``accountant``."""
    entry = ACCOUNTANTS.get(accountant, computes=mechanism)
    return entry.epsilon(_event(noise_multiplier, num_iterations, mechanism, votes_per_sample), delta=check_delta(delta))


def noise_multiplier_for_epsilon(*, epsilon: float, delta: float, num_iterations: int, accountant: str = "gdp",
                                 mechanism: str = KIND, votes_per_sample: int = 1) -> float:
    """The (for ``gdp`` exactly, otherwise nearly) smallest noise multiplier that makes ``num_iterations`` histogram
    releases (``epsilon``, ``delta``)-DP by ``accountant``."""
    entry = ACCOUNTANTS.get(accountant, computes=mechanism)
    inverse = entry.inverse()
    if inverse is not None and mechanism == KIND:
        return inverse(epsilon=epsilon, delta=delta, num_iterations=num_iterations)
    from privevo.accountants.calibration import solve_noise_multiplier

    target, delta, num_iterations = check_epsilon(epsilon), check_delta(delta), check_iterations(num_iterations)
    # The continuous mechanism's exact sigma is where every accountant of these releases lands within a few per
    # cent: starting just above it brackets the answer in a couple of evaluations.
    start = 1.01 * analysis.noise_multiplier_for_epsilon(epsilon=target, delta=delta, num_iterations=num_iterations)
    return solve_noise_multiplier(
        lambda sigma: check_result(entry.epsilon(_event(sigma, num_iterations, mechanism, votes_per_sample),
                                                 delta=delta),
                                   f"noise_multiplier {sigma:g} over {num_iterations} iterations"), target, start=start)


def calibrate(
    *,
    delta: float,
    num_iterations: int,
    epsilon: float | None = None,
    noise_multiplier: float | None = None,
    cross_check: bool = True,
    accountant: str = "gdp",
    mechanism: str = KIND,
    votes_per_sample: int = 1,
) -> dict:
    """Solve for whichever of epsilon / noise_multiplier is missing; return a JSON-ready record.

    ``mechanism`` ``"discrete_gaussian"`` accounts the exact histograms (``votes_per_sample`` = m integer votes per
    private sample); its record also holds CKS20's zCDP bound, OpenDP's own rho and the continuous mechanism's
    epsilon at the same sigma (``discrete``)."""
    check_target(epsilon, noise_multiplier)
    accountant = ACCOUNTANTS.check(accountant, computes=mechanism)
    how = dict(accountant=accountant, mechanism=mechanism, votes_per_sample=votes_per_sample)
    if epsilon is not None:
        noise_multiplier = noise_multiplier_for_epsilon(epsilon=epsilon, delta=delta, num_iterations=num_iterations,
                                                        **how)
        solved_for = "noise_multiplier"
        accounted = epsilon
        if ACCOUNTANTS.get(accountant).inverse() is None or mechanism != KIND:
            # A search lands at or just below the target: the guarantee stated is the target (an upper bound on
            # the accountant's value), and the accountant's own value is recorded beside it.
            accounted = epsilon_for_noise_multiplier(noise_multiplier=noise_multiplier, delta=delta,
                                                     num_iterations=num_iterations, **how)
            if accounted > epsilon:
                raise ArithmeticError(f"the noise found for epsilon {epsilon:g} is accounted at {accounted:g}")
    else:
        noise_multiplier = check_noise_multiplier(noise_multiplier)
        epsilon = accounted = epsilon_for_noise_multiplier(noise_multiplier=noise_multiplier, delta=delta,
                                                           num_iterations=num_iterations, **how)
        solved_for = "epsilon"
    record = pe_record(epsilon=epsilon, delta=delta, noise_multiplier=noise_multiplier, num_iterations=num_iterations,
                       mu=analysis.gdp_mu(noise_multiplier=noise_multiplier, num_iterations=num_iterations),
                       solved_for=solved_for, accountant=accountant, description=ACCOUNTANTS.describe(accountant))
    record["epsilon_accounted"] = float(accounted)
    record["mechanism"] = mechanism
    if mechanism == DISCRETE_KIND:
        record["votes_per_sample"] = int(votes_per_sample)
        record["discrete"] = discrete_record(noise_multiplier=noise_multiplier, delta=delta,
                                             num_iterations=num_iterations, votes_per_sample=votes_per_sample,
                                             epsilon=accounted)
    if cross_check:
        step = pld_discretization(epsilon)
        record["cross_check"] = pe_cross_check(
            pld_epsilon(noise_multiplier=noise_multiplier, delta=delta, num_iterations=num_iterations,
                        discretization=step), step)
        if mechanism == DISCRETE_KIND:
            record["cross_check"]["mechanism"] = ("the continuous Gaussian at the same sigma (dp-accounting PLD): how "
                                                  "far the exact mechanism's epsilon is from the continuous one")
    return record


ZCDP_TOLERANCE = 1e-9
"""Relative agreement required between OpenDP's rho and CKS20's T / (2 sigma^2) (both closed forms)."""


def discrete_record(*, noise_multiplier: float, delta: float, num_iterations: int, votes_per_sample: int,
                    epsilon: float) -> dict:
    """The exact histograms' other guarantees beside the accountant's ``epsilon``: CKS20's zCDP rho and its
    (epsilon, delta), OpenDP's rho from the sampler's own privacy map, and the continuous Gaussian's exact GDP
    epsilon at the same sigma. Raises when the two rhos disagree or the zCDP bound is below the accountant's."""
    from privevo.accountants.analysis import discrete

    rho = discrete.zcdp_rho(noise_multiplier=noise_multiplier, num_iterations=num_iterations)
    opendp_rho = discrete.opendp_rho(noise_multiplier=noise_multiplier, num_iterations=num_iterations,
                                     votes_per_sample=votes_per_sample)
    zcdp_epsilon = discrete.epsilon_of_rho(rho, delta=delta)
    continuous = analysis.epsilon_for_noise_multiplier(noise_multiplier=noise_multiplier, delta=delta,
                                                       num_iterations=num_iterations)
    if abs(opendp_rho - rho) > ZCDP_TOLERANCE * rho:
        raise ArithmeticError(f"OpenDP's rho {opendp_rho!r} disagrees with CKS20's T/(2 sigma^2) = {rho!r}")
    if zcdp_epsilon < epsilon * (1 - 1e-6):
        raise ArithmeticError(f"the zCDP bound {zcdp_epsilon:g} is below the accountant's epsilon {epsilon:g}: one of "
                              "the two analyses of the same mechanism is wrong")
    return {
        "distribution": "discrete Gaussian on integer vote counts (Canonne, Kamath and Steinke 2020)",
        "integer_votes": f"each private sample casts 1 vote for each of its {votes_per_sample} nearest candidates",
        "sensitivity_l2_integer_votes": math.sqrt(votes_per_sample),
        "noise_scale_integer_votes": float(noise_multiplier) * math.sqrt(votes_per_sample),
        "zcdp_rho": rho,
        "zcdp_rho_opendp": opendp_rho,
        "zcdp_epsilon": zcdp_epsilon,
        "zcdp_note": "CKS20 Theorem 14 (product discrete Gaussian, integer shift) and Corollary 13 (zCDP to "
                     "(epsilon, delta)): a closed-form upper bound, looser than the PLD",
        "continuous_gaussian_epsilon": continuous,
        "epsilon_over_continuous": epsilon - continuous,
        "pld_value_discretization_interval": discrete.PLD_DISCRETIZATION,
    }
