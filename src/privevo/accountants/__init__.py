"""Privacy accountants behind one registry: what a set of releases costs in (epsilon, delta)."""

from privevo.core.registry import Registry

# An accountant is a module whose ``calibrate(*, delta, num_iterations, epsilon=None, noise_multiplier=None)``
# solves for the missing one of epsilon / noise_multiplier and returns a JSON-ready record (see gdp.py).
ACCOUNTANTS = Registry("accountant", {
    "gdp": "privevo.accountants.gdp:calibrate",
})

# A DP-SGD accountant is a function ``(*, sample_rate, noise_multiplier, steps, delta) -> epsilon`` (an upper
# bound) for ``steps`` Poisson-subsampled Gaussian mechanisms; dpsgd.calibrate_sgd(accountant=name) uses it and
# cross-checks it against dp-accounting's PLD.
SGD_ACCOUNTANTS = Registry("DP-SGD accountant", {
    "prv": "privevo.accountants.dpsgd:prv_epsilon",
    "rdp": "privevo.accountants.dpsgd:rdp_epsilon",
})
