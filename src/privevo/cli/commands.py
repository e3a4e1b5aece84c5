"""The steps of ``privevo <step>``: each reads its inputs, calls the layers below, and writes its outputs.

Every workflow rule and DVC stage calls one of these steps; the steps read params.yaml themselves.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path

logger = logging.getLogger("privevo")



def _params(args):
    from privevo.config.params import load_params

    return load_params(args.params, getattr(args, "overrides", None), at_epsilon=True)


def _layout(params: dict):
    from privevo.config.layout import Layout

    return Layout(params)


def _api(params: dict, args, *, iteration: int):
    """The API that draws population ``iteration`` (pe.api_schedule), over the model in ``args.model`` or the public
    pool in ``args.public``, returning images of the private set's shape (public metadata)."""
    from privevo.apis import make_api
    from privevo.config.params import api_of_iteration
    from privevo.data.private import params_class_names, params_image_shape

    return make_api(params, args.model, image_shape=params_image_shape(params),
                    public_pool=getattr(args, "public", None), name=api_of_iteration(params, iteration),
                    class_names=params_class_names(params))


def _num_classes(params: dict) -> int:
    """K: the private set's classes, from the data (1 for an unlabelled set)."""
    from privevo.data.private import params_num_classes

    return params_num_classes(params)


def _embedder(params: dict, name: str | None = None):
    """The embedder ``name`` (default: embedding.name, the votes' space), built from the params it reads."""
    from privevo.embedders import embedder_from_params

    return embedder_from_params(params, name)


def _evaluated_on(params: dict) -> str:
    """Which real images an evaluation step measures (evaluation.split), in words for its JSON."""
    if params["evaluation"]["split"] == "validation":
        return (f"validation split: {params['data']['validation_size']} images held out of the private training "
                "set (for choosing settings; the test split stays unseen)")
    return "test split"


def _api_state(path):
    """The per-image API state stored with a population (pe.loop.STATE_KEY), or None."""
    import numpy as np

    from privevo.pe.loop import STATE_KEY

    with np.load(path, allow_pickle=False) as data:
        return data[STATE_KEY] if STATE_KEY in data.files else None


def _state_extra(state) -> dict:
    from privevo.pe.loop import STATE_KEY

    return {} if state is None else {STATE_KEY: state}


def _save_population(path: str, images, labels, **extra) -> None:
    """A population as .npz (with ``extra`` arrays) plus its per-class PNG grid next to it."""
    from privevo.io.artifacts import save_images
    from privevo.reports.plots import save_class_grid

    save_images(path, images, labels, **extra)
    save_class_grid(Path(path).with_suffix(".png"), images, labels)


# ---------------------------------------------------------------------------------------------- steps


def cmd_validate_params(args) -> int:
    from privevo.config.params import (load_params, population_sizes, privacy_tag, settings_at_epsilon,
                                       variation_degrees)
    from privevo.config.runs import Sweep

    params = load_params(args.params, getattr(args, "overrides", None))
    sweep = Sweep(params)
    resolved = settings_at_epsilon(params)
    print(json.dumps({"valid": True, "privacy_tag": privacy_tag(resolved),
                      "variation_degrees": variation_degrees(resolved),
                      "runs": [{"seed": run.seed, "epsilon": run.epsilon, "folder": run.layout.run_dir,
                                **{key: run.params["pe"][key] for key in ("num_samples_per_class", "num_iterations")},
                                "population_sizes": population_sizes(run.params)}
                               for run in sweep.runs],
                      "shared": {family: sweep.keys(family) for family in ("data", "model", "embedding", "base")}},
                     indent=2))
    return 0


def cmd_plan(args) -> int:
    """The model calls of one PE run and their projected time; loads no model."""
    from privevo.io.artifacts import save_json
    from privevo.config.plan import format_plan, plan_run, project_time, resolve_cost

    params = _params(args)
    plan = plan_run(params)
    try:
        cost, source, notes = resolve_cost(params, args.seconds_per_image_step, args.cost)
    except ValueError as exc:
        raise SystemExit(f"privevo plan: {exc}") from None
    projection = None if cost is None else project_time(plan, cost, source=source,
                                                         devices=tuple(dict.fromkeys(args.devices)))
    print(format_plan(plan, projection, notes))
    if args.json:
        save_json(args.json, {**plan, "projection": projection, "notes": notes})
    return 0


def cmd_prepare_data(args) -> int:
    from privevo.data import prepare_data

    params = _params(args)
    data = params["data"]
    manifest = prepare_data(
        out_dir=Path(args.out_dir or _layout(params).prepared_dir),
        private_set=data["private_set"],
        private_dir=data["private_dir"],
        fashion_mnist_dir=data["fashion_mnist_dir"],
        public_sources=data["public_sources"],
        seed=params["seed"],
        augmented_count=data["augmented_count"],
        shapes_count=data["shapes_count"],
        max_private_samples=data["max_private_samples"],
        validation_size=data["validation_size"],
        labelled=data["labelled"],
    )
    logger.info("prepared data: %s", json.dumps({k: v for k, v in manifest.items() if k.startswith("num")}))
    return 0


