"""`privevo pe-release`: the final synthetic set and its privacy report."""

from __future__ import annotations

import json
import logging

from privevo.steps import common

logger = logging.getLogger("privevo")


def pe_release(params: dict, *, final: str, out_synthetic: str, calibration: str, out_privacy: str,
               model: str | None = None, audit: str | None = None, public: str | None = None,
               histograms: list[str] = (), data_manifest: str | None = None) -> None:
    from privevo.config.schedule import population_of_iteration
    from privevo.io.artifacts import load_json, load_npz, save_json
    from privevo.data.prepare import read_neighbouring_relation
    from privevo.reports.privacy import privacy_report

    final = load_npz(final)
    images, labels = final["images"], final["labels"]
    group_ids = final.get("parent_ids")
    release = None
    final_size = population_of_iteration(params, params["pe"]["num_iterations"])
    if params["pe"]["release_size"] is not None and params["pe"]["release_size"] > final_size:
        from privevo.config.schedule import release_degree
        from privevo.pe.loop import STATE_KEY, expand_release

        if not model:
            raise SystemExit("privevo pe-release: pe.release_size adds variations of S_T; give --model")
        degree = release_degree(params)
        images, labels, parents, state = expand_release(
            common.step_api(params, model=model, public=public, iteration=params["pe"]["num_iterations"]), images, labels,
            per_class=params["pe"]["release_size"], degree=degree,
            seed=params["seed"], state=final.get(STATE_KEY))
        group_ids = None if group_ids is None else group_ids[parents]  # siblings keep their S_(T-1) parent's group
        release = {"size_per_class": params["pe"]["release_size"], "degree": degree,
                   "final_candidates_per_class": final_size,
                   "note": "the final candidates plus variations of them (VARIATION_API): post-processing of S_T, "
                           "no privacy cost"}
    groups = {"group_ids": group_ids} if group_ids is not None else {}
    common.save_population(out_synthetic, images, labels, **groups)
    audit = load_json(audit) if audit else None
    report = privacy_report(params, load_json(calibration), num_synthetic=len(images), audit=audit,
                            compute=_compute_record(params, model_dir=model),
                            uniform_fallbacks=uniform_fallbacks(histograms), draws=release_draws(histograms),
                            neighbouring_relation=read_neighbouring_relation(data_manifest) if data_manifest else None)
    if release is not None:
        report["release"] = release
    save_json(out_privacy, report)
    print(json.dumps({k: report[k] for k in ("epsilon", "delta", "noise_multiplier", "num_iterations", "accountant")}))
    if not report["noise"]["is_dp_release"]:
        logger.warning("%s", report["noise"]["warning"])


def _compute_record(params: dict, *, model_dir: str | None = None) -> dict:
    """Where the models ran and in which precision (auto resolves per machine)."""
    from privevo.core.devices import cpu_capability_report, resolve_device, resolve_mixed_precision

    from privevo.apis.diffusion import model_image_shape, resize_record
    from privevo.data.private import params_image_shape

    device = resolve_device(params["device"])
    precision, reason = resolve_mixed_precision(params["model"]["mixed_precision"], device)
    record = {"device": str(device), "mixed_precision_setting": params["model"]["mixed_precision"],
              "mixed_precision": precision, "mixed_precision_reason": reason, "cpu": cpu_capability_report()}
    # The run's model folder comes from the workflow (a sweep's seeds may share one model), not from these params.
    if params["pe"]["api"] == "diffusion" and model_dir:
        record["images"] = resize_record(model_image_shape(model_dir), params_image_shape(params),
                                         params["model"]["resize_method"])
    elif params["pe"]["api"] == "text_to_image" and model_dir:
        # Resolutions, resize, prompts per class, guidance, scheduler and the weights' hash.
        record["images"] = common.step_api(params, model=model_dir, iteration=0).describe()
    return record


def uniform_fallbacks(histograms: list[str]) -> list[dict]:
    """(iteration, class) pairs whose noisy counts all fell below H, so their parents were drawn uniformly; read from
    each iteration's histogram.npz (post-processing of the noisy counts)."""
    import re

    import numpy as np

    from privevo.io.artifacts import load_npz

    flagged = []
    for path in histograms:
        histogram = load_npz(path)
        if "uniform_fallback" not in histogram:
            continue
        iteration = int(re.search(r"iter_(\d+)", str(path)).group(1))
        classes = np.unique(histogram["labels"][histogram["uniform_fallback"].astype(bool)])
        flagged += [{"iteration": iteration, "class": int(c)} for c in classes]
    return sorted(flagged, key=lambda entry: (entry["iteration"], entry["class"]))


def release_draws(histograms: list[str]) -> list[dict]:
    """Every noisy draw the run's iteration folders hold, each with the odometer charge that paid for it: what the
    release contains is exactly what was charged for it."""
    from pathlib import Path

    from privevo.pe.draws import stored_draws

    found = []
    for path in histograms:
        iteration_dir = Path(path).parent
        found += [{**draw, "iteration": iteration_dir.name} for draw in stored_draws(iteration_dir)]
    return found
