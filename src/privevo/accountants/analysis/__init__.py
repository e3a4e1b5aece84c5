"""Pure epsilon computations of the accountants (GDP, PLD, PRV, RDP): numbers in, epsilon out; no records.

As in opacus' ``accountants/analysis``: the math lives here, apart from the registry (``privevo.accountants``),
the calibration that solves for a noise multiplier (``calibration``, ``gdp``) and the records (``records``).
"""