def cmd_pretrain(args) -> int:
    from privevo.io.artifacts import load_images
    from privevo.reports.plots import save_curve, save_grid
    from privevo.models.ddpm import pretrain
    import pandas as pd

    params = _params(args)
    images, _ = load_images(args.public, num_classes=None)
    summary = pretrain(images, model_params=params["model"], out_dir=args.out, seed=params["seed"], device=params["device"])
    loss = pd.read_csv(Path(args.out) / "loss.csv")
    save_curve(Path(args.out) / "loss.png", loss["step"], {"loss": loss["loss"], "smoothed": loss["loss_smoothed"]},
               xlabel="step", ylabel="noise-prediction MSE", title="DDPM pretraining on public data", logy=True)
    from privevo.apis.diffusion import DiffusionAPI
    from privevo.core import seeding

    api = DiffusionAPI.from_params(params, model_dir=args.out)  # the DDPM just trained, whatever pe.api names

    samples = api.random(64, seed=seeding.torch_seed(params["seed"], role="pretrain", iteration=1), desc="sample grid")
    save_grid(Path(args.out) / "samples.png", samples, ncols=8, scale=3)
    logger.info("pretraining done: %s", summary)
    return 0


def cmd_model_info(args) -> int:
    """A record of the foundation model this run uses: pretrained here, or the user's local folder."""
    import hashlib

    from privevo.io.artifacts import save_json

    from privevo.config.params import run_uses_foundation_model

    params = _params(args)
    if not run_uses_foundation_model(params):
        record = {"source": None, "api": params["pe"]["api"],
                  "note": f"pe.api {params['pe']['api']} draws without a foundation model: none was trained or loaded"}
        save_json(args.out, record)
        print(json.dumps(record, indent=2))
        return 0
    model = Path(args.model)
    weights = sorted(p for p in model.rglob("*") if p.suffix in (".safetensors", ".bin") and p.is_file())
    if not weights:
        raise FileNotFoundError(f"no model weights (*.safetensors or *.bin) under {model}; see model.local_path")
    record = {"source": params["model"]["source"], "folder": str(model),
              "weights": {str(p.relative_to(model)): hashlib.sha256(p.read_bytes()).hexdigest() for p in weights}}
    save_json(args.out, record)
    print(json.dumps(record, indent=2))
    return 0


def cmd_embed_private(args) -> int:
    """Embeddings of the private training set: part of the DP histogram's query, computed once."""
    from privevo.io.artifacts import load_images, save_npy

    params = _params(args)
    images, labels = load_images(args.private, num_classes=_num_classes(params))
    features = _embedder(params).embed(images, batch_size=params["embedding"]["batch_size"])
    save_npy(args.out_labels, labels)
    save_npy(args.out, features)
    return 0


def cmd_calibrate(args) -> int:
    """PE's T Gaussian releases (--num-iterations, or --params), or DP-SGD's Poisson-subsampled Gaussian steps
    (--sample-rate and --steps): solve for the noise multiplier or for epsilon."""
    from privevo.accountants.gdp import calibrate
    from privevo.io.artifacts import save_json

    sgd = args.sample_rate is not None or args.steps is not None
    if sgd:
        from privevo.accountants.calibration import calibrate_sgd

        if args.sample_rate is None or args.steps is None or args.delta is None or args.params_file:
            raise SystemExit("privevo calibrate: DP-SGD needs --sample-rate, --steps and --delta (and no --params)")
        record = calibrate_sgd(sample_rate=args.sample_rate, steps=args.steps, delta=args.delta, epsilon=args.epsilon,
                               noise_multiplier=args.noise_multiplier, accountant=args.accountant)
    elif args.params_file:
        params = _params(argparse.Namespace(params=args.params_file, overrides=args.overrides))
        privacy = params["privacy"]
        record = calibrate(epsilon=privacy["epsilon"], noise_multiplier=privacy["noise_multiplier"],
                           delta=privacy["delta"], num_iterations=params["pe"]["num_iterations"])
    else:
        if args.delta is None or args.num_iterations is None:
            raise SystemExit("privevo calibrate: give --delta and --num-iterations (or --params params.yaml, "
                             "or --sample-rate and --steps for DP-SGD)")
        record = calibrate(epsilon=args.epsilon, noise_multiplier=args.noise_multiplier, delta=args.delta,
                           num_iterations=args.num_iterations)
    if args.out:
        save_json(args.out, record)
    print(json.dumps(record, indent=2))
    return 0


