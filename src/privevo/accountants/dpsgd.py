"""Privacy accounting of DP-SGD: ``steps`` compositions of a Poisson-subsampled Gaussian mechanism.

Each DP-SGD step includes every private example independently with probability ``sample_rate`` (q),
clips each per-example gradient to L2 norm ``max_grad_norm`` and adds Gaussian noise of standard
deviation ``noise_multiplier * max_grad_norm`` (sigma) to their sum: a subsampled Gaussian mechanism
with sensitivity 1 in units of the clip norm. The neighbouring relation is add/remove one example,
the one under which Poisson subsampling amplifies privacy.

Two accountants can be named (registry ``SGD_ACCOUNTANTS``):

- ``prv``: numerical composition of privacy loss random variables (Gopi, Lee and Wutschitz 2021),
  through Opacus' implementation. It gives an estimate with error bounds; we report its *upper*
  bound (estimate + ``eps_error``, with ``eps_error`` at most 1% of epsilon above epsilon 0.1).
- ``rdp``: Renyi DP of the sampled Gaussian mechanism (Mironov, Talwar and Zhang 2019), through
  Opacus' analysis, converted with Balle et al. 2020. Always an upper bound, 10-50% above the PLD at
  typical DP-SGD settings.

The independent cross-check is dp-accounting's PLD accountant (pessimistic discretisation, so also an
upper bound). :func:`calibrate_sgd` never reports an epsilon more than 1% below the PLD's: if the
named accountant falls below that, the PLD epsilon is reported instead and the record says so.

:func:`compose_epsilon` composes heterogeneous releases (PE's Gaussian histograms and DP-SGD steps) in
one PLD accountant, for a privacy ledger of a pipeline that uses both. :func:`calibrate_sgd_after`
solves DP-SGD's noise multiplier after such releases ("PE + DP-SGD" mixing: PE's histograms, then
DP-SGD fine-tuning), so that their PLD composition meets one total epsilon.
"""

from __future__ import annotations

import functools
import logging
import math
import numbers
import warnings
from typing import Callable

from privevo.accountants import SGD_ACCOUNTANTS
from privevo.accountants.gdp import (
    MAX_EPSILON,
    NEIGHBOURING,
    AccountingError,
    _check_delta,
    _check_epsilon,
    _check_positive,
    pld_discretization,
)

logger = logging.getLogger("privevo.accountants.dpsgd")

MECHANISM = "Poisson-subsampled Gaussian mechanism on clipped per-example gradients (DP-SGD)"
SAMPLING = "poisson"
PLD_ACCOUNTANT = "dp_accounting.pld.PLDAccountant"
ACCOUNTANT_DESCRIPTIONS = {
    "prv": "PRV accountant (Gopi-Lee-Wutschitz 2021, Opacus implementation), upper end of its error bound",
    "rdp": "RDP of the sampled Gaussian mechanism (Mironov-Talwar-Zhang 2019, Opacus analysis), "
           "converted to (epsilon, delta) with Balle et al. 2020",
}
UPPER_BOUND_TOLERANCE = 0.01
"""The reported epsilon may sit at most this fraction below the PLD cross-check's."""
SOLVE_TOLERANCE = 0.005
"""When solving for noise_multiplier, the reported epsilon lands in [target * (1 - this), target]."""

# RDP orders: Opacus' defaults plus larger ones, so the optimum is interior for small epsilon too.
RDP_ORDERS = tuple([1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))
                   + [64, 80, 96, 128, 160, 192, 256, 384, 512, 768, 1024])
PRV_MAX_DOMAIN_POINTS = 20_000_000
"""PRV grids above this many points (~0.5 GB per array) are refused rather than risk running out of memory."""
COMPOSE_DISCRETIZATION = 1e-3
"""PLD grid step of :func:`compose_epsilon` below epsilon 50; pessimistic, so it only rounds epsilon up (~0.1%)."""
_SIGMA_LOWER, _SIGMA_UPPER = 0.1, 1e4


# --------------------------------------------------------------------------------------------
# argument checks


def _check_sample_rate(sample_rate: float) -> float:
    try:
        value = float(sample_rate)
    except (TypeError, ValueError):
        raise AccountingError(f"sample_rate must be a number in (0, 1], got {sample_rate!r}") from None
    if not math.isfinite(value) or not 0 < value <= 1:
        raise AccountingError(f"sample_rate must lie in (0, 1], got {sample_rate!r}")
    return value


