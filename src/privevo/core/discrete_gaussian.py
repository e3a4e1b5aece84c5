"""OpenDP's exact discrete Gaussian on integer vectors: the sampler PE's histograms draw from, with its privacy map."""

from __future__ import annotations


def opendp_measurement(scale: float):
    """OpenDP's ``make_gaussian`` over ``vector_domain(atom_domain(T=int))`` with the L2 distance at ``scale``.

    Calling it on a list of ints adds an exact discrete Gaussian per entry (no floating point in the sampler, bits
    from OpenDP's cryptographically secure source); ``.map(d_in)`` is the zCDP rho of an integer L2 shift ``d_in``.
    """
    import opendp.prelude as dp

    dp.enable_features("contrib")
    return dp.m.make_gaussian(dp.vector_domain(dp.atom_domain(T=int)), dp.l2_distance(T=int), scale=float(scale))
