"""`privevo dpsgd`: the DP-SGD baseline (or PE + DP-SGD fine-tuning), a DP release, and its test accuracy."""

from __future__ import annotations

import logging

from privevo.steps import common

logger = logging.getLogger("privevo")


def dpsgd(params: dict, *, train: str, out_weights: str, out_report: str, test: str, out_downstream: str,
          init_classifier: str | None = None, pe_privacy: str | None = None) -> None:
    """The DP-SGD baseline: the downstream CNN trained on the private training set (a DP release), then
    tested on the private test split (evaluation, not part of the release)."""
    from privevo.data import stratified_head
    from privevo.data.membership import hash_subset
    from privevo.io.artifacts import load_images, load_json, save_json
    from privevo.models.classifier import evaluate
    from privevo.models.dpsgd import train_dpsgd
    from privevo.pe.noise import dp_noise_source
    from privevo.models.io import save_classifier

    dpsgd, privacy, evaluation = params["dpsgd"], params["privacy"], params["evaluation"]
    if privacy["epsilon"] is None:
        raise SystemExit("privevo dpsgd: needs privacy.epsilon (DP-SGD is calibrated to a target epsilon)")
    if bool(init_classifier) != bool(pe_privacy):
        raise SystemExit("privevo dpsgd: give --init-classifier and --pe-privacy together (PE + DP-SGD)")
    mix = bool(init_classifier)
    images, labels = load_images(train, num_classes=common.num_classes(params))
    # A public share, each image kept by a keyed hash of its own bytes, so neighbours stay neighbours (data.membership).
    images, labels = hash_subset(images, labels, seed=params["seed"], role="dpsgd_subset",
                                 fraction=dpsgd["private_fraction"])
    training = {"epochs": dpsgd["epochs"], "learning_rate": dpsgd["learning_rate"]}
    if mix:
        from privevo.models.io import load_classifier

        pe_report = load_json(pe_privacy)
        if not pe_report.get("is_dp_release", False):
            raise SystemExit(f"privevo dpsgd: {pe_privacy} is not a DP release (debug noise); cannot compose it")
        if float(pe_report["delta"]) != float(privacy["delta"]):
            raise SystemExit(f"privevo dpsgd: the PE release is at delta {pe_report['delta']}, this run at "
                             f"{privacy['delta']}; compose at one delta")
        training = {"epochs": params["mixing"]["epochs"], "learning_rate": params["mixing"]["learning_rate"],
                    "initial_model": load_classifier(init_classifier, seed=evaluation["classifier_seeds"][0]),
                    "prior_events": pe_report["events"]}
    from pathlib import Path

    from privevo.config.odometer import charge_draw

    run_folder = str(Path(out_report).parent.resolve())
    paid = {}

    def before_noise(event: dict) -> None:
        # Charged to the private data set's odometer, fsynced, before a single gradient noise value is drawn.
        paid["charge"] = charge_draw(params, mechanism="dpsgd_mix" if mix else "dpsgd", event=event, run=run_folder,
                                     iteration=None, draw_key=None, noise_source=dp_noise_source(privacy).name,
                                     is_dp=True, sensitivity=f"L2 clip {dpsgd['max_grad_norm']:g} per example, "
                                                             "add/remove one image")

    model, record = train_dpsgd(images, labels, epsilon=privacy["epsilon"], delta=privacy["delta"],
                                expected_batch_size=dpsgd["expected_batch_size"],
                                physical_batch_size=dpsgd["physical_batch_size"], max_grad_norm=dpsgd["max_grad_norm"],
                                seed=params["seed"], accountant=dpsgd["accountant"], num_classes=common.num_classes(params),
                                poisson_sampling=dpsgd["poisson_sampling"], noise=dp_noise_source(privacy),
                                before_noise=before_noise, **training)
    method = "PE + DP-SGD" if mix else "DP-SGD"
    sgd_events = [{"kind": "poisson_gaussian", "sample_rate": record["sample_rate"],
                   "noise_multiplier": record["noise_multiplier"], "count": record["steps"]}]
    report = {**record, "method": method, "seed": params["seed"], "is_dp_release": True,
              # not the number of private training images: only q (sample_rate), which reveals it (data_set_size)
              "private_data": {"private_fraction": dpsgd["private_fraction"]},
              "dp_release": ["model.safetensors", "model.json"], "events": sgd_events}
    if mix:
        # The ledger counts the PE release's events once, from that release, however many mixes build on it.
        report.update({"pe_fraction": params["mixing"]["pe_fraction"], "pe_release": str(pe_privacy),
                       "pe_epsilon": pe_report["epsilon"], "init_classifier": str(init_classifier),
                       "inherited_events": {"from": str(pe_privacy), "events": pe_report["events"]}})
    save_classifier(out_weights, model, trained_on=f"private training set with {method}", seed=params["seed"],
                    epsilon=record["epsilon"], delta=record["delta"])
    report["odometer_charge"] = paid["charge"]["id"]
    save_json(out_report, report)
    from privevo.config.odometer import complete_draw

    complete_draw(params, paid["charge"], model=str(Path(out_weights).resolve()))
    test_images, test_labels = load_images(test, num_classes=common.num_classes(params))
    if evaluation["max_test_samples"] is not None:
        test_images, test_labels = stratified_head(test_images, test_labels, evaluation["max_test_samples"])
    result = evaluate(model, test_images, test_labels)
    save_json(out_downstream, {**result, "seed": params["seed"], "epsilon": record["epsilon"],
                                    "evaluated_on": common.evaluated_on(params),
                                    "trained_on": f"private training set with {method}",
                                    "note": "accuracy on the real test split: evaluation, not part of the DP release"})
    logger.info("%s at epsilon %.3g (sigma %.3f, q %.4g, %d steps): test accuracy %.4f", method, record["epsilon"],
                record["noise_multiplier"], record["sample_rate"], record["steps"], result["accuracy"])
