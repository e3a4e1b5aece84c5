"""The privacy report of a run (privacy.json): the guarantee, the noise behind it and what it covers."""

from __future__ import annotations

from privevo.data.private import params_class_names
from privevo.config.privacy import (base_histogram_threshold, histogram_events, histogram_mechanism,
                                    reference_noise_multiplier, threshold_record)
from privevo.config.selected import selected_on_private_data_record
from privevo.models.dpsgd_settings import selected_on_private_data_record as dpsgd_selected_on_private_data
from privevo.config.schedule import population_sizes, run_uses_foundation_model, variation_degrees
from privevo.pe.noise import noise_record

MECHANISMS = {
    "discrete_gaussian": ("exact discrete Gaussian mechanism on per-class nearest-neighbour integer vote histograms "
                          "(OpenDP), one release per iteration"),
    "gaussian": ("continuous Gaussian mechanism (floating point) on per-class nearest-neighbour vote histograms, one "
                 "release per iteration"),
}

DP_RELEASE_NOTE = (
    "The DP release is the final synthetic set and every noisy histogram. Evaluation outputs that read "
    "private data (FD/FID against private images, accuracy on the private test split, per-iteration FD "
    "curves) are NOT part of the DP release and carry no DP guarantee."
)


def _per_class_budget(params: dict) -> str:
    """The candidates per class, fixed by the settings alone (never by private data)."""
    sizes = population_sizes(params)
    if len(set(sizes)) == 1:
        return f"equal: {sizes[0]} synthetic samples per class, independent of private data"
    return (f"equal: N_t = {sizes} synthetic samples per class for t = 0..{len(sizes) - 1} (pe.api_schedule), "
            "independent of private data")


def _threshold_rule(params: dict) -> str:
    """How H was set, in words: one H everywhere, or one per class matched to a reference epsilon."""
    pe = params["pe"]
    unit = ("weighted votes (1/sqrt(m) per nearest candidate)" if pe["histogram_threshold_unit"] == "count"
            else "times sigma, in weighted votes")
    reference = pe["histogram_threshold_reference_epsilon"]
    if reference is None:
        return f"max(noisy - H, 0) with H = {pe['histogram_threshold']:g} {unit} in every class and iteration"
    return (f"max(noisy - H_c, 0), H_c per class and iteration matched to epsilon {reference:g}: the quantile of the "
            f"class's noisy counts that zeroes as many candidates as H = {pe['histogram_threshold']:g} {unit} would, "
            f"in expectation, under the noise of epsilon {reference:g} (noisy counts only: post-processing); the H_c "
            "applied are the threshold column of iter_*/histogram.csv")


def odometer_record(params: dict) -> dict:
    """Where every draw on this private data set is charged, and what the release's draws list means."""
    from privevo.config.odometer import odometer

    book = odometer(params)
    return {"file": str(book.path.resolve()), "source": book.source,
            "draws_note": ("draws lists every noisy draw in this run's iteration folders with the odometer charge that "
                           "paid for it (charged before it was drawn); the ledger composes every charge on the data set")}


def private_subset_record(params: dict, relation: dict | None = None) -> dict:
    """Which private images voted, and the neighbouring relation that then holds: ``relation`` as the data step
    wrote it into data_manifest.json (the keys the data was really split with), else rebuilt from the params."""
    if relation is not None:
        return relation
    from privevo.data.membership import neighbouring_relation_record

    data = params["data"]
    return neighbouring_relation_record(params["seed"], validation_fraction=data.get("validation_fraction"),
                                        private_fraction=data.get("private_fraction"))


