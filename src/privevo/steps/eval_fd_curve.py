"""`privevo eval-fd-curve`: FD and precision/recall of every population S_0..S_T (evaluation)."""

from __future__ import annotations

import logging

from privevo.steps import common

logger = logging.getLogger("privevo")


def eval_fd_curve(params: dict, *, out_csv: str, reference: str, populations: list[str], out_png: str,
                  private_embeddings: str | None = None) -> None:
    from privevo.config.params import fd_embedding_name
    from privevo.io.artifacts import load_images, save_csv
    import numpy as np

    from privevo.core import seeding
    from privevo.evaluation.fd_curve import (ALL_CLASSES, equal_size_rows, fd_curve_frame, load_stats,
                                             population_distances)
    from privevo.evaluation.precision_recall import precision_recall
    from privevo.io.artifacts import load_npy
    from privevo.reports.plots import save_curve

    reference = load_stats(reference)
    fd_embedder = common.embedder(params, fd_embedding_name(params))
    metric = common.fd_metric_name(fd_embedding_name(params))
    populations = [load_images(path, num_classes=common.num_classes(params)) for path in populations]
    # FD falls with N, so populations of different sizes (pe.api_schedule) are compared at the smallest one.
    per_class = min(int(np.bincount(labels).max()) for _, labels in populations)
    private = load_npy(private_embeddings) if private_embeddings else None
    distances, coverage = {}, {}
    for iteration, (images, labels) in enumerate(populations):
        rows = equal_size_rows(labels, per_class, seed=params["seed"], iteration=iteration)
        features = fd_embedder.embed(images[rows], batch_size=params["embedding"]["batch_size"], progress=False)
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
    save_csv(out_csv, frame)
    overall = frame[(frame["class"] == ALL_CLASSES) & (frame["metric"] == metric)]
    curves = {"all classes": overall["value"].to_numpy()}
    save_curve(out_png, overall["iteration"].to_numpy(), curves, xlabel="PE iteration t (population S_t)",
               ylabel=metric,
               title=f"{metric} of S_t to the private training set, {per_class} per class (evaluation, not DP)")
