"""The PRV accountant for DP-SGD: numerical composition of privacy loss random variables (Gopi, Lee and
Wutschitz 2021) of the Poisson-subsampled Gaussian mechanism, through Opacus' implementation.

It gives an estimate with error bounds; :func:`prv_epsilon` returns the *upper* bound (estimate +
``eps_error``, with ``eps_error`` at most 1% of epsilon above epsilon 0.1).
"""

from __future__ import annotations

import functools
import math
import warnings

from privevo.accountants.validation import AccountingError, describe

PRV_MAX_DOMAIN_POINTS = 20_000_000
"""PRV grids above this many points (~0.5 GB per array) are refused rather than risk running out of memory."""


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
        raise AccountingError(f"{describe(sample_rate, noise_multiplier, steps)} needs a PRV grid of more than "
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
        raise AccountingError(f"PRV accountant failed for {describe(sample_rate, noise_multiplier, steps)} at "
                              f"delta {delta:g}: {err}") from None
    return float(estimate), float(upper)


def prv_epsilon(*, sample_rate: float, noise_multiplier: float, steps: int, delta: float) -> float:
    """Upper bound on epsilon from the PRV accountant (error 0.01 above epsilon 1, 1% of epsilon below, at least 1e-3)."""
    estimate, upper = _prv_upper(sample_rate, noise_multiplier, steps, delta, eps_error=0.01)
    if estimate < 1.0:  # a fixed 0.01 would be a large relative error: tighten the grid
        eps_error = max(1e-3, 0.01 * max(estimate, 0.0))
        estimate, upper = _prv_upper(sample_rate, noise_multiplier, steps, delta, eps_error=eps_error)
    return upper


def event_epsilon(event: dict, *, delta: float) -> float:
    """The registry's "prv": DP-SGD steps, or Gaussian releases as steps that sample everyone (sample_rate 1)."""
    return prv_epsilon(sample_rate=event.get("sample_rate", 1.0), noise_multiplier=event["noise_multiplier"],
                       steps=event["count"], delta=delta)
