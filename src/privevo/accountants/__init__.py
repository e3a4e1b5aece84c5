"""Privacy accountants behind one registry: what a set of releases costs in (epsilon, delta)."""

from privevo.core.registry import Registry

# An accountant is a module whose ``calibrate(*, delta, num_iterations, epsilon=None, noise_multiplier=None)``
# solves for the missing one of epsilon / noise_multiplier and returns a JSON-ready record (see gdp.py).
ACCOUNTANTS = Registry("accountant", {
    "gdp": "privevo.accountants.gdp:calibrate",
})
