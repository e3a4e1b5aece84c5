"""`privevo eval-downstream`: the downstream CNN trained on a set and tested on real images (evaluation)."""

from __future__ import annotations

import logging

from privevo.steps import common

logger = logging.getLogger("privevo")


def eval_downstream(params: dict, *, train: str, test: str, out_curves: str, out_png: str, out: str,
                    real: bool = False, init_classifier: str | None = None, out_classifiers: str | None = None) -> None:
    from privevo.evaluation.downstream import downstream_accuracy
    from privevo.io.artifacts import load_images, load_npz, save_csv, save_json
    from privevo.reports.plots import save_downstream_curves

    train_images, train_labels = load_images(train, num_classes=common.num_classes(params))
    groups = None if real else load_npz(train).get("group_ids")
    models = {}
    init_from = None
    if init_classifier:
        from privevo.models.io import load_classifier

        init_from = load_classifier(init_classifier)
    result, curves = downstream_accuracy(train_images, train_labels, *load_images(test, num_classes=common.num_classes(params)),
                                         evaluation=params["evaluation"], real=real, groups=groups,
                                         on_model=lambda seed, model: models.__setitem__(seed, model),
                                         init_from=init_from, num_classes=common.num_classes(params))
    if init_from is not None:
        result["trained_on"] += ", starting from the public-set CNN (public + PE)"
        result["init_classifier"] = str(init_classifier)
    if not real:
        result["seed"] = params["seed"]  # the PE seed of the training set (S_0 or S_T)
    if out_classifiers:
        from privevo.models.io import save_classifiers

        from privevo.evaluation.downstream import PRIVATE_MODEL_LABEL

        label = {"privacy_label": PRIVATE_MODEL_LABEL} if real else {}
        save_classifiers(out_classifiers, models, trained_on=result["trained_on"], train_set=str(train),
                         seed=result.get("seed"), selected_epochs=result["selected_epochs"],
                         test_accuracies=result["accuracies"], **label,
                         note="test accuracies are evaluation on the private test split, not part of any DP release")
    save_csv(out_curves, curves)
    save_downstream_curves(out_png, curves, real=real)
    result["evaluated_on"] = common.evaluated_on(params)
    save_json(out, result)
    logger.info("downstream accuracy %.4f +- %.4f over seeds %s", result["accuracy_mean"], result["accuracy_std"],
                result["seeds"])
