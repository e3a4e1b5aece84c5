"""Privacy loss distributions (dp-accounting's PLD accountant): any mix of Gaussian releases and DP-SGD steps.

The PLD discretises pessimistically, so its epsilon only ever rounds up: an upper bound, used as the
independent cross-check of the other accountants and as the one accountant that composes heterogeneous
events (PE's histograms and DP-SGD's steps). Events are the dicts of
:data:`privevo.accountants.validation.EVENT_KEYS`.
"""

from __future__ import annotations

from privevo.accountants.validation import (
    MAX_EPSILON,
    check_count,
    check_delta,
    check_events,
    check_positive,
    check_result,
)

COMPOSE_DISCRETIZATION = 1e-3
"""PLD grid step of :func:`compose_epsilon` below epsilon 50; pessimistic, so it only rounds epsilon up (~0.1%)."""


DISCRETE_COMPOSE_DISCRETIZATION = 1e-4
"""The grid :func:`compose_epsilon` uses when the events hold an exact (discrete Gaussian) histogram release."""


def pld_discretization(epsilon: float) -> float:
    """The PLD grid step for a cross-check near ``epsilon``: 1e-4, coarser for large epsilon.

    The PLD's cost grows with epsilon / step (54 s at epsilon 1000 with a fixed 1e-4); a step of
    2e-5 * epsilon keeps it under a second while its pessimistic rounding stays far below 0.1%.
    """
    return max(1e-4, 2e-5 * float(epsilon))


def composed_discretization(epsilon: float) -> float:
    """PLD grid step for solving a composition near ``epsilon``: :data:`COMPOSE_DISCRETIZATION`, 2e-5 * epsilon above 50."""
    return max(COMPOSE_DISCRETIZATION, 2e-5 * float(epsilon))


def _dp_event(event: dict):
    """The dp-accounting event of one validated event dict."""
    from dp_accounting import dp_event

    gaussian = dp_event.GaussianDpEvent(event["noise_multiplier"])
    if event["kind"] == "gaussian":
        return dp_event.SelfComposedDpEvent(gaussian, event["count"])
    return dp_event.SelfComposedDpEvent(dp_event.PoissonSampledDpEvent(event["sample_rate"], gaussian), event["count"])


def _pld(events: list[dict], delta: float, discretization: float) -> float:
    """Epsilon of validated event dicts composed on one grid: dp-accounting's accountant for its own events, then
    the discrete Gaussian's PLD (which has no DpEvent) composed onto the accountant's PLD."""
    from dp_accounting import dp_event
    from dp_accounting.pld import pld_privacy_accountant

    from privevo.accountants.analysis import discrete

    accountant = pld_privacy_accountant.PLDAccountant(value_discretization_interval=discretization)
    known = [_dp_event(event) for event in events if event["kind"] != "discrete_gaussian"]
    if known:
        accountant.compose(dp_event.ComposedDpEvent(known) if len(known) > 1 else known[0])
    exact = [event for event in events if event["kind"] == "discrete_gaussian"]
    if not exact:
        return float(accountant.get_epsilon(float(delta)))
    composed = accountant._pld  # dp-accounting keeps the composed PLD here and has no public getter
    for event in exact:
        composed = composed.compose(discrete.pld(noise_multiplier=event["noise_multiplier"],
                                                 num_iterations=event["count"],
                                                 votes_per_sample=event["votes_per_sample"],
                                                 discretization=discretization))
    return float(composed.get_epsilon_for_delta(float(delta)))


def compose_epsilon(events: list[dict], *, delta: float, discretization: float | None = None) -> float:
    """Epsilon at ``delta`` of all ``events`` composed in one dp-accounting PLD accountant (add/remove).

    Each event is ``{"kind": "gaussian", "noise_multiplier": s, "count": T}`` (T Gaussian releases
    with L2 sensitivity 1, e.g. PE's vote histograms with continuous noise), ``{"kind": "discrete_gaussian",
    "noise_multiplier": s, "count": T, "votes_per_sample": m}`` (PE's exact histograms) or ``{"kind": "poisson_gaussian",
    "sample_rate": q, "noise_multiplier": s, "count": steps}`` (DP-SGD steps). The grid step is
    :data:`COMPOSE_DISCRETIZATION`, or 2e-5 * epsilon above epsilon 50 (found by a coarse first pass)
    so that large epsilons stay fast, or :data:`DISCRETE_COMPOSE_DISCRETIZATION` when an exact histogram release is
    among the events; the PLD's pessimistic rounding only ever rounds epsilon up.
    """
    delta = check_delta(delta)
    dp_events = check_events(events)
    if discretization is None and any(event["kind"] == "discrete_gaussian" for event in dp_events):
        # The discrete Gaussian's PLD is tighter on a fine grid and slow on a coarse one (T * m self-compositions:
        # at sigma 10.56, T 8, m 10, 4% pessimism and 1.1 s at 1e-3, 0.4% and 0.03 s at 1e-4), so no coarse pass.
        discretization = DISCRETE_COMPOSE_DISCRETIZATION
    elif discretization is None:
        rough = _pld(dp_events, delta, 1e-2)
        if rough > MAX_EPSILON:
            return check_result(rough, f"composing {len(events)} events")
        discretization = composed_discretization(rough)
    else:
        discretization = check_positive("discretization", discretization)
    return check_result(_pld(dp_events, delta, discretization), f"composing {len(events)} events")


def pld_epsilon(*, sample_rate: float, noise_multiplier: float, steps: int, delta: float,
                discretization: float = 1e-4) -> float:
    """``steps`` DP-SGD steps: dp-accounting's PLD on ``SelfComposed(PoissonSampled(q, Gaussian(sigma)), steps)``."""
    event = {"kind": "poisson_gaussian", "sample_rate": sample_rate, "noise_multiplier": noise_multiplier,
             "count": check_count("steps", steps)}
    return compose_epsilon([event], delta=delta, discretization=discretization)


def event_epsilon(event: dict, *, delta: float) -> float:
    """The registry's "pld": one event on :func:`compose_epsilon`'s grid (pessimistic, so an upper bound); an exact
    histogram event on the finer grid its T * m compositions need (``discrete.PLD_DISCRETIZATION``)."""
    if event["kind"] == "discrete_gaussian":
        from privevo.accountants.analysis import discrete

        return discrete.event_epsilon(event, delta=delta)
    return compose_epsilon([event], delta=delta)
