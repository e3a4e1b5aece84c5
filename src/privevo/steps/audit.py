"""`privevo audit`: an empirical lower bound on the epsilon of one histogram release (a distinguishing attack)."""

from __future__ import annotations

import json

from privevo.steps import common


def audit(params: dict, *, calibration: str, candidates: str, lookahead: str, out: str, noise_scale: float = 1.0) -> None:
    """Empirical lower bound on the epsilon of one histogram release, from a distinguishing attack."""
    from privevo.io.artifacts import load_images, load_json, load_npy, save_json
    from privevo.evaluation.audit import run_audit, stand_in_sets
    from privevo.config.params import histogram_threshold

    sigma = load_json(calibration)["noise_multiplier"]
    _, labels = load_images(candidates, num_classes=common.num_classes(params))
    private, candidates = stand_in_sets(load_npy(lookahead), labels)
    result = run_audit(private, candidates, noise_multiplier=sigma, threshold=histogram_threshold(params, sigma),
                       delta=params["privacy"]["delta"], num_neighbours=params["pe"]["num_nearest_neighbours"],
                       num_trials=params["audit"]["num_trials"], confidence=params["audit"]["confidence"],
                       max_private=params["audit"]["max_private"], noise_scale=noise_scale,
                       backend=params["pe"]["nn_backend"], selection_seed=params["seed"])
    result["stand_in"] = ("D = S_0's lookahead embeddings of every class but the audited one (public: made by the "
                          "foundation model); candidates = the audited class's S_0 lookahead embeddings")
    save_json(out, result)
    print(json.dumps({k: result[k] for k in ("epsilon_lower_bound", "accounted_epsilon_one_release", "passed",
                                             "mu_estimate", "mu_accounted")}, indent=2))