def privacy_report(params: dict, calibration: dict, *, num_synthetic: int, audit: dict | None = None,
                   compute: dict | None = None, uniform_fallbacks: list[dict] | None = None,
                   neighbouring_relation: dict | None = None, draws: list[dict] | None = None) -> dict:
    """privacy.json: epsilon, delta, sigma, T, the accountant, the noise source, and what is released.

    ``uniform_fallbacks``: the (iteration, class) pairs whose parents were drawn uniformly (every noisy count below
    H); ``neighbouring_relation``: the data manifest's membership record (:func:`private_subset_record`)."""
    pe = params["pe"]
    sigma = calibration["noise_multiplier"]
    noise = noise_record(params["privacy"])
    mechanism = histogram_mechanism(params)
    if calibration.get("mechanism", "gaussian") != mechanism:
        raise ValueError(f"calibration accounts the {calibration.get('mechanism', 'gaussian')} mechanism but "
                         f"privacy.histogram_noise draws {mechanism}: recalibrate")
    threshold = base_histogram_threshold(params, sigma,
                                         reference_noise_multiplier=reference_noise_multiplier(params))
    report = {
        "epsilon": calibration["epsilon"],
        # The accountant's own value at this sigma: at most epsilon (a search stops at or just below the target).
        "epsilon_accounted": calibration.get("epsilon_accounted", calibration["epsilon"]),
        "delta": calibration["delta"],
        "noise_multiplier": sigma,
        "num_iterations": calibration["num_iterations"],
        "accountant": calibration["accountant"],
        "accountant_description": calibration["accountant_description"],
        "cross_check": calibration.get("cross_check"),
        "is_dp_release": noise["is_dp_release"],
        "noise": noise,
        "seed": params["seed"],
        # The mechanisms behind the guarantee, for composing this release with others (privacy ledger).
        # Each event has L2 sensitivity 1 in weighted votes (sensitivity_l2 above), sqrt(m) in integer votes.
        # A redrawn iteration (privacy.allow_redraw) leaves more draws than iterations in the folder: all are counted.
        "events": histogram_events(params, sigma, max(calibration["num_iterations"], len(draws or []))),
        "mechanism": MECHANISMS[mechanism],
        **({"discrete": calibration["discrete"]} if "discrete" in calibration else {}),
        "sensitivity_l2": calibration["sensitivity_l2"],
        "neighbouring": calibration["neighbouring"],
        "votes": {
            "num_nearest_neighbours": pe["num_nearest_neighbours"],
            "vote_weight": f"1/sqrt({pe['num_nearest_neighbours']})",
            "metric": pe["vote_metric"] + (" (centred on the mean of the class's candidate embeddings, public)"
                                           if pe["vote_metric"] == "centred_cosine" else ""),
        },
        "histogram_threshold": threshold,
        "histogram_threshold_units": threshold_record(params, sigma, threshold),
        "histogram_threshold_rule": _threshold_rule(params),
        "uniform_fallbacks": list(uniform_fallbacks or []),
        "uniform_fallback_rule": ("a class whose noisy counts all fall below H takes its parents uniformly from its "
                                  "candidates (post-processing of the noisy counts; flagged in histogram.csv's "
                                  "uniform_fallback column)"),
        "selection": pe["selection"] + (f" (top {pe['rank_top']} per class)" if pe["selection"] == "rank" else ""),
        "post_processing": "threshold, normalisation, selection and variation use only the noisy histograms",
        "private_data": private_subset_record(params, neighbouring_relation),
        "public": {
            "private_set": params["data"]["private_set"],
            "class_set": params_class_names(params),
            "labelled": bool(params["data"].get("labelled", True)),
            **({} if params["data"].get("labelled", True) else {
                "unlabelled": (f"data.labelled false: the private images have no classes and run as one population "
                               f"(class 0, {params_class_names(params)[0]!r}; the paper's Algorithm 4); the "
                               f"accounting is the same, and the empirical audit (which needs other classes as "
                               f"stand-ins) is skipped")}),
            "per_class_budget": _per_class_budget(params),
            "foundation_model": (f"none: pe.api {pe['api']} draws without one"
                                 if not run_uses_foundation_model(params)
                                 else "pretrained on public data only" if params["model"]["source"] == "pretrain"
                                 else params["model"]["local_path"]),
            "variation_degrees": variation_degrees(params),
            "variation_degrees_note": ("entry t-1 is iteration t's degree: the lookahead of S_(t-1) and the "
                                       "variation that makes S_t both use it"),
        },
        "dp_release": ["synthetic.npz", "iter_*/histogram.npz (noisy counts)", "iter_*/histogram.csv", "iter_*/selected.npz",
                       "iter_*/candidates.npz", "iter_*/draws/*.npz (the stored noisy counts)"],
        "clean_counts_written": False,
        "draws": list(draws or []),
        "odometer": odometer_record(params),
        "selected_on_private_data": {**selected_on_private_data_record(params),
                                     "dpsgd": dpsgd_selected_on_private_data()},
        "note": DP_RELEASE_NOTE,
        "num_synthetic": int(num_synthetic),
    }
    if audit is not None:
        report["audit"] = audit
    if compute is not None:
        report["compute"] = compute
    if not noise["is_dp_release"]:
        report["warning"] = noise["warning"]
    if len(draws or []) > calibration["num_iterations"]:
        from privevo.accountants.analysis.pld import compose_epsilon

        report["redraws"] = {
            "draws": len(draws), "iterations": calibration["num_iterations"],
            "epsilon_of_all_draws": compose_epsilon(report["events"], delta=calibration["delta"]),
            "warning": (f"this folder holds {len(draws)} noisy draws for {calibration['num_iterations']} iterations "
                        "(privacy.allow_redraw): publishing it whole costs epsilon_of_all_draws, not epsilon; "
                        "events counts every draw")}
    return report
