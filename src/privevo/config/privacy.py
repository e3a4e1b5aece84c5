"""What a run's privacy settings mean for PE's histograms: the mechanism drawn, its accounting event, its accountant."""

from __future__ import annotations

import math

from privevo.pe.noise import DISCRETE, histogram_noise

AUTO_ACCOUNTANT = "auto"
DEFAULT_ACCOUNTANTS = {DISCRETE: "pld", "continuous_gaussian": "gdp"}
"""privacy.accountant auto: the tight accountant of each mechanism (the discrete Gaussian's own PLD; exact GDP)."""


def histogram_mechanism(params: dict) -> str:
    """The accounting kind of PE's histograms: ``discrete_gaussian`` (exact, the default) or ``gaussian``."""
    return "discrete_gaussian" if histogram_noise(params["privacy"]) == DISCRETE else "gaussian"


def votes_per_sample(params: dict) -> int:
    """m: the integer votes one private sample casts (its m nearest candidates), a public setting."""
    return int(params["pe"]["num_nearest_neighbours"])


def pe_accountant(params: dict) -> str:
    """privacy.accountant, with ``auto`` resolved for the mechanism drawn."""
    name = params["privacy"]["accountant"]
    if name == AUTO_ACCOUNTANT:
        return DEFAULT_ACCOUNTANTS[histogram_noise(params["privacy"])]
    return name


def histogram_events(params: dict, noise_multiplier: float, num_iterations: int) -> list[dict]:
    """The accounting events of a run's T histogram releases (privacy.json's ``events``, the ledger's input)."""
    event = {"kind": histogram_mechanism(params), "noise_multiplier": float(noise_multiplier),
             "count": int(num_iterations)}
    if event["kind"] == "discrete_gaussian":
        event["votes_per_sample"] = votes_per_sample(params)
    return [event]


def calibration_arguments(params: dict) -> dict:
    """The keyword arguments of :func:`privevo.accountants.gdp.calibrate` that the mechanism fixes."""
    return {"accountant": pe_accountant(params), "mechanism": histogram_mechanism(params),
            "votes_per_sample": votes_per_sample(params)}


def reference_noise_multiplier(params: dict) -> float | None:
    """The noise multiplier of pe.histogram_threshold_reference_epsilon at this run's delta, T and mechanism
    (public); None without a reference."""
    from privevo.accountants.gdp import calibrate

    reference = params["pe"]["histogram_threshold_reference_epsilon"]
    if reference is None:
        return None
    return float(calibrate(delta=params["privacy"]["delta"], num_iterations=params["pe"]["num_iterations"],
                           epsilon=float(reference), cross_check=False,
                           **calibration_arguments(params))["noise_multiplier"])


def base_histogram_threshold(params: dict, noise_multiplier: float, *,
                             reference_noise_multiplier: float | None = None) -> float:
    """The H the histogram step applies (before any per-class match), in the 1/sqrt(m)-weighted units of
    histogram.csv's noisy_count: pe.histogram_threshold, times sigma when its unit is sigma; with a reference
    epsilon, times the reference's sigma (H is defined at the reference's noise). The privacy report states this
    same value."""
    pe = params["pe"]
    if pe["histogram_threshold_unit"] != "sigma":
        return float(pe["histogram_threshold"])
    scale = noise_multiplier if reference_noise_multiplier is None else reference_noise_multiplier
    return float(pe["histogram_threshold"]) * float(scale)


def threshold_record(params: dict, noise_multiplier: float, threshold: float) -> dict:
    """H in the units the mechanism adds its noise in, with the raw-vote equivalent and the weighted value beside."""
    root_m = math.sqrt(votes_per_sample(params))
    discrete = histogram_mechanism(params) == "discrete_gaussian"
    return {
        "weighted_votes": float(threshold),
        "raw_votes": float(threshold) * root_m,
        "noise_added_in": ("integer votes (1 per nearest candidate), discrete Gaussian of scale sigma * sqrt(m) = "
                           f"{noise_multiplier * root_m:.6g}" if discrete else
                           f"weighted votes (1/sqrt(m) per nearest candidate), N(0, sigma^2), sigma = "
                           f"{noise_multiplier:.6g}"),
        "in_noise_units": float(threshold) * (root_m if discrete else 1.0),
        "note": ("histogram.csv's noisy_count and threshold columns are in weighted votes (noisy_votes / sqrt(m)); "
                 "noisy_votes is the mechanism's integer output" if discrete else
                 "histogram.csv's noisy_count and threshold columns are in weighted votes, the noise's own units"),
    }
