"""Calibration: the noise multiplier that meets a target epsilon (or the epsilon of a given one), cross-checked.

DP-SGD (:func:`calibrate_sgd`, :func:`epsilon_for`): ``steps`` compositions of a Poisson-subsampled Gaussian
mechanism. Each step includes every private example independently with probability ``sample_rate`` (q),
clips each per-example gradient to L2 norm ``max_grad_norm`` and adds Gaussian noise of standard deviation
``noise_multiplier * max_grad_norm`` to their sum: sensitivity 1 in units of the clip norm, add/remove
neighbours (under which Poisson subsampling amplifies privacy). The accountant is any registered one that
computes ``"poisson_gaussian"`` (``privevo.accountants.SGD_ACCOUNTANTS``: prv, rdp, pld).

The independent cross-check is dp-accounting's PLD (pessimistic discretisation, so also an upper bound).
:func:`calibrate_sgd` never reports an epsilon more than 1% below the PLD's: if the named accountant falls
below that, the PLD epsilon is reported instead and the record says so.

:func:`calibrate_sgd_after` solves DP-SGD's noise multiplier after other releases ("PE + DP-SGD" mixing:
PE's histograms, then DP-SGD fine-tuning), so that their PLD composition meets one total epsilon.

:func:`solve_noise_multiplier` is the search all of them use (and PE's ``gdp.calibrate`` for accountants
without an exact inverse).
"""

from __future__ import annotations

import logging
import math
from typing import Callable

from privevo.accountants import ACCOUNTANTS
from privevo.accountants.analysis.pld import (
    COMPOSE_DISCRETIZATION,
    compose_epsilon,
    composed_discretization,
    pld_discretization,
    pld_epsilon,
)
from privevo.accountants.records import composed_record, sgd_cross_check, sgd_record
from privevo.accountants.validation import (
    MAX_EPSILON,
    AccountingError,
    check_count,
    check_delta,
    check_epsilon,
    check_noise_multiplier,
    check_positive,
    check_result,
    check_sample_rate,
    check_target,
    describe,
    plain_events,
)

logger = logging.getLogger("privevo.accountants.calibration")

UPPER_BOUND_TOLERANCE = 0.01
"""The reported epsilon may sit at most this fraction below the PLD cross-check's."""
SOLVE_TOLERANCE = 0.005
"""When solving for noise_multiplier, the reported epsilon lands in [target * (1 - this), target]."""
FINE_DISCRETIZATION_FACTOR = 10
"""The upper-bound check of a composition composes again on a grid this many times finer than the one solved on."""
SIGMA_LOWER, SIGMA_UPPER = 0.1, 1e4
"""The noise multipliers the search tries."""


# --------------------------------------------------------------------------------------------
# the search and the cross-check rule


def solve_noise_multiplier(epsilon_of: Callable[[float], float], target: float, *, start: float = 1.0) -> float:
    """The (nearly) smallest sigma with ``epsilon_of(sigma) <= target``; ``epsilon_of`` decreases in sigma.

    Returns sigma with ``epsilon_of(sigma)`` in ``[target * (1 - SOLVE_TOLERANCE), target]``, or as close as the
    accountant's own resolution allows (the bisection stops when the bracket is 1e-6 relative).
    """
    def feasible(sigma: float) -> tuple[bool, float]:
        try:
            value = epsilon_of(sigma)
        except AccountingError:
            return False, math.inf  # epsilon too large to compute: sigma too small
        return value <= target, value

    hi = float(start)
    ok, value = feasible(hi)
    lo_value = math.inf
    doubled = False
    while not ok:
        if hi >= SIGMA_UPPER:
            raise AccountingError(f"epsilon {target:g} needs a noise_multiplier above {SIGMA_UPPER:g}; "
                                  "take fewer steps, sample less or allow a larger epsilon")
        lo_value = value
        hi, doubled = 2 * hi, True
        ok, value = feasible(hi)
    best, best_value, lo = hi, value, hi / 2
    while not doubled:  # walk down until infeasible: then [lo, hi] brackets the answer
        ok, value = feasible(lo)
        if not ok:
            lo_value = value
            break
        if lo < SIGMA_LOWER:
            raise AccountingError(f"epsilon {target:g} is reached with a noise_multiplier below {SIGMA_LOWER:g}, "
                                  "where the accountants are unreliable; ask for a smaller epsilon")
        best, best_value, hi, lo = lo, value, lo, lo / 2
    # Illinois false position on log(epsilon) against log(sigma): a few evaluations instead of ~10 bisections.
    f_lo = math.log(lo_value) - math.log(target)
    f_hi = math.log(best_value) - math.log(target) if best_value > 0 else -math.inf
    side = 0
    while best_value < (1 - SOLVE_TOLERANCE) * target and hi - lo > 1e-6 * hi:
        a, b = math.log(lo), math.log(hi)
        if math.isfinite(f_lo) and math.isfinite(f_hi) and f_lo > f_hi:
            c = b - f_hi * (b - a) / (f_hi - f_lo)
            c = min(max(c, a + 0.01 * (b - a)), b - 0.01 * (b - a))  # stay strictly inside the bracket
        else:
            c = 0.5 * (a + b)
        mid = math.exp(c)
        ok, value = feasible(mid)
        f_mid = math.log(value) - math.log(target) if 0 < value < math.inf else (math.inf if value == math.inf else -math.inf)
        if ok:
            hi, f_hi, best, best_value = mid, f_mid, mid, value
            if side == -1:
                f_lo /= 2
            side = -1
        else:
            lo, f_lo = mid, f_mid
            if side == 1:
                f_hi /= 2
            side = 1
    return float(best)