def _check_count(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or int(value) != value \
            or value < 1:
        raise AccountingError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_noise_multiplier(noise_multiplier: float) -> float:
    try:
        return _check_positive("noise_multiplier", noise_multiplier)
    except (TypeError, ValueError) as err:
        if isinstance(err, AccountingError):
            raise
        raise AccountingError(f"noise_multiplier must be a positive finite number, got {noise_multiplier!r}") from None


def _check_delta_value(delta: float) -> float:
    try:
        return _check_delta(delta)
    except (TypeError, ValueError) as err:
        if isinstance(err, AccountingError):
            raise
        raise AccountingError(f"delta must lie strictly between 0 and 1, got {delta!r}") from None


def _check_accountant(accountant: str) -> str:
    if accountant not in SGD_ACCOUNTANTS:
        raise AccountingError(f"accountant must be one of {', '.join(SGD_ACCOUNTANTS.names())}, got {accountant!r}")
    return accountant


def _check_result(epsilon: float, what: str) -> float:
    if not math.isfinite(epsilon) or epsilon > MAX_EPSILON:
        raise AccountingError(f"{what} gives an epsilon above {MAX_EPSILON:g}: no meaningful guarantee; add more noise, "
                              "take fewer steps or sample less")
    return float(max(epsilon, 0.0))


def _describe(sample_rate: float, noise_multiplier: float, steps: int) -> str:
    return f"noise_multiplier {noise_multiplier:g} with sample_rate {sample_rate:g} over {steps} steps"


# --------------------------------------------------------------------------------------------
# the two named accountants (registered in privevo.accountants.SGD_ACCOUNTANTS)


@functools.lru_cache(maxsize=512)
def _prv_half_width(sample_rate: float, noise_multiplier: float, steps: int, delta_error: float) -> float:
    """Opacus' safe PRV domain half-width (Gopi et al. remark 5.6) before its ``max(., eps_error)``; cached
    because its RDP bound is the slow part and does not depend on the grid's ``eps_error``."""
    import numpy as np
    from opacus.accountants.analysis.prv import PoissonSubsampledGaussianPRV, compute_safe_domain_size

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # RDP order warnings from the domain-size bound
        prv = PoissonSubsampledGaussianPRV(sample_rate, noise_multiplier)
        return float(compute_safe_domain_size([prv], [steps], eps_error=0.0, delta_error=delta_error))


@functools.lru_cache(maxsize=512)
def _prv_upper(sample_rate: float, noise_multiplier: float, steps: int, delta: float, eps_error: float) -> tuple[float, float]:
    """(estimate, upper bound) of epsilon by Opacus' PRV accountant (``PRVAccountant.get_epsilon`` step by step,
    with a cached domain and a refusal of grids that would not fit in memory)."""
    import numpy as np
    from opacus.accountants.analysis.prv import (
        Domain,
        PoissonSubsampledGaussianPRV,
        TruncatedPrivacyRandomVariable,
        compose_heterogeneous,
        discretize,
    )

    delta_error = delta / 1000  # Opacus' default
    half_width = max(_prv_half_width(sample_rate, noise_multiplier, steps, delta_error), eps_error + 3)
    mesh = eps_error / math.sqrt(steps * math.log(12 / delta_error) / 2)
    if not math.isfinite(half_width) or 2 * half_width / mesh > PRV_MAX_DOMAIN_POINTS:
        raise AccountingError(f"{_describe(sample_rate, noise_multiplier, steps)} needs a PRV grid of more than "
                              f"{PRV_MAX_DOMAIN_POINTS:,} points (epsilon far above the useful range); add more noise")
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            domain = Domain.create_aligned(-half_width, half_width, mesh)
            prv = PoissonSubsampledGaussianPRV(sample_rate, noise_multiplier)
            dprv = discretize(TruncatedPrivacyRandomVariable(prv, domain.t_min, domain.t_max), domain)
            composed = compose_heterogeneous(dprvs=[dprv], num_self_compositions=[steps])
            _, estimate, upper = composed.compute_epsilon(delta, delta_error, eps_error)
    except (ValueError, RuntimeError) as err:  # e.g. "Floating point errors will dominate for such small values of delta"
        raise AccountingError(f"PRV accountant failed for {_describe(sample_rate, noise_multiplier, steps)} at "
                              f"delta {delta:g}: {err}") from None
    return float(estimate), float(upper)


def prv_epsilon(*, sample_rate: float, noise_multiplier: float, steps: int, delta: float) -> float:
    """Upper bound on epsilon from the PRV accountant (error 0.01 above epsilon 1, 1% of epsilon below, at least 1e-3)."""
    estimate, upper = _prv_upper(sample_rate, noise_multiplier, steps, delta, eps_error=0.01)
    if estimate < 1.0:  # a fixed 0.01 would be a large relative error: tighten the grid
        eps_error = max(1e-3, 0.01 * max(estimate, 0.0))
        estimate, upper = _prv_upper(sample_rate, noise_multiplier, steps, delta, eps_error=eps_error)
    return upper


def rdp_epsilon(*, sample_rate: float, noise_multiplier: float, steps: int, delta: float) -> float:
    """Epsilon from RDP of the sampled Gaussian mechanism over :data:`RDP_ORDERS` (Opacus' analysis)."""
    import numpy as np
    from opacus.accountants.analysis import rdp

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        curve = rdp.compute_rdp(q=sample_rate, noise_multiplier=noise_multiplier, steps=steps, orders=list(RDP_ORDERS))
        epsilon, _ = rdp.get_privacy_spent(orders=list(RDP_ORDERS), rdp=curve, delta=delta)
    return float(epsilon)


# --------------------------------------------------------------------------------------------
# PLD (dp-accounting): the cross-check and heterogeneous composition


def _pld(events: list, delta: float, discretization: float) -> float:
    from dp_accounting import dp_event
    from dp_accounting.pld import pld_privacy_accountant

    accountant = pld_privacy_accountant.PLDAccountant(value_discretization_interval=discretization)
    accountant.compose(dp_event.ComposedDpEvent(events) if len(events) > 1 else events[0])
    return float(accountant.get_epsilon(float(delta)))


def _dp_event(event: dict, index: int):
    from dp_accounting import dp_event

    if not isinstance(event, dict):
        raise AccountingError(f"events[{index}] must be a dict, got {type(event).__name__}")
    kind = event.get("kind")
    known = {"gaussian": {"kind", "noise_multiplier", "count"},
             "poisson_gaussian": {"kind", "sample_rate", "noise_multiplier", "count"}}
    if kind not in known:
        raise AccountingError(f"events[{index}].kind must be 'gaussian' or 'poisson_gaussian', got {kind!r}")
    unknown = set(event) - known[kind]
    if unknown:
        raise AccountingError(f"events[{index}]: unknown keys {sorted(unknown)} for kind {kind!r}")
    for key in known[kind] - {"kind"}:
        if key not in event:
            raise AccountingError(f"events[{index}].{key} is missing")
    try:
        sigma = _check_noise_multiplier(event["noise_multiplier"])
        count = _check_count("count", event["count"])
        gaussian = dp_event.GaussianDpEvent(sigma)
        if kind == "gaussian":
            return dp_event.SelfComposedDpEvent(gaussian, count)
        q = _check_sample_rate(event["sample_rate"])
    except AccountingError as err:
        raise AccountingError(f"events[{index}].{err}") from None
    return dp_event.SelfComposedDpEvent(dp_event.PoissonSampledDpEvent(q, gaussian), count)


def compose_epsilon(events: list[dict], *, delta: float, discretization: float | None = None) -> float:
    """Epsilon at ``delta`` of all ``events`` composed in one dp-accounting PLD accountant (add/remove).

    Each event is ``{"kind": "gaussian", "noise_multiplier": s, "count": T}`` (T Gaussian releases
    with L2 sensitivity 1, e.g. PE's vote histograms) or ``{"kind": "poisson_gaussian",
    "sample_rate": q, "noise_multiplier": s, "count": steps}`` (DP-SGD steps). The grid step is
    :data:`COMPOSE_DISCRETIZATION`, or 2e-5 * epsilon above epsilon 50 (found by a coarse first pass)
    so that large epsilons stay fast; the PLD's pessimistic rounding only ever rounds epsilon up.
    """
    delta = _check_delta_value(delta)
    if not isinstance(events, (list, tuple)) or not events:
        raise AccountingError(f"events must be a non-empty list of event dicts, got {events!r}")
    dp_events = [_dp_event(event, i) for i, event in enumerate(events)]
    if discretization is None:
        rough = _pld(dp_events, delta, 1e-2)
        if rough > MAX_EPSILON:
            return _check_result(rough, f"composing {len(events)} events")
        discretization = max(COMPOSE_DISCRETIZATION, 2e-5 * rough)
    else:
        discretization = _check_positive("discretization", discretization)
    return _check_result(_pld(dp_events, delta, discretization), f"composing {len(events)} events")


def pld_epsilon(*, sample_rate: float, noise_multiplier: float, steps: int, delta: float,
                discretization: float = 1e-4) -> float:
    """Cross-check: dp-accounting's PLD on ``SelfComposed(PoissonSampled(q, Gaussian(sigma)), steps)``."""
    event = {"kind": "poisson_gaussian", "sample_rate": sample_rate, "noise_multiplier": noise_multiplier,
             "count": _check_count("steps", steps)}
    return compose_epsilon([event], delta=delta, discretization=discretization)


# --------------------------------------------------------------------------------------------
# public entry points


def epsilon_for(*, sample_rate: float, noise_multiplier: float, steps: int, delta: float, accountant: str = "prv") -> float:
    """Epsilon at ``delta`` of ``steps`` DP-SGD steps, from the named accountant (an upper bound)."""
    q = _check_sample_rate(sample_rate)
    sigma = _check_noise_multiplier(noise_multiplier)
    steps = _check_count("steps", steps)
    delta = _check_delta_value(delta)
    compute = SGD_ACCOUNTANTS.get(_check_accountant(accountant))
    return _check_result(compute(sample_rate=q, noise_multiplier=sigma, steps=steps, delta=delta),
                         _describe(q, sigma, steps))


def _cross_checked(accountant_epsilon: float, pld: float) -> tuple[float, str]:
    """The epsilon to report and where it comes from: the accountant's unless more than 1% below the PLD's."""
    if accountant_epsilon >= (1 - UPPER_BOUND_TOLERANCE) * pld:
        return accountant_epsilon, "accountant"
    return pld, "cross_check"


def _solve_noise_multiplier(epsilon_of: Callable[[float], float], target: float, *, start: float = 1.0) -> float:
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
        if hi >= _SIGMA_UPPER:
            raise AccountingError(f"epsilon {target:g} needs a noise_multiplier above {_SIGMA_UPPER:g}; "
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
        if lo < _SIGMA_LOWER:
            raise AccountingError(f"epsilon {target:g} is reached with a noise_multiplier below {_SIGMA_LOWER:g}, "
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
    if (epsilon is None) == (noise_multiplier is None):
        raise AccountingError("give exactly one of epsilon or noise_multiplier")
    q = _check_sample_rate(sample_rate)
    steps = _check_count("steps", steps)
    delta = _check_delta_value(delta)
    accountant = _check_accountant(accountant)

    def named(sigma: float) -> float:
        return epsilon_for(sample_rate=q, noise_multiplier=sigma, steps=steps, delta=delta, accountant=accountant)

    def pld(sigma: float, eps: float) -> tuple[float, float]:
        step = pld_discretization(eps)
        return pld_epsilon(sample_rate=q, noise_multiplier=sigma, steps=steps, delta=delta, discretization=step), step

    check = step = None
    if epsilon is not None:
        target = _check_epsilon(epsilon)
        sigma = _solve_noise_multiplier(named, target)
        solved_for = "noise_multiplier"
        accountant_epsilon = named(sigma)
        if cross_check:
            check, step = pld(sigma, accountant_epsilon)
            if _cross_checked(accountant_epsilon, check)[0] > target:
                logger.warning("%s accountant is more than %.0f%% below the PLD cross-check at noise_multiplier %.4f; "
                               "recalibrating to the PLD", accountant, 100 * UPPER_BOUND_TOLERANCE, sigma)
                # a coarser (pessimistic, so larger) PLD grid inside the solve keeps it fast and errs on the safe side
                coarse = max(COMPOSE_DISCRETIZATION, pld_discretization(target))
                sigma = _solve_noise_multiplier(
                    lambda s: _cross_checked(named(s), pld_epsilon(sample_rate=q, noise_multiplier=s, steps=steps,
                                                                   delta=delta, discretization=coarse))[0],
                    target, start=sigma)
                accountant_epsilon = named(sigma)
                check, step = pld(sigma, accountant_epsilon)
    else:
        sigma = _check_noise_multiplier(noise_multiplier)
        solved_for = "epsilon"
        accountant_epsilon = named(sigma)
        if cross_check:
            check, step = pld(sigma, accountant_epsilon)

    record = {
        "epsilon": accountant_epsilon,
        "delta": float(delta),
        "noise_multiplier": float(sigma),
        "sample_rate": q,
        "steps": steps,
        "sampling": SAMPLING,
        "solved_for": solved_for,
        "accountant": accountant,
        "accountant_description": ACCOUNTANT_DESCRIPTIONS.get(accountant, accountant),
        "accountant_epsilon": accountant_epsilon,
        "epsilon_source": "accountant",
        "mechanism": MECHANISM,
        "sensitivity_l2": 1.0,
        "neighbouring": NEIGHBOURING,
    }
    if cross_check:
        record["epsilon"], record["epsilon_source"] = _cross_checked(accountant_epsilon, check)
        record["cross_check"] = {
            "accountant": PLD_ACCOUNTANT,
            "epsilon": check,
            "value_discretization_interval": step,
            "relative_difference": (accountant_epsilon - check) / check if check > 0 else 0.0,
            "tolerance": UPPER_BOUND_TOLERANCE,
        }
        if record["epsilon_source"] == "cross_check":
            logger.warning("%s epsilon %.4f is more than %.0f%% below the PLD's %.4f: reporting the PLD's",
                           accountant, accountant_epsilon, 100 * UPPER_BOUND_TOLERANCE, check)
    return record


# --------------------------------------------------------------------------------------------
# DP-SGD after other releases ("PE + DP-SGD" mixing under one accountant)

COMPOSED_ACCOUNTANT = "pld (composed over PE histogram releases and DP-SGD steps)"
COMPOSED_ACCOUNTANT_DESCRIPTION = (
    "dp-accounting's PLD accountant (add/remove, pessimistic discretisation) over the prior releases (PE's T Gaussian "
    "histogram releases) and the Poisson-subsampled Gaussian DP-SGD steps together; the named DP-SGD accountants "
    "(prv, rdp) cannot compose these heterogeneous events, so PLD is the accountant of record")
FINE_DISCRETIZATION_FACTOR = 10
"""The upper-bound check composes again on a grid this many times finer than the one solved on."""


def _composed_discretization(epsilon: float) -> float:
    """PLD grid step for solving a composition near ``epsilon``: :data:`COMPOSE_DISCRETIZATION`, 2e-5 * epsilon above 50."""
    return max(COMPOSE_DISCRETIZATION, 2e-5 * float(epsilon))


def _plain_events(events, name: str) -> list[dict]:
    """Validated, JSON-ready copies of ``events`` (AccountingError naming ``name[i]`` otherwise)."""
    if isinstance(events, (str, bytes, dict)) or not hasattr(events, "__iter__"):
        raise AccountingError(f"{name} must be a list of event dicts, got {events!r}")
    events = list(events)
    if not events:
        raise AccountingError(f"{name} is empty: without prior releases calibrate with calibrate_sgd")
    for i, event in enumerate(events):
        try:
            _dp_event(event, i)
        except AccountingError as err:
            raise AccountingError(f"{name}{str(err)[len('events'):]}" if str(err).startswith("events[") else
                                  f"{name}: {err}") from None
    plain = []
    for event in events:
        copy = {"kind": event["kind"]}
        if "sample_rate" in event:
            copy["sample_rate"] = float(event["sample_rate"])
        copy["noise_multiplier"] = float(event["noise_multiplier"])
        copy["count"] = int(event["count"])
        plain.append(copy)
    return plain


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
    :func:`compose_epsilon` (for "PE + DP-SGD": PE's ``{"kind": "gaussian", "noise_multiplier": sigma_PE,
    "count": T}``). The DP-SGD part is ``{"kind": "poisson_gaussian", "sample_rate": q, "noise_multiplier":
    sigma, "count": steps}``. Give exactly one of ``epsilon`` (the total target: sigma is solved so that the
    composed epsilon lies in ``[epsilon * (1 - SOLVE_TOLERANCE), epsilon]``) or ``noise_multiplier`` (the
    composed epsilon is computed).

    The accountant of the whole composition is dp-accounting's PLD (:data:`COMPOSED_ACCOUNTANT`): the
    named DP-SGD accountants cannot compose heterogeneous events. It is solved on a pessimistic grid of step
    ``discretization`` (default 1e-3, 2e-5 * epsilon above epsilon 50) and checked on a grid
    :data:`FINE_DISCRETIZATION_FACTOR` times finer: the reported ``epsilon`` is the larger of the two, and the
    check (``cross_check``) passes when the finer grid is not more than :data:`UPPER_BOUND_TOLERANCE` above
    the coarser one. Raises :class:`AccountingError` when the prior events alone already cost the target.

    The record has :func:`calibrate_sgd`'s keys (``accountant`` is :data:`COMPOSED_ACCOUNTANT`,
    ``accountant_epsilon`` the coarse grid's composed epsilon, ``cross_check`` the finer grid's) and
    ``events`` (prior events then the DP-SGD event), ``prior_events``, ``dpsgd_events``, ``prior_epsilon`` and
    ``dpsgd_epsilon`` (each part alone, by PLD on the same grid and at the same delta), ``composition``
    ("pld") and ``value_discretization_interval``.
    """
    if (epsilon is None) == (noise_multiplier is None):
        raise AccountingError("give exactly one of epsilon or noise_multiplier")
    prior = _plain_events(prior_events, "prior_events")
    q = _check_sample_rate(sample_rate)
    steps = _check_count("steps", steps)
    delta = _check_delta_value(delta)
    target = _check_epsilon(epsilon) if epsilon is not None else None
    if discretization is not None:
        discretization = _check_positive("discretization", discretization)

    def sgd_events(sigma: float) -> list[dict]:
        return [{"kind": "poisson_gaussian", "sample_rate": q, "noise_multiplier": float(sigma), "count": steps}]

    def composed(sigma: float, step: float) -> float:
        return compose_epsilon(prior + sgd_events(sigma), delta=delta, discretization=step)

    if target is not None:
        step = discretization or _composed_discretization(target)
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

        least = composed(_SIGMA_UPPER, step)  # DP-SGD with the most noise the solver tries
        if least > target:
            raise AccountingError(f"PE's releases (prior_events) alone cost epsilon {prior_epsilon:.6g} of the total "
                                  f"{target:.4g} at delta {delta:g}, too close to it: with {steps} DP-SGD steps even at "
                                  f"noise_multiplier {_SIGMA_UPPER:g} the composition costs {least:.6g}; lower "
                                  "mixing.pe_fraction (or raise the total epsilon)")

        def solve(grid: float, start: float) -> float:
            try:
                return _solve_noise_multiplier(lambda s: composed(s, grid), target, start=start)
            except AccountingError as err:
                raise AccountingError(f"DP-SGD after PE's releases (epsilon {prior_epsilon:.4g} of the total "
                                      f"{target:.4g}): {err}") from None

        sigma = solve(step, 1.0)
        solved_for = "noise_multiplier"
    else:
        sigma = _check_noise_multiplier(noise_multiplier)
        step = discretization or _composed_discretization(
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
    reported = max(coarse, fine)
    logger.info("DP-SGD after prior releases: noise_multiplier %.4f; epsilon %.4f composed (prior %.4f, DP-SGD %.4f)",
                sigma, reported, prior_epsilon, dpsgd_epsilon)
    return {
        "epsilon": reported,
        "delta": float(delta),
        "noise_multiplier": float(sigma),
        "sample_rate": q,
        "steps": steps,
        "sampling": SAMPLING,
        "solved_for": solved_for,
        **({"target_epsilon": target} if target is not None else {}),
        "accountant": COMPOSED_ACCOUNTANT,
        "accountant_description": COMPOSED_ACCOUNTANT_DESCRIPTION,
        "accountant_epsilon": coarse,
        "epsilon_source": "accountant" if coarse >= fine else "cross_check",
        "composition": "pld",
        "value_discretization_interval": step,
        "cross_check": {
            "accountant": PLD_ACCOUNTANT,
            "epsilon": fine,
            "value_discretization_interval": fine_step,
            "relative_difference": (fine - coarse) / coarse if coarse > 0 else 0.0,
            "tolerance": UPPER_BOUND_TOLERANCE,
            "passed": passed,
            "what": "the same composition on a finer grid: the reported epsilon is an upper bound when the finer "
                    "grid is not above it",
        },
        "prior_epsilon": prior_epsilon,
        "dpsgd_epsilon": dpsgd_epsilon,
        "prior_events": prior,
        "dpsgd_events": dpsgd,
        "events": prior + dpsgd,
        "mechanism": MECHANISM,
        "sensitivity_l2": 1.0,
        "neighbouring": NEIGHBOURING,
    }
