"""What several steps share: the API and embedder a run's params name, K, population files with their API state."""

from __future__ import annotations

from pathlib import Path


def layout_of(params: dict):
    from privevo.config.layout import Layout

    return Layout(params)


def step_api(params: dict, *, model: str | None, public: str | None = None, iteration: int):
    """The API that draws population ``iteration`` (pe.api_schedule), over the model folder ``model`` or the public
    pool ``public``, returning images of the private set's shape (public metadata)."""
    from privevo.apis import make_api
    from privevo.config.schedule import api_of_iteration
    from privevo.data.private import params_class_names, params_image_shape

    return make_api(params, model, image_shape=params_image_shape(params), public_pool=public,
                    name=api_of_iteration(params, iteration), class_names=params_class_names(params))


def num_classes(params: dict) -> int:
    """K: the private set's classes, from the data (1 for an unlabelled set)."""
    from privevo.data.private import params_num_classes

    return params_num_classes(params)


def embedder(params: dict, name: str | None = None):
    """The embedder ``name`` (default: embedding.name, the votes' space), built from the params it reads."""
    from privevo.embedders import embedder_from_params

    return embedder_from_params(params, name)


def fd_metric_name(embedder_name: str) -> str:
    """Only Inception features give an FID; other feature spaces are reported as FD-<name>."""
    from privevo.embedders import EMBEDDERS

    return EMBEDDERS.trait(embedder_name, "fd_metric")


def evaluated_on(params: dict) -> str:
    """Which real images an evaluation step measures (evaluation.split), in words for its JSON."""
    if params["evaluation"]["split"] == "validation":
        return (f"validation split: the data.validation_fraction = {params['data']['validation_fraction']:g} share of "
                "the private training set held out, each image by a keyed hash of its bytes (for choosing settings; "
                "the test split stays unseen)")
    return "test split"


def api_state(path):
    """The per-image API state stored with a population (pe.loop.STATE_KEY), or None."""
    import numpy as np

    from privevo.pe.loop import STATE_KEY

    with np.load(path, allow_pickle=False) as data:
        return data[STATE_KEY] if STATE_KEY in data.files else None


def state_extra(state) -> dict:
    from privevo.pe.loop import STATE_KEY

    return {} if state is None else {STATE_KEY: state}


def save_population(path: str, images, labels, **extra) -> None:
    """A population as .npz (with ``extra`` arrays) plus its per-class PNG grid next to it."""
    from privevo.io.artifacts import save_images
    from privevo.reports.plots import save_class_grid

    save_images(path, images, labels, **extra)
    save_class_grid(Path(path).with_suffix(".png"), images, labels)


def shard_rows(params: dict, labels, *, shard: int, shards: int):
    """All rows, or (``shards`` > 1) the rows of shard ``shard``'s classes."""
    import numpy as np

    from privevo.pe.shards import rows_of_classes, shard_classes

    if shards == 1:
        return np.arange(len(labels))
    return rows_of_classes(labels, shard_classes(shard, shards, num_classes(params)))