def cross_checked(accountant_epsilon: float, pld: float) -> tuple[float, str]:
    """The epsilon to report and where it comes from: the accountant's unless more than 1% below the PLD's."""
    if accountant_epsilon >= (1 - UPPER_BOUND_TOLERANCE) * pld:
        return accountant_epsilon, "accountant"
    return pld, "cross_check"


# --------------------------------------------------------------------------------------------
# DP-SGD


def epsilon_for(*, sample_rate: float, noise_multiplier: float, steps: int, delta: float, accountant: str = "prv") -> float:
    """Epsilon at ``delta`` of ``steps`` DP-SGD steps, from the named accountant (an upper bound)."""
    q = check_sample_rate(sample_rate)
    sigma = check_noise_multiplier(noise_multiplier)
    steps = check_count("steps", steps)
    delta = check_delta(delta)
    event = {"kind": "poisson_gaussian", "sample_rate": q, "noise_multiplier": sigma, "count": steps}
    return check_result(ACCOUNTANTS.get(accountant, computes="poisson_gaussian").epsilon(event, delta=delta),
                        describe(q, sigma, steps))


def calibrate_sgd(
    *,
    sample_rate: float,
    steps: int,
    delta: float,
    epsilon: float | None = None,
    noise_multiplier: float | None = None,
    accountant: str = "prv",
    cross_check: bool = True,
) -> dict:
    """Solve for whichever of epsilon / noise_multiplier is missing; return a JSON-ready record.

    The record has gdp.calibrate's keys where they apply (``epsilon``, ``delta``, ``noise_multiplier``,
    ``solved_for``, ``accountant``, ``accountant_description``, ``neighbouring``, ``cross_check``) and
    ``sample_rate``, ``steps``, ``sampling`` ("poisson"), ``mechanism``, ``accountant_epsilon`` (the
    named accountant's number) and ``epsilon_source`` ("accountant", or "cross_check" when the named
    accountant was more than 1% below the PLD and the PLD's epsilon is reported instead).

    Given ``epsilon``, the noise multiplier is the (nearly) smallest whose *reported* epsilon is at most
    the target and within 0.5% of it.
    """
    check_target(epsilon, noise_multiplier)
    q = check_sample_rate(sample_rate)
    steps = check_count("steps", steps)
    delta = check_delta(delta)
    accountant = ACCOUNTANTS.check(accountant, computes="poisson_gaussian")

    def named(sigma: float) -> float:
        return epsilon_for(sample_rate=q, noise_multiplier=sigma, steps=steps, delta=delta, accountant=accountant)

    def pld(sigma: float, eps: float) -> tuple[float, float]:
        step = pld_discretization(eps)
        return pld_epsilon(sample_rate=q, noise_multiplier=sigma, steps=steps, delta=delta, discretization=step), step

    check = step = None
    if epsilon is not None:
        target = check_epsilon(epsilon)
        sigma = solve_noise_multiplier(named, target)
        solved_for = "noise_multiplier"
        accountant_epsilon = named(sigma)
        if cross_check:
            check, step = pld(sigma, accountant_epsilon)
            if cross_checked(accountant_epsilon, check)[0] > target:
                logger.warning("%s accountant is more than %.0f%% below the PLD cross-check at noise_multiplier %.4f; "
                               "recalibrating to the PLD", accountant, 100 * UPPER_BOUND_TOLERANCE, sigma)
                # a coarser (pessimistic, so larger) PLD grid inside the solve keeps it fast and errs on the safe side
                coarse = max(COMPOSE_DISCRETIZATION, pld_discretization(target))
                sigma = solve_noise_multiplier(
                    lambda s: cross_checked(named(s), pld_epsilon(sample_rate=q, noise_multiplier=s, steps=steps,
                                                                  delta=delta, discretization=coarse))[0],
                    target, start=sigma)
                accountant_epsilon = named(sigma)
                check, step = pld(sigma, accountant_epsilon)
    else:
        sigma = check_noise_multiplier(noise_multiplier)
        solved_for = "epsilon"
        accountant_epsilon = named(sigma)
        if cross_check:
            check, step = pld(sigma, accountant_epsilon)

    record = sgd_record(accountant_epsilon=accountant_epsilon, delta=delta, noise_multiplier=sigma, sample_rate=q,
                        steps=steps, solved_for=solved_for, accountant=accountant,
                        description=ACCOUNTANTS.describe(accountant))
    if cross_check:
        record["epsilon"], record["epsilon_source"] = cross_checked(accountant_epsilon, check)
        record["cross_check"] = sgd_cross_check(accountant_epsilon=accountant_epsilon, pld_epsilon=check,
                                                discretization=step, tolerance=UPPER_BOUND_TOLERANCE)
        if record["epsilon_source"] == "cross_check":
            logger.warning("%s epsilon %.4f is more than %.0f%% below the PLD's %.4f: reporting the PLD's",
                           accountant, accountant_epsilon, 100 * UPPER_BOUND_TOLERANCE, check)
    return record