def cmd_dpsgd(args) -> int:
    """The DP-SGD baseline: the downstream CNN trained on the private training set (a DP release), then
    tested on the private test split (evaluation, not part of the release)."""
    from privevo.data import stratified_head
    from privevo.io.artifacts import load_images, load_json, save_json
    from privevo.models.classifier import evaluate
    from privevo.models.dpsgd import train_dpsgd
    from privevo.models.io import save_classifier

    params = _params(args)
    dpsgd, privacy, evaluation = params["dpsgd"], params["privacy"], params["evaluation"]
    if privacy["epsilon"] is None:
        raise SystemExit("privevo dpsgd: needs privacy.epsilon (DP-SGD is calibrated to a target epsilon)")
    if bool(args.init_classifier) != bool(args.pe_privacy):
        raise SystemExit("privevo dpsgd: give --init-classifier and --pe-privacy together (PE + DP-SGD)")
    mix = bool(args.init_classifier)
    images, labels = load_images(args.train, num_classes=_num_classes(params))
    if dpsgd["max_samples"] is not None:
        images, labels = stratified_head(images, labels, dpsgd["max_samples"])
    training = {"epochs": dpsgd["epochs"], "learning_rate": dpsgd["learning_rate"]}
    if mix:
        from privevo.models.io import load_classifier

        pe_report = load_json(args.pe_privacy)
        if not pe_report.get("is_dp_release", False):
            raise SystemExit(f"privevo dpsgd: {args.pe_privacy} is not a DP release (debug noise); cannot compose it")
        if float(pe_report["delta"]) != float(privacy["delta"]):
            raise SystemExit(f"privevo dpsgd: the PE release is at delta {pe_report['delta']}, this run at "
                             f"{privacy['delta']}; compose at one delta")
        training = {"epochs": params["mixing"]["epochs"], "learning_rate": params["mixing"]["learning_rate"],
                    "initial_model": load_classifier(args.init_classifier, seed=evaluation["classifier_seeds"][0]),
                    "prior_events": pe_report["events"]}
    model, record = train_dpsgd(images, labels, epsilon=privacy["epsilon"], delta=privacy["delta"],
                                expected_batch_size=dpsgd["expected_batch_size"],
                                physical_batch_size=dpsgd["physical_batch_size"], max_grad_norm=dpsgd["max_grad_norm"],
                                seed=params["seed"], accountant=dpsgd["accountant"], num_classes=_num_classes(params),
                                poisson_sampling=dpsgd["poisson_sampling"], **training)
    method = "PE + DP-SGD" if mix else "DP-SGD"
    sgd_events = [{"kind": "poisson_gaussian", "sample_rate": record["sample_rate"],
                   "noise_multiplier": record["noise_multiplier"], "count": record["steps"]}]
    report = {**record, "method": method, "seed": params["seed"], "is_dp_release": True,
              "private_data": {"num_training_examples": int(len(labels)), "max_samples": dpsgd["max_samples"]},
              "dp_release": ["model.safetensors", "model.json"], "events": sgd_events}
    if mix:
        # The ledger counts the PE release's events once, from that release, however many mixes build on it.
        report.update({"pe_fraction": params["mixing"]["pe_fraction"], "pe_release": str(args.pe_privacy),
                       "pe_epsilon": pe_report["epsilon"], "init_classifier": str(args.init_classifier),
                       "inherited_events": {"from": str(args.pe_privacy), "events": pe_report["events"]}})
    save_classifier(args.out_weights, model, trained_on=f"private training set with {method}", seed=params["seed"],
                    epsilon=record["epsilon"], delta=record["delta"])
    save_json(args.out_report, report)
    test_images, test_labels = load_images(args.test, num_classes=_num_classes(params))
    if evaluation["max_test_samples"] is not None:
        test_images, test_labels = stratified_head(test_images, test_labels, evaluation["max_test_samples"])
    result = evaluate(model, test_images, test_labels)
    save_json(args.out_downstream, {**result, "seed": params["seed"], "epsilon": record["epsilon"],
                                    "evaluated_on": _evaluated_on(params),
                                    "trained_on": f"private training set with {method}",
                                    "note": "accuracy on the real test split: evaluation, not part of the DP release"})
    logger.info("%s at epsilon %.3g (sigma %.3f, q %.4g, %d steps): test accuracy %.4f", method, record["epsilon"],
                record["noise_multiplier"], record["sample_rate"], record["steps"], result["accuracy"])
    return 0


def _warn_if_slow_on_cpu(params: dict, api) -> None:
    """A foundation model that needs a GPU, asked to run on the CPU: one warning line with the projected time
    (the run's image-steps from `plan` x one UNet step measured here) before the first image is made."""
    measure = getattr(api, "measure_seconds_per_image_step", None)
    if measure is None or getattr(getattr(api, "device", None), "type", None) != "cpu":
        return
    from privevo.config.plan import cpu_time_warning, plan_run

    seconds = measure()
    plan = plan_run(params)
    logger.info("one image-step takes %.3g s here (CPU); the run makes %d image-steps", seconds,
                plan["totals"]["image_steps"])
    warning = cpu_time_warning(plan, seconds, api=params["pe"]["api"])
    if warning:
        logger.warning(warning)


def cmd_pe_init(args) -> int:
    from privevo.pe.loop import initial_population_with_state

    params = _params(args)
    api = _api(params, args, iteration=0)
    _warn_if_slow_on_cpu(params, api)
    images, labels, state = initial_population_with_state(
        api, classes=list(range(_num_classes(params))),
        num_samples_per_class=params["pe"]["num_samples_per_class"], seed=params["seed"])
    _save_population(args.out, images, labels, **_state_extra(state))
    return 0


def _shard_rows(args, labels):
    """All rows, or (with --shard i --shards n) the rows of shard i's classes."""
    import numpy as np

    from privevo.pe.shards import rows_of_classes, shard_classes

    if args.shards == 1:
        return np.arange(len(labels))
    return rows_of_classes(labels, shard_classes(args.shard, args.shards, _num_classes(_params(args))))


def cmd_pe_lookahead(args) -> int:
    from privevo.io.artifacts import load_images, save_npy, save_npz
    from privevo.config.params import degree_of_iteration
    from privevo.pe.lookahead import lookahead_embeddings

    params = _params(args)
    images, labels = load_images(args.candidates, num_classes=_num_classes(params))
    state = _api_state(args.candidates)
    rows = _shard_rows(args, labels)
    # The lookahead of S_t embeds the candidates voted on in iteration t + 1, with that iteration's degree.
    degree = degree_of_iteration(params, args.iteration + 1)
    features = lookahead_embeddings(
        _api(params, args, iteration=args.iteration + 1), _embedder(params), images[rows], labels[rows], degree=degree,
        lookahead_degree=params["pe"]["lookahead_degree"], iteration=args.iteration, seed=params["seed"],
        embed_batch_size=params["embedding"]["batch_size"], state=None if state is None else state[rows],
    )
    if args.shards > 1:
        save_npz(args.out, features=features, positions=rows)
    else:
        save_npy(args.out, features)
    return 0


