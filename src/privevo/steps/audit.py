"""`privevo audit`: an empirical lower bound on the epsilon of one histogram release (a distinguishing attack)."""

from __future__ import annotations

import json

from privevo.steps import common


def audit(params: dict, *, calibration: str, candidates: str, lookahead: str, out: str, noise_scale: float = 1.0) -> None:
    """Empirical lower bound on the epsilon of one histogram release, from a distinguishing attack."""
    from privevo.config.privacy import base_histogram_threshold, reference_noise_multiplier
    from privevo.evaluation.audit import run_audit, stand_in_sets
    from privevo.io.artifacts import load_images, load_json, load_npy, save_json
    from privevo.pe.noise import noise_source

    sigma = load_json(calibration)["noise_multiplier"]
    _, labels = load_images(candidates, num_classes=common.num_classes(params))
    private, candidates, candidate_labels = stand_in_sets(load_npy(lookahead), labels, selection_seed=params["seed"])
    pe, privacy = params["pe"], params["privacy"]
    result = run_audit(private, candidates, candidate_labels=candidate_labels, noise_multiplier=sigma,
                       threshold=base_histogram_threshold(params, sigma,
                                                          reference_noise_multiplier=reference_noise_multiplier(params)),
                       delta=privacy["delta"], num_neighbours=pe["num_nearest_neighbours"],
                       vote_metric=pe["vote_metric"], num_trials=params["audit"]["num_trials"],
                       confidence=params["audit"]["confidence"], max_private=params["audit"]["max_private"],
                       noise_scale=noise_scale, backend=pe["nn_backend"], selection_seed=params["seed"],
                       # The run's own noise source, as its histogram step draws it (iteration 1's).
                       noise_for_class=lambda c: noise_source(privacy, seed=params["seed"], class_index=c,
                                                              iteration=1))
    result["stand_in"] = ("D = S_0's lookahead embeddings of every class but the audited one (public: made by the "
                          "foundation model), voting as the audited class; candidates = S_0's lookahead embeddings "
                          "of the audited class and the next one, through the run's per-class histogram path")
    save_json(out, result)
    print(json.dumps({k: result[k] for k in ("passed", "mu_estimate", "mu_interval", "mu_accounted",
                                             "epsilon_lower_bound", "accounted_epsilon_one_release")}, indent=2))
