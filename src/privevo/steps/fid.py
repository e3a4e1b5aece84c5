"""`privevo fid`: the Frechet distance between two image sets in an embedder's feature space."""

from __future__ import annotations

import json

from privevo.steps import common


def fid(*, first: str, second: str, device: str = 'auto', embedder: str = 'lite0', resolution: int = 64,
        inception_path: str | None = None, batch_size: int = 128) -> None:
    """Frechet distance between two image sets (.npz files) in an embedder's feature space."""
    from privevo.io.artifacts import load_images
    from privevo.evaluation.frechet import FeatureStats, frechet_distance

    from privevo.embedders import embedder_from_params

    # The command line stands in for the params the embedder reads (embedding.resolution, embedding.inception_path).
    fd_embedder = embedder_from_params({"device": device, "embedding": {
        "name": embedder, "resolution": resolution, "inception_path": inception_path}}, key="--embedder")
    stats = []
    for path in (first, second):
        images, _ = load_images(path, num_classes=None)
        stats.append(FeatureStats.from_features(fd_embedder.embed(images, batch_size=batch_size)))
    metric = common.fd_metric_name(embedder)
    print(json.dumps({"metric": metric, "value": frechet_distance(*stats), "first": first, "n_first": stats[0].n,
                      "second": second, "n_second": stats[1].n}, indent=2))