def _private_embeddings(args):
    """The histogram's private input: embeddings and their checked labels."""
    from privevo.io.artifacts import load_npy
    from privevo.io.images import check_labels

    embeddings = load_npy(args.private_embeddings)
    labels = check_labels(load_npy(args.private_labels), num_images=len(embeddings),
                          num_classes=_num_classes(_params(args)),
                          name=args.private_labels)
    return embeddings, labels


def cmd_pe_histogram(args) -> int:
    """The only PE step that reads private data (through its embeddings)."""
    from privevo.io.artifacts import load_images, load_json, load_npy
    from privevo.pe.iteration_files import save_iteration
    from privevo.config.params import histogram_threshold, population_of_iteration
    from privevo.pe.noise import noise_record, noise_source
    from privevo.pe.draws import histogram_draw_fingerprint, load_or_draw
    from privevo.pe.loop import noisy_histograms, select_parents

    params = _params(args)
    pe, privacy = params["pe"], params["privacy"]
    sigma = load_json(args.calibration)["noise_multiplier"]
    images, labels = load_images(args.candidates, num_classes=_num_classes(params))
    lookahead, noise = load_npy(args.lookahead), noise_record(privacy)["source"]
    key = histogram_draw_fingerprint(
        lookahead, labels, iteration=args.iteration, noise_multiplier=sigma, num_neighbours=pe["num_nearest_neighbours"],
        noise_source=noise, private_embeddings_path=args.private_embeddings,
        private_settings={"data": params["data"], "embedding": params["embedding"], "vote_metric": pe["vote_metric"]})
    noisy, reused = load_or_draw(Path(args.out_dir) / "draws", key, lambda: noisy_histograms(
        *_private_embeddings(args), lookahead, labels, noise_multiplier=sigma, num_neighbours=pe["num_nearest_neighbours"],
        backend=pe["nn_backend"], vote_metric=pe["vote_metric"],
        noise_for_class=lambda c: noise_source(privacy, seed=params["seed"], class_index=c, iteration=args.iteration)))
    reference_sigma = _reference_noise_multiplier(params)
    threshold = histogram_threshold(params, sigma if reference_sigma is None else reference_sigma)
    frame, selected = select_parents(noisy, labels, noise_multiplier=sigma, threshold=threshold,
                                     selection=pe["selection"], rank_top=pe["rank_top"],
                                     num_samples_per_class=population_of_iteration(params, args.iteration),
                                     iteration=args.iteration,
                                     seed=params["seed"], reference_noise_multiplier=reference_sigma)
    save_iteration(args.out_dir, frame, images, labels, selected, noise_multiplier=sigma, threshold=threshold,
                   noise_source=noise, voted_candidates=args.candidates, api_state=_api_state(args.candidates))
    survived = (frame["thresholded_count"] > 0).groupby(frame["class"]).mean()
    logger.info("iteration %d: sigma=%.3f H=%.2f noise=%s%s; candidates surviving the threshold per class: %s",
                args.iteration, sigma, threshold, noise, " (reused the stored draw)" if reused else "",
                survived.round(2).to_dict())
    if reference_sigma is not None:
        logger.info("iteration %d: H matched to epsilon %s (sigma %.3f) per class: %s", args.iteration,
                    pe["histogram_threshold_reference_epsilon"], reference_sigma,
                    frame.groupby("class")["threshold"].first().round(2).to_dict())
    return 0


def _reference_noise_multiplier(params: dict) -> float | None:
    """The noise multiplier of pe.histogram_threshold_reference_epsilon at this run's delta and T (public)."""
    from privevo.accountants import ACCOUNTANTS

    reference = params["pe"]["histogram_threshold_reference_epsilon"]
    if reference is None:
        return None
    calibrate = ACCOUNTANTS.get(params["privacy"]["accountant"], key="privacy.accountant")
    return float(calibrate(delta=params["privacy"]["delta"], num_iterations=params["pe"]["num_iterations"],
                           epsilon=float(reference))["noise_multiplier"])


def cmd_pe_variation(args) -> int:
    from privevo.io.artifacts import load_images, load_npz, save_npz
    from privevo.config.params import degree_of_iteration
    from privevo.pe.loop import variation_population_with_state

    params = _params(args)
    images, labels = load_images(args.selected, num_classes=_num_classes(params))
    selected = load_npz(args.selected)
    parent_ids, state = selected["parent_ids"], _api_state(args.selected)
    rows = _shard_rows(args, labels)
    varied, varied_state = variation_population_with_state(
        _api(params, args, iteration=args.iteration), images[rows], labels[rows],
        degree=degree_of_iteration(params, args.iteration),
        iteration=args.iteration, seed=params["seed"], state=None if state is None else state[rows])
    if args.shards > 1:
        save_npz(args.out, images=varied, labels=labels[rows], parent_ids=parent_ids[rows], positions=rows,
                 **_state_extra(varied_state))
        return 0
    # Siblings (variations of one selected parent) share a parent id; evaluation splits by it.
    _save_population(args.out, varied, labels, parent_ids=parent_ids, **_state_extra(varied_state))
    return 0


def cmd_pe_merge_shards(args) -> int:
    """Put the class shards of one generation step back into one population (or one lookahead array)."""
    from privevo.io.artifacts import load_npz, save_npy
    from privevo.pe.shards import merge_rows

    parts = [load_npz(path) for path in args.parts]
    merged = merge_rows(parts, total=sum(len(part["positions"]) for part in parts))
    if args.kind == "lookahead":
        save_npy(args.out, merged["features"])
    else:
        from privevo.pe.loop import STATE_KEY

        _save_population(args.out, merged["images"], merged["labels"], parent_ids=merged["parent_ids"],
                         **_state_extra(merged.get(STATE_KEY)))
    return 0


