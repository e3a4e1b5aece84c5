"""`privevo robustness`: calibration, corruptions, attacks and OOD AUROC of one classifier (evaluation)."""

from __future__ import annotations


from privevo.steps import common


def robustness(params: dict, *, out_csv: str, method: str, classifier: str, test: str, public: str, out_png: str,
               out_json: str) -> None:
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

    settings, evaluation = params["robustness"], params["evaluation"]
    classifier_seed = None if method in ("dpsgd", "mix") else evaluation["classifier_seeds"][0]
    model = load_classifier(classifier, seed=classifier_seed)
    test_images, test_labels = load_images(test, num_classes=common.num_classes(params))
    if settings["max_test_samples"] is not None:
        test_images, test_labels = stratified_head(test_images, test_labels, settings["max_test_samples"])
    public, source_ids, source_names = load_public_set(public)
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
    private = method in ("pe", "public_pe", "dpsgd", "mix")
    labels = {"pe": PE, "public_pe": PUBLIC_PE, "dpsgd": DPSGD, "mix": MIX, "prior": PRIOR, "real": REAL}
    summary = {
        "classifier": {"method": labels[method],
                       "epsilon": params["privacy"]["epsilon"] if private else None,
                       "delta": params["privacy"]["delta"] if private else None,
                       "seed": None if method == "real" else int(params["seed"]),
                       "classifier_seed": classifier_seed, "weights": str(classifier)},
        **summary,
        "ood_sources": "public sets (seeded subsample of at most robustness.ood_max_samples each)",
        "evaluated_on": common.evaluated_on(params),
        "note": "evaluation on real images: reads private data, not part of any DP release",
    }
    save_csv(out_csv, pd.DataFrame(rows, columns=["metric", "corruption", "severity", "value"]))
    save_reliability_diagram(out_png, summary["calibration"]["reliability"],
                             title=f"{summary['classifier']['method']}: reliability", ece=summary["calibration"]["ece"])
    save_json(out_json, summary)


ROBUSTNESS_METHODS = ("pe", "public_pe", "dpsgd", "mix", "prior", "real")
