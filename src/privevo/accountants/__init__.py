"""Privacy accountants behind one registry: what a set of releases costs in (epsilon, delta)."""