def cmd_pe_release(args) -> int:
    from privevo.config.params import population_of_iteration
    from privevo.io.artifacts import load_json, load_npz, save_json
    from privevo.reports.privacy import privacy_report

    params = _params(args)
    final = load_npz(args.final)
    images, labels = final["images"], final["labels"]
    group_ids = final.get("parent_ids")
    release = None
    final_size = population_of_iteration(params, params["pe"]["num_iterations"])
    if params["pe"]["release_size"] is not None and params["pe"]["release_size"] > final_size:
        from privevo.config.params import release_degree
        from privevo.pe.loop import STATE_KEY, expand_release

        if not args.model:
            raise SystemExit("privevo pe-release: pe.release_size adds variations of S_T; give --model")
        degree = release_degree(params)
        images, labels, parents, state = expand_release(
            _api(params, args, iteration=params["pe"]["num_iterations"]), images, labels,
            per_class=params["pe"]["release_size"], degree=degree,
            seed=params["seed"], state=final.get(STATE_KEY))
        group_ids = None if group_ids is None else group_ids[parents]  # siblings keep their S_(T-1) parent's group
        release = {"size_per_class": params["pe"]["release_size"], "degree": degree,
                   "final_candidates_per_class": final_size,
                   "note": "the final candidates plus variations of them (VARIATION_API): post-processing of S_T, "
                           "no privacy cost"}
    groups = {"group_ids": group_ids} if group_ids is not None else {}
    _save_population(args.out_synthetic, images, labels, **groups)
    audit = load_json(args.audit) if args.audit else None
    report = privacy_report(params, load_json(args.calibration), num_synthetic=len(images), audit=audit,
                            compute=_compute_record(params, model_dir=args.model))
    if release is not None:
        report["release"] = release
    save_json(args.out_privacy, report)
    print(json.dumps({k: report[k] for k in ("epsilon", "delta", "noise_multiplier", "num_iterations", "accountant")}))
    if not report["noise"]["is_dp_release"]:
        logger.warning("%s", report["noise"]["warning"])
    return 0


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
        record["images"] = _api(params, argparse.Namespace(model=model_dir), iteration=0).describe()
    return record


def cmd_audit(args) -> int:
    """Empirical lower bound on the epsilon of one histogram release, from a distinguishing attack."""
    from privevo.io.artifacts import load_images, load_json, load_npy, save_json
    from privevo.evaluation.audit import run_audit, stand_in_sets
    from privevo.config.params import histogram_threshold

    params = _params(args)
    sigma = load_json(args.calibration)["noise_multiplier"]
    _, labels = load_images(args.candidates, num_classes=_num_classes(params))
    private, candidates = stand_in_sets(load_npy(args.lookahead), labels)
    result = run_audit(private, candidates, noise_multiplier=sigma, threshold=histogram_threshold(params, sigma),
                       delta=params["privacy"]["delta"], num_neighbours=params["pe"]["num_nearest_neighbours"],
                       num_trials=params["audit"]["num_trials"], confidence=params["audit"]["confidence"],
                       max_private=params["audit"]["max_private"], noise_scale=args.noise_scale,
                       backend=params["pe"]["nn_backend"], selection_seed=params["seed"])
    result["stand_in"] = ("D = S_0's lookahead embeddings of every class but the audited one (public: made by the "
                          "foundation model); candidates = the audited class's S_0 lookahead embeddings")
    save_json(args.out, result)
    print(json.dumps({k: result[k] for k in ("epsilon_lower_bound", "accounted_epsilon_one_release", "passed",
                                             "mu_estimate", "mu_accounted")}, indent=2))
    return 0


# ---------------------------------------------------------------------------------------------- evaluation
# These steps read private data (embeddings or the test split) and are NOT part of the DP release.


def _fd_metric_name(embedder_name: str) -> str:
    """Only Inception features give an FID; other feature spaces are reported as FD-<name>."""
    from privevo.embedders import EMBEDDERS

    return EMBEDDERS.trait(embedder_name, "fd_metric")


def cmd_fid(args) -> int:
    """Frechet distance between two image sets (.npz files) in an embedder's feature space."""
    from privevo.io.artifacts import load_images
    from privevo.evaluation.frechet import FeatureStats, frechet_distance

    from privevo.embedders import embedder_from_params

    # The command line stands in for the params the embedder reads (embedding.resolution, embedding.inception_path).
    embedder = embedder_from_params({"device": args.device, "embedding": {
        "name": args.embedder, "resolution": args.resolution, "inception_path": args.inception_path}}, key="--embedder")
    stats = []
    for path in (args.first, args.second):
        images, _ = load_images(path, num_classes=None)
        stats.append(FeatureStats.from_features(embedder.embed(images, batch_size=args.batch_size)))
    metric = _fd_metric_name(args.embedder)
    print(json.dumps({"metric": metric, "value": frechet_distance(*stats), "first": args.first, "n_first": stats[0].n,
                      "second": args.second, "n_second": stats[1].n}, indent=2))
    return 0


def cmd_eval_reference_stats(args) -> int:
    from privevo.io.artifacts import load_npy
    from privevo.evaluation.fd_curve import reference_stats, save_stats

    save_stats(args.out, reference_stats(load_npy(args.embeddings), load_npy(args.labels)))
    return 0