# --------------------------------------------------------------------------------------------
# DP-SGD after other releases ("PE + DP-SGD" mixing under one accountant)


def calibrate_sgd_after(
    prior_events,
    *,
    sample_rate: float,
    steps: int,
    delta: float,
    epsilon: float | None = None,
    noise_multiplier: float | None = None,
    discretization: float | None = None,
) -> dict:
    """DP-SGD calibrated so that ``prior_events`` *and* the DP-SGD steps together cost at most ``epsilon``.

    ``prior_events`` are releases already made from the same private data, as event dicts of
    :func:`~privevo.accountants.analysis.pld.compose_epsilon` (for "PE + DP-SGD": PE's ``{"kind": "gaussian",
    "noise_multiplier": sigma_PE, "count": T}``). The DP-SGD part is ``{"kind": "poisson_gaussian", "sample_rate":
    q, "noise_multiplier": sigma, "count": steps}``. Give exactly one of ``epsilon`` (the total target: sigma is
    solved so that the composed epsilon lies in ``[epsilon * (1 - SOLVE_TOLERANCE), epsilon]``) or
    ``noise_multiplier`` (the composed epsilon is computed).

    The accountant of the whole composition is dp-accounting's PLD (``records.COMPOSED_ACCOUNTANT``): the
    named DP-SGD accountants cannot compose heterogeneous events. It is solved on a pessimistic grid of step
    ``discretization`` (default 1e-3, 2e-5 * epsilon above epsilon 50) and checked on a grid
    :data:`FINE_DISCRETIZATION_FACTOR` times finer: the reported ``epsilon`` is the larger of the two, and the
    check (``cross_check``) passes when the finer grid is not more than :data:`UPPER_BOUND_TOLERANCE` above
    the coarser one. Raises :class:`AccountingError` when the prior events alone already cost the target.

    The record has :func:`calibrate_sgd`'s keys (``accountant`` is ``records.COMPOSED_ACCOUNTANT``,
    ``accountant_epsilon`` the coarse grid's composed epsilon, ``cross_check`` the finer grid's) and
    ``events`` (prior events then the DP-SGD event), ``prior_events``, ``dpsgd_events``, ``prior_epsilon`` and
    ``dpsgd_epsilon`` (each part alone, by PLD on the same grid and at the same delta), ``composition``
    ("pld") and ``value_discretization_interval``.
    """
    check_target(epsilon, noise_multiplier)
    prior = plain_events(prior_events, "prior_events")
    q = check_sample_rate(sample_rate)
    steps = check_count("steps", steps)
    delta = check_delta(delta)
    target = check_epsilon(epsilon) if epsilon is not None else None
    if discretization is not None:
        discretization = check_positive("discretization", discretization)

    def sgd_events(sigma: float) -> list[dict]:
        return [{"kind": "poisson_gaussian", "sample_rate": q, "noise_multiplier": float(sigma), "count": steps}]

    def composed(sigma: float, step: float) -> float:
        return compose_epsilon(prior + sgd_events(sigma), delta=delta, discretization=step)

    if target is not None:
        step = discretization or composed_discretization(target)
        try:  # first on a grid scaled to the prior's own epsilon: cheap even when it is far above the target
            prior_epsilon = compose_epsilon(prior, delta=delta)
        except AccountingError:
            prior_epsilon = math.inf
        if prior_epsilon < target:
            prior_epsilon = compose_epsilon(prior, delta=delta, discretization=step)
        if prior_epsilon >= target:
            cost = f"{prior_epsilon:.4g}" if math.isfinite(prior_epsilon) else f"above {MAX_EPSILON:g}"
            raise AccountingError(f"PE's releases (prior_events) alone cost epsilon {cost} >= total "
                                  f"{target:.4g} at delta {delta:g}; lower mixing.pe_fraction (or raise the total epsilon)")

        least = composed(SIGMA_UPPER, step)  # DP-SGD with the most noise the solver tries
        if least > target:
            raise AccountingError(f"PE's releases (prior_events) alone cost epsilon {prior_epsilon:.6g} of the total "
                                  f"{target:.4g} at delta {delta:g}, too close to it: with {steps} DP-SGD steps even at "
                                  f"noise_multiplier {SIGMA_UPPER:g} the composition costs {least:.6g}; lower "
                                  "mixing.pe_fraction (or raise the total epsilon)")

        def solve(grid: float, start: float) -> float:
            try:
                return solve_noise_multiplier(lambda s: composed(s, grid), target, start=start)
            except AccountingError as err:
                raise AccountingError(f"DP-SGD after PE's releases (epsilon {prior_epsilon:.4g} of the total "
                                      f"{target:.4g}): {err}") from None

        sigma = solve(step, 1.0)
        solved_for = "noise_multiplier"
    else:
        sigma = check_noise_multiplier(noise_multiplier)
        step = discretization or composed_discretization(
            compose_epsilon(prior + sgd_events(sigma), delta=delta, discretization=1e-2))
        prior_epsilon = compose_epsilon(prior, delta=delta, discretization=step)
        solved_for = "epsilon"

    fine_step = step / FINE_DISCRETIZATION_FACTOR
    coarse, fine = composed(sigma, step), composed(sigma, fine_step)
    if target is not None and fine > target:
        # the finer grid is above the coarse one and the target: solve on the finer grid itself
        logger.warning("PLD on grid %g gives epsilon %.4f above the target %.4f (grid %g: %.4f); resolving on the finer "
                       "grid", fine_step, fine, target, step, coarse)
        sigma = solve(fine_step, sigma)
        coarse, fine = composed(sigma, step), composed(sigma, fine_step)
    passed = fine <= (1 + UPPER_BOUND_TOLERANCE) * coarse
    if not passed:
        logger.warning("composed PLD epsilon on grid %g (%.4f) is more than %.0f%% above grid %g's (%.4f): reporting "
                       "the larger", fine_step, fine, 100 * UPPER_BOUND_TOLERANCE, step, coarse)
    dpsgd = sgd_events(sigma)
    dpsgd_epsilon = compose_epsilon(dpsgd, delta=delta, discretization=step)
    logger.info("DP-SGD after prior releases: noise_multiplier %.4f; epsilon %.4f composed (prior %.4f, DP-SGD %.4f)",
                sigma, max(coarse, fine), prior_epsilon, dpsgd_epsilon)
    return composed_record(coarse=coarse, fine=fine, step=step, fine_step=fine_step, tolerance=UPPER_BOUND_TOLERANCE,
                           passed=passed, delta=delta, noise_multiplier=sigma, sample_rate=q, steps=steps,
                           solved_for=solved_for, target=target, prior=prior, dpsgd=dpsgd, prior_epsilon=prior_epsilon,
                           dpsgd_epsilon=dpsgd_epsilon)
