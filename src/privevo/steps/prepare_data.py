"""`privevo prepare-data`: the private and public image sets as .npz, with their manifest."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from privevo.steps import common

logger = logging.getLogger("privevo")


def prepare_data(params: dict, *, out_dir: str | None = None) -> None:
    from privevo.data import prepare_data

    data = params["data"]
    manifest = prepare_data(
        out_dir=Path(out_dir or common.layout_of(params).prepared_dir),
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