def cmd_eval_fd_curve(args) -> int:
    from privevo.config.params import fd_embedding_name
    from privevo.io.artifacts import load_images, save_csv
    import numpy as np

    from privevo.core import seeding
    from privevo.evaluation.fd_curve import (ALL_CLASSES, equal_size_rows, fd_curve_frame, load_stats,
                                             population_distances)
    from privevo.evaluation.precision_recall import precision_recall
    from privevo.io.artifacts import load_npy
    from privevo.reports.plots import save_curve

    params = _params(args)
    reference = load_stats(args.reference)
    embedder = _embedder(params, fd_embedding_name(params))
    metric = _fd_metric_name(fd_embedding_name(params))
    populations = [load_images(path, num_classes=_num_classes(params)) for path in args.populations]
    # FD falls with N, so populations of different sizes (pe.api_schedule) are compared at the smallest one.
    per_class = min(int(np.bincount(labels).max()) for _, labels in populations)
    private = load_npy(args.private_embeddings) if args.private_embeddings else None
    distances, coverage = {}, {}
    for iteration, (images, labels) in enumerate(populations):
        rows = equal_size_rows(labels, per_class, seed=params["seed"], iteration=iteration)
        features = embedder.embed(images[rows], batch_size=params["embedding"]["batch_size"], progress=False)
        distances[iteration] = population_distances(features, labels[rows], reference,
                                                    per_class=params["evaluation"]["fd_per_class"])
        message = f"S_{iteration}: {metric} = {distances[iteration][ALL_CLASSES]:.1f}"
        if private is not None:  # fidelity and diversity apart, in the FD's feature space
            coverage[iteration] = precision_recall(
                private, features, rng=seeding.rng(params["seed"], role="evaluation", iteration=iteration))
            message += " " + " ".join(f"{name} {value:.3f}" for name, value in coverage[iteration].items())
        logger.info("%s (%d of %d images)", message, len(rows), len(labels))
    frame = fd_curve_frame(distances, metric)
    if coverage:
        import pandas as pd

        frame = pd.concat([frame, pd.DataFrame([{"iteration": t, "class": ALL_CLASSES, "metric": name, "value": value}
                                                for t, values in coverage.items() for name, value in values.items()])],
                          ignore_index=True)
    save_csv(args.out_csv, frame)
    overall = frame[(frame["class"] == ALL_CLASSES) & (frame["metric"] == metric)]
    curves = {"all classes": overall["value"].to_numpy()}
    save_curve(args.out_png, overall["iteration"].to_numpy(), curves, xlabel="PE iteration t (population S_t)",
               ylabel=metric,
               title=f"{metric} of S_t to the private training set, {per_class} per class (evaluation, not DP)")
    return 0


def cmd_eval_cleanfid_check(args) -> int:
    """privevo's Inception FID next to clean-fid's compute_fid on the same images (where clean-fid imports)."""
    from privevo.config.params import fd_embedding_name
    from privevo.core.devices import resolve_device
    from privevo.evaluation.cleanfid_check import cleanfid_check, skipped
    from privevo.io.artifacts import load_images, save_json

    params = _params(args)
    emb = params["embedding"]
    if fd_embedding_name(params) != "inception":
        record = skipped(f"the FD's embedder is {fd_embedding_name(params)!r}: only Inception features give an FID "
                         "to compare")
    else:
        synthetic, _ = load_images(args.synthetic, num_classes=None)
        real, _ = load_images(args.real, num_classes=None)
        record = cleanfid_check(synthetic, real, weights=emb["inception_path"],
                                device=str(resolve_device(params["device"])), batch_size=emb["batch_size"])
    record.update(synthetic=str(args.synthetic), real=str(args.real))
    save_json(args.out, record)
    print(json.dumps(record, indent=2))
    return 0


def cmd_eval_downstream(args) -> int:
    from privevo.evaluation.downstream import downstream_accuracy
    from privevo.io.artifacts import load_images, load_npz, save_csv, save_json
    from privevo.reports.plots import save_downstream_curves

    params = _params(args)
    train_images, train_labels = load_images(args.train, num_classes=_num_classes(params))
    groups = None if args.real else load_npz(args.train).get("group_ids")
    models = {}
    init_from = None
    if args.init_classifier:
        from privevo.models.io import load_classifier

        init_from = load_classifier(args.init_classifier)
    result, curves = downstream_accuracy(train_images, train_labels, *load_images(args.test, num_classes=_num_classes(params)),
                                         evaluation=params["evaluation"], real=args.real, groups=groups,
                                         on_model=lambda seed, model: models.__setitem__(seed, model),
                                         init_from=init_from, num_classes=_num_classes(params))
    if init_from is not None:
        result["trained_on"] += ", starting from the public-set CNN (public + PE)"
        result["init_classifier"] = str(args.init_classifier)
    if not args.real:
        result["seed"] = params["seed"]  # the PE seed of the training set (S_0 or S_T)
    if args.out_classifiers:
        from privevo.models.io import save_classifiers

        from privevo.evaluation.downstream import PRIVATE_MODEL_LABEL

        label = {"privacy_label": PRIVATE_MODEL_LABEL} if args.real else {}
        save_classifiers(args.out_classifiers, models, trained_on=result["trained_on"], train_set=str(args.train),
                         seed=result.get("seed"), selected_epochs=result["selected_epochs"],
                         test_accuracies=result["accuracies"], **label,
                         note="test accuracies are evaluation on the private test split, not part of any DP release")
    save_csv(args.out_curves, curves)
    save_downstream_curves(args.out_png, curves, real=args.real)
    result["evaluated_on"] = _evaluated_on(params)
    save_json(args.out, result)
    logger.info("downstream accuracy %.4f +- %.4f over seeds %s", result["accuracy_mean"], result["accuracy_std"],
                result["seeds"])
    return 0




