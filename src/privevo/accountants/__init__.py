"""Privacy accountants behind one registry: what a set of releases costs in (epsilon, delta)."""

from privevo.accountants.registry import AccountantRegistry

# A new accountant: a function (event, *, delta) -> epsilon in analysis/ plus one line here, declaring its traits:
#   computes       the mechanisms it accounts: "gaussian" (T Gaussian releases: PE's histograms with continuous noise),
#                  "discrete_gaussian" (T exact releases: PE's histograms by default; privacy.accountant for both)
#                  and/or "poisson_gaussian" (Poisson-subsampled Gaussian steps: DP-SGD, dpsgd.accountant)
#   description    the records' accountant_description
#   exact_inverse  (optional) "module:function" giving the noise multiplier of Gaussian releases exactly
# PE's calibration (gdp.calibrate) and DP-SGD's (calibration.calibrate_sgd) take their accountant by name from here.
# The PLD is also every calibration's cross-check, and the one accountant that composes different events in one
# (analysis.pld.compose_epsilon: the privacy ledger, "PE + DP-SGD").
ACCOUNTANTS = AccountantRegistry(entries={
    "gdp": ("privevo.accountants.analysis.gdp:event_epsilon",
            dict(computes=("gaussian",),
                 description="exact mu-GDP composition of T Gaussian mechanisms (Dong-Roth-Su), "
                             "converted to (epsilon, delta) with the analytic Gaussian (Balle-Wang)",
                 exact_inverse="privevo.accountants.analysis.gdp:noise_multiplier_for_epsilon")),
    "prv": ("privevo.accountants.analysis.prv:event_epsilon",
            dict(computes=("poisson_gaussian", "gaussian"),
                 description="PRV accountant (Gopi-Lee-Wutschitz 2021, Opacus implementation), upper end of its "
                             "error bound")),
    "rdp": ("privevo.accountants.analysis.rdp:event_epsilon",
            dict(computes=("poisson_gaussian", "gaussian"),
                 description="RDP of the sampled Gaussian mechanism (Mironov-Talwar-Zhang 2019, Opacus analysis), "
                             "converted to (epsilon, delta) with Balle et al. 2020")),
    "pld": ("privevo.accountants.analysis.pld:event_epsilon",
            dict(computes=("poisson_gaussian", "gaussian", "discrete_gaussian"),
                 description="dp-accounting's PLD accountant (add/remove, pessimistic discretisation: an upper bound); "
                             "exact histograms by the discrete Gaussian's own privacy loss "
                             "(from_discrete_gaussian_mechanism), self-composed T * m times")),
    "zcdp": ("privevo.accountants.analysis.discrete:zcdp_event_epsilon",
             dict(computes=("discrete_gaussian", "gaussian"),
                  description="zero-concentrated DP: rho = T / (2 sigma^2) (Canonne-Kamath-Steinke 2020, Theorem 14, "
                              "for the discrete Gaussian), converted to (epsilon, delta) by their Corollary 13")),
})
