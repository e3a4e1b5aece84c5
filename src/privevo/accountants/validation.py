"""Argument checks of the accountants: every bad privacy parameter is an :class:`AccountingError` naming it."""

from __future__ import annotations

import math
import numbers

from privevo.core.registry import UnknownNameError

MAX_EPSILON = 1000.0
"""Above this an (epsilon, delta) guarantee promises nothing (e^epsilon overflows a double past ~709)."""

EVENT_KEYS = {"gaussian": {"kind", "noise_multiplier", "count"},
              "discrete_gaussian": {"kind", "noise_multiplier", "count", "votes_per_sample"},
              "poisson_gaussian": {"kind", "sample_rate", "noise_multiplier", "count"}}
"""The event kinds the accountants compute, with their keys: ``count`` Gaussian releases with L2 sensitivity 1
(PE's histograms with continuous noise); ``count`` exact releases of integer votes, ``votes_per_sample`` (m) per
private sample, plus discrete Gaussian noise of scale noise_multiplier * sqrt(m) (PE's histograms by default); or
``count`` Poisson-subsampled Gaussian steps with sampling rate ``sample_rate`` (DP-SGD)."""


class AccountingError(ValueError):
    """A privacy parameter is out of range; the message names it."""


class UnknownAccountantError(AccountingError, UnknownNameError):
    """An accountant name that is not registered, or that does not compute the mechanism asked about."""


def check_positive(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise AccountingError(f"{name} must be a positive finite number, got {value!r}")
    return value


def check_epsilon(epsilon: float) -> float:
    epsilon = check_positive("epsilon", epsilon)
    if epsilon > MAX_EPSILON:
        raise AccountingError(f"epsilon {epsilon:g} is above {MAX_EPSILON:g}, where an (epsilon, delta) guarantee "
                              "promises nothing; refusing rather than calibrating noise to it")
    return epsilon


def check_delta(delta: float) -> float:
    try:
        delta = float(delta)
    except (TypeError, ValueError):
        raise AccountingError(f"delta must lie strictly between 0 and 1, got {delta!r}") from None
    if not 0 < delta < 1:
        raise AccountingError(f"delta must lie strictly between 0 and 1, got {delta!r}")
    return delta


def check_iterations(num_iterations: int) -> int:
    if int(num_iterations) != num_iterations or num_iterations < 1:
        raise AccountingError(f"num_iterations must be a positive integer, got {num_iterations!r}")
    return int(num_iterations)


def check_sample_rate(sample_rate: float) -> float:
    try:
        value = float(sample_rate)
    except (TypeError, ValueError):
        raise AccountingError(f"sample_rate must be a number in (0, 1], got {sample_rate!r}") from None
    if not math.isfinite(value) or not 0 < value <= 1:
        raise AccountingError(f"sample_rate must lie in (0, 1], got {sample_rate!r}")
    return value


def check_count(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or int(value) != value \
            or value < 1:
        raise AccountingError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_noise_multiplier(noise_multiplier: float) -> float:
    try:
        return check_positive("noise_multiplier", noise_multiplier)
    except (TypeError, ValueError) as err:
        if isinstance(err, AccountingError):
            raise
        raise AccountingError(f"noise_multiplier must be a positive finite number, got {noise_multiplier!r}") from None


def check_target(epsilon: float | None, noise_multiplier: float | None) -> None:
    if (epsilon is None) == (noise_multiplier is None):
        raise AccountingError("give exactly one of epsilon or noise_multiplier")


def check_result(epsilon: float, what: str) -> float:
    """``epsilon`` (clipped at 0), or an error when it is above :data:`MAX_EPSILON`."""
    if not math.isfinite(epsilon) or epsilon > MAX_EPSILON:
        raise AccountingError(f"{what} gives an epsilon above {MAX_EPSILON:g}: no meaningful guarantee; add more noise, "
                              "take fewer steps or sample less")
    return float(max(epsilon, 0.0))


def describe(sample_rate: float, noise_multiplier: float, steps: int) -> str:
    return f"noise_multiplier {noise_multiplier:g} with sample_rate {sample_rate:g} over {steps} steps"


def check_event(event: dict, index: int) -> dict:
    """A JSON-ready copy of one event dict (see :data:`EVENT_KEYS`); errors name ``events[index]``."""
    if not isinstance(event, dict):
        raise AccountingError(f"events[{index}] must be a dict, got {type(event).__name__}")
    kind = event.get("kind")
    if kind not in EVENT_KEYS:
        raise AccountingError(f"events[{index}].kind must be one of {', '.join(EVENT_KEYS)}, got {kind!r}")
    unknown = set(event) - EVENT_KEYS[kind]
    if unknown:
        raise AccountingError(f"events[{index}]: unknown keys {sorted(unknown)} for kind {kind!r}")
    for key in EVENT_KEYS[kind] - {"kind"}:
        if key not in event:
            raise AccountingError(f"events[{index}].{key} is missing")
    try:
        plain = {"kind": kind}
        sigma = check_noise_multiplier(event["noise_multiplier"])
        count = check_count("count", event["count"])
        if kind == "poisson_gaussian":
            plain["sample_rate"] = check_sample_rate(event["sample_rate"])
        if kind == "discrete_gaussian":
            plain["votes_per_sample"] = check_count("votes_per_sample", event["votes_per_sample"])
    except AccountingError as err:
        raise AccountingError(f"events[{index}].{err}") from None
    plain.update(noise_multiplier=sigma, count=count)
    return plain


def check_events(events) -> list[dict]:
    """Validated, JSON-ready copies of a non-empty list of event dicts."""
    if not isinstance(events, (list, tuple)) or not events:
        raise AccountingError(f"events must be a non-empty list of event dicts, got {events!r}")
    return [check_event(event, i) for i, event in enumerate(events)]


def plain_events(events, name: str) -> list[dict]:
    """Validated, JSON-ready copies of ``events`` (any iterable; AccountingError naming ``name[i]`` otherwise)."""
    if isinstance(events, (str, bytes, dict)) or not hasattr(events, "__iter__"):
        raise AccountingError(f"{name} must be a list of event dicts, got {events!r}")
    events = list(events)
    if not events:
        raise AccountingError(f"{name} is empty: without prior releases calibrate with calibrate_sgd")
    plain = []
    for i, event in enumerate(events):
        try:
            plain.append(check_event(event, i))
        except AccountingError as err:
            raise AccountingError(f"{name}{str(err)[len('events'):]}" if str(err).startswith("events[") else
                                  f"{name}: {err}") from None
    return plain
