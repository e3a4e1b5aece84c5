"""The privacy of PE's exact histograms: T releases of integer vote counts plus discrete Gaussian noise.

One private sample casts one integer vote for each of its m nearest candidates, so adding or removing it moves m
distinct counts by 1 each. Each bin gets an independent discrete Gaussian of scale sigma * sqrt(m) (sigma: the noise
multiplier of the sensitivity-1, 1/sqrt(m)-weighted counts). The output is a product over bins, so the privacy loss
of one release is the sum of m independent one-dimensional discrete Gaussian losses with sensitivity 1: T releases
are T * m self-composed one-dimensional discrete Gaussian mechanisms, exactly. Two analyses of that event:

- :func:`pld_epsilon`: dp-accounting's privacy loss distribution of the discrete Gaussian
  (``from_discrete_gaussian_mechanism``), self-composed T * m times; pessimistic discretisation, so an upper bound,
  and tight as the grid shrinks. The accountant of record.
- :func:`zcdp_epsilon`: Canonne, Kamath and Steinke (2020), Theorem 14: the product discrete Gaussian with integer
  shift of L2 norm Delta at scale s is rho-zCDP with rho = Delta^2 / (2 s^2), here 1 / (2 sigma^2) per release
  (OpenDP's privacy map of ``make_gaussian`` gives the same rho: :func:`opendp_rho`); converted to (epsilon, delta)
  with their Corollary 13. A closed form, looser than the PLD: the cross-check bounds it from above.

With m = 1 the event is T one-dimensional discrete Gaussians, the same as the continuous mechanism's T Gaussians
up to the lattice: at sigma >= 1 both curves agree to far below the PLD's own rounding.
"""

from __future__ import annotations

import math

from privevo.accountants.validation import check_count, check_delta, check_noise_multiplier, check_result
from privevo.core.discrete_gaussian import opendp_measurement

PLD_DISCRETIZATION = 3e-5
"""The PLD grid of the discrete mechanism: its pessimism grows with the T * m compositions (at sigma 10.55, T 8,
m 10: epsilon 1.0040 on a 1e-4 grid, 1.0012 on 3e-5, 1.0004 on 1e-5, against 0.99998 continuous)."""


def _scale(noise_multiplier: float, votes_per_sample: int) -> float:
    return check_noise_multiplier(noise_multiplier) * math.sqrt(check_count("votes_per_sample", votes_per_sample))


def pld_epsilon(*, noise_multiplier: float, num_iterations: int, votes_per_sample: int, delta: float,
                discretization: float = PLD_DISCRETIZATION) -> float:
    """Epsilon at ``delta`` of T exact histogram releases by dp-accounting's discrete Gaussian PLD."""
    return check_result(pld(noise_multiplier=noise_multiplier, num_iterations=num_iterations,
                            votes_per_sample=votes_per_sample, discretization=discretization
                            ).get_epsilon_for_delta(check_delta(delta)),
                        f"discrete noise_multiplier {noise_multiplier:g} over {num_iterations} iterations")


def pld(*, noise_multiplier: float, num_iterations: int, votes_per_sample: int, discretization: float):
    """dp-accounting's PLD of T exact releases: the 1-D discrete Gaussian at scale sigma * sqrt(m), sensitivity 1,
    self-composed T * m times (add/remove; symmetric noise, so both directions are the same)."""
    from dp_accounting.pld import privacy_loss_distribution

    one = privacy_loss_distribution.from_discrete_gaussian_mechanism(
        _scale(noise_multiplier, votes_per_sample), sensitivity=1, value_discretization_interval=discretization)
    return one.self_compose(check_count("num_iterations", num_iterations) * int(votes_per_sample))


def zcdp_rho(*, noise_multiplier: float, num_iterations: int) -> float:
    """rho of T exact releases (CKS20 Theorem 14; zCDP composes by adding rho): T / (2 sigma^2)."""
    sigma = check_noise_multiplier(noise_multiplier)
    return check_count("num_iterations", num_iterations) / (2.0 * sigma * sigma)


def epsilon_of_rho(rho: float, *, delta: float) -> float:
    """The (epsilon, delta) of rho-zCDP by CKS20 Corollary 13: the infimum over alpha > 1 of
    alpha rho + (log(1/delta) + (alpha - 1) log(1 - 1/alpha) - log(alpha)) / (alpha - 1)."""
    from scipy.optimize import minimize_scalar

    delta = check_delta(delta)
    if rho <= 0:
        return 0.0

    def bound(log_alpha_minus_one: float) -> float:
        alpha = 1.0 + math.exp(log_alpha_minus_one)
        return alpha * rho + (math.log(1 / delta) + (alpha - 1) * math.log1p(-1 / alpha) - math.log(alpha)) / (alpha - 1)

    # The optimum sits near alpha = 1 + sqrt(log(1/delta) / rho); search log(alpha - 1) around it.
    centre = 0.5 * math.log(math.log(1 / delta) / rho)
    found = minimize_scalar(bound, bounds=(centre - 12, centre + 12), method="bounded",
                            options={"xatol": 1e-10})
    return max(0.0, float(found.fun))


def zcdp_epsilon(*, noise_multiplier: float, num_iterations: int, delta: float) -> float:
    """Epsilon at ``delta`` of T exact releases by CKS20's zCDP bound (an upper bound, looser than the PLD)."""
    return epsilon_of_rho(zcdp_rho(noise_multiplier=noise_multiplier, num_iterations=num_iterations), delta=delta)


def opendp_rho(*, noise_multiplier: float, num_iterations: int, votes_per_sample: int) -> float:
    """rho of T releases by OpenDP's own privacy map of the measurement that draws the noise: the map of a
    one-vote shift (d_in = 1) at scale sigma * sqrt(m), times the T * m unit shifts (zCDP adds over bins and
    releases). An independent statement of :func:`zcdp_rho`."""
    one_vote = float(opendp_measurement(_scale(noise_multiplier, votes_per_sample)).map(1))
    return one_vote * check_count("num_iterations", num_iterations) * int(votes_per_sample)


def event_epsilon(event: dict, *, delta: float) -> float:
    """The registry's discrete-Gaussian PLD: ``{"kind": "discrete_gaussian", "noise_multiplier": s, "count": T,
    "votes_per_sample": m}``."""
    if event["kind"] != "discrete_gaussian":
        raise ValueError(f"the discrete Gaussian PLD computes discrete_gaussian events, not {event['kind']!r}")
    return pld_epsilon(noise_multiplier=event["noise_multiplier"], num_iterations=event["count"],
                       votes_per_sample=event["votes_per_sample"], delta=delta)


def zcdp_event_epsilon(event: dict, *, delta: float) -> float:
    """The registry's "zcdp": CKS20's bound for a discrete_gaussian event (or a continuous gaussian one, whose rho
    is the same T / (2 sigma^2))."""
    if event["kind"] not in ("discrete_gaussian", "gaussian"):
        raise ValueError(f"zcdp computes discrete_gaussian and gaussian events, not {event['kind']!r}")
    return zcdp_epsilon(noise_multiplier=event["noise_multiplier"], num_iterations=event["count"], delta=delta)