def cmd_inspect(args) -> int:
    import numpy as np
    import pandas as pd

    from privevo.evaluation.inspect import histogram_summary, previous_candidates, top_and_bottom
    from privevo.io.artifacts import load_images, load_npz
    from privevo.reports.plots import save_annotated_grid, save_sorted_counts_per_class

    folder = Path(args.iteration_dir)
    if not (folder / "histogram.npz").exists():
        raise FileNotFoundError(f"no histogram.npz in {folder}; give an iteration folder such as "
                                "results/pe/runs/<run>/seed_0/eps_1/iter_001")
    histogram = load_npz(folder / "histogram.npz")
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(f"{folder}: noise_multiplier={float(histogram['noise_multiplier']):.3f} "
              f"threshold H={float(histogram['threshold']):.2f}"
              + (" at the reference epsilon; matched per class: the H column"
                 if "candidate_threshold" in histogram
                 and not np.allclose(histogram["candidate_threshold"], histogram["threshold"]) else "")
              + " (noisy counts only)")
        print("noise_tv: how far another draw of noise of this sigma moves the selection P_t (total variation); "
              "draw_tv: how far the selection's own draws from P_t move it (pe.selection: sample)")
        print(histogram_summary(histogram, top=args.top).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    if args.plot:
        save_sorted_counts_per_class(args.plot, histogram, title=f"{folder.name}: sorted noisy counts per class "
                                                                  "(red: threshold H)")
    if args.grid:
        voted = args.voted or previous_candidates(folder, histogram)
        if voted is None:
            raise FileNotFoundError(f"{folder} is iteration 1: give --voted with S_0's candidates.npz "
                                    "(results/pe/base/<key>/iter_000/candidates.npz)")
        picks, captions = top_and_bottom(histogram, top=args.top)
        save_annotated_grid(args.grid, load_images(voted)[0][picks], captions, ncols=2 * args.top,
                            title=f"{folder.name}: top-{args.top} (left) and bottom-{args.top} (right) voted per class")
    return 0


def cmd_eval_metrics(args) -> int:
    import pandas as pd

    from privevo.io.artifacts import load_json, save_json
    from privevo.reports.summary import run_metrics

    if (args.downstream is None) != (args.real is None):
        raise SystemExit("privevo eval-metrics: give --downstream and --real together, or neither (unlabelled data)")
    metrics = run_metrics(load_json(args.privacy), downstream=load_json(args.downstream) if args.downstream else None,
                          real=load_json(args.real) if args.real else None,
                          fd_curve=pd.read_csv(args.fd_curve), run=args.run or str(Path(args.privacy).parent),
                          cleanfid_check=load_json(args.cleanfid_check) if args.cleanfid_check else None)
    save_json(args.out, metrics)
    print(json.dumps(metrics, indent=2))
    return 0


def cmd_publish(args) -> int:
    """Copy a run's reports to fixed paths (for dvc metrics/plots); histograms become one long CSV."""
    from privevo.reports.publish import publish_run

    publish_run(args.out_dir, metrics=args.metrics, privacy=args.privacy, fd_curve=args.fd_curve,
                downstream_curves=args.downstream_curves, histograms=args.histograms, comparison=args.comparison)
    return 0


def cmd_summary(args) -> int:
    from privevo.io.artifacts import load_json, save_csv, save_text
    from privevo.reports.summary import summary_table

    frame, markdown = summary_table([load_json(p) for p in args.metrics])
    save_csv(args.out_csv, frame)
    save_text(args.out_md, markdown)
    print(markdown)
    return 0


def cmd_compare(args) -> int:
    """results/comparison.{csv,md,png}: one row per (method, epsilon) over the sweep's seeds."""
    from privevo.io.artifacts import load_json, save_csv, save_text
    from privevo.reports.comparison import comparison_markdown, comparison_table, save_comparison_plot

    if len(args.dpsgd) != len(args.dpsgd_downstream) or len(args.mix) != len(args.mix_downstream):
        raise SystemExit("privevo compare: give one --dpsgd-downstream (--mix-downstream) file per --dpsgd (--mix) report")
    dpsgd, mix = ([{**load_json(report), **load_json(downstream)} for report, downstream in zip(reports, downstreams)]
                  for reports, downstreams in ((args.dpsgd, args.dpsgd_downstream), (args.mix, args.mix_downstream)))
    if len(args.public_pe) != len(args.public_pe_metrics):
        raise SystemExit("privevo compare: give one --public-pe-metrics file per --public-pe downstream.json")
    public_pe = []
    for downstream, metrics in zip(args.public_pe, args.public_pe_metrics):
        result = load_json(downstream)
        public_pe.append({**load_json(metrics), "accuracy_mean": result["accuracy_mean"],
                          "accuracy_seeds": len(result["seeds"])})
    pe = [load_json(p) for p in args.pe]
    table = comparison_table(pe=pe, prior=[load_json(p) for p in args.prior],
                             real=load_json(args.real), dpsgd=dpsgd, mix=mix, public_pe=public_pe)
    save_csv(args.out_csv, table)
    markdown = comparison_markdown(table, evaluated_on=pe[0].get("evaluated_on", "test split") if pe else "test split")
    save_text(args.out_md, markdown)
    save_comparison_plot(args.out_png, table)
    print(markdown)
    return 0


def cmd_public_classifier(args) -> int:
    """The CNN trained on the public set's own labels: the feature extractor of "public + PE" (no private data)."""
    from privevo.data.prepare import load_public_set
    from privevo.io.artifacts import load_npz
    from privevo.models.io import save_classifier
    from privevo.models.public_features import train_public_classifier

    params = _params(args)
    images, source_ids, source_names = load_public_set(args.public)
    model, record = train_public_classifier(images, source_ids, load_npz(args.public)["source_labels"], source_names,
                                            seed=params["seed"], epochs=params["mixing"]["public_epochs"])
    save_classifier(args.out, model, **record)
    return 0


ROBUSTNESS_METHODS = ("pe", "public_pe", "dpsgd", "mix", "prior", "real")


def cmd_robustness(args) -> int:
    """Robustness of one saved classifier on the real test split (evaluation, not part of any DP release):
    calibration, common corruptions, FGSM/PGD and out-of-distribution AUROC against each public source."""
    import numpy as np
    import pandas as pd

    from privevo.core import seeding
    from privevo.data import stratified_head
    from privevo.data.prepare import load_public_set
    from privevo.evaluation.robustness import evaluate_robustness, save_reliability_diagram
    from privevo.io.artifacts import load_images, save_csv, save_json
    from privevo.models.io import load_classifier
    from privevo.reports.comparison import DPSGD, MIX, PE, PRIOR, PUBLIC_PE, REAL

    params = _params(args)
    settings, evaluation = params["robustness"], params["evaluation"]
    classifier_seed = None if args.method in ("dpsgd", "mix") else evaluation["classifier_seeds"][0]
    model = load_classifier(args.classifier, seed=classifier_seed)
    test_images, test_labels = load_images(args.test, num_classes=_num_classes(params))
    if settings["max_test_samples"] is not None:
        test_images, test_labels = stratified_head(test_images, test_labels, settings["max_test_samples"])
    public, source_ids, source_names = load_public_set(args.public)
    rng = seeding.rng(params["seed"], role="robustness")
    ood_sets = {}
    for index, name in enumerate(source_names):
        members = np.flatnonzero(source_ids == index)
        if members.size > settings["ood_max_samples"]:
            members = np.sort(rng.choice(members, size=settings["ood_max_samples"], replace=False))
        ood_sets[name] = public[members]
    summary, rows = evaluate_robustness(
        model, test_images, test_labels, ood_sets, seed=int(params["seed"]),
        corruption_names=settings["corruptions"], severities=settings["severities"], attacks=settings["attacks"],
        attack_budgets=[budget / 255 for budget in settings["attack_budgets"]], pgd_steps=settings["pgd_steps"],
        attack_max_samples=settings["attack_max_samples"], batch_size=settings["batch_size"])
    private = args.method in ("pe", "public_pe", "dpsgd", "mix")
    labels = {"pe": PE, "public_pe": PUBLIC_PE, "dpsgd": DPSGD, "mix": MIX, "prior": PRIOR, "real": REAL}
    summary = {
        "classifier": {"method": labels[args.method],
                       "epsilon": params["privacy"]["epsilon"] if private else None,
                       "delta": params["privacy"]["delta"] if private else None,
                       "seed": None if args.method == "real" else int(params["seed"]),
                       "classifier_seed": classifier_seed, "weights": str(args.classifier)},
        **summary,
        "ood_sources": "public sets (seeded subsample of at most robustness.ood_max_samples each)",
        "evaluated_on": _evaluated_on(params),
        "note": "evaluation on real images: reads private data, not part of any DP release",
    }
    save_csv(args.out_csv, pd.DataFrame(rows, columns=["metric", "corruption", "severity", "value"]))
    save_reliability_diagram(args.out_png, summary["calibration"]["reliability"],
                             title=f"{summary['classifier']['method']}: reliability", ece=summary["calibration"]["ece"])
    save_json(args.out_json, summary)
    return 0


def cmd_robustness_table(args) -> int:
    """results/robustness.{csv,md} and its plots: mean +- std over the sweep's seeds per (method, epsilon)."""
    from privevo.io.artifacts import load_json, save_text
    from privevo.reports.robustness import (robustness_table, save_attack_budget_plot, save_corruption_severity_plot,
                                            save_reliability_diagrams, write_robustness_tables)

    records = [load_json(path) for path in args.inputs]
    table = robustness_table(records)
    write_robustness_tables(args.out_csv, args.out_md, table)
    save_corruption_severity_plot(args.out_corruptions_png, records)
    save_attack_budget_plot(args.out_attacks_png, records)
    save_reliability_diagrams(args.out_reliability_png, records)
    print(Path(args.out_md).read_text())
    return 0


def cmd_ledger(args) -> int:
    """results/privacy_ledger.{json,md}: every release and the composed cost of publishing them all."""
    from privevo.io.artifacts import load_json, save_json, save_text
    from privevo.reports.ledger import ledger_markdown, privacy_ledger

    releases = []
    for path in args.releases:
        record = load_json(path)
        method = record.get("method", "PE")
        name = os.path.relpath(Path(path).parent, Path(args.out).parent)  # e.g. pe/runs/<run>/seed_0/eps_1
        if record.get("inherited_events"):
            inherited = record["inherited_events"]
            record["inherited_events"] = {**inherited,
                                          "from": os.path.relpath(Path(inherited["from"]).parent, Path(args.out).parent)}
        releases.append({**record, "name": name, "method": method})
    ledger = privacy_ledger(releases)
    save_json(args.out, ledger)
    markdown = ledger_markdown(ledger)
    save_text(args.out_md, markdown)
    print(markdown)
    return 0
