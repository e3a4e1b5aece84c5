"""`privevo prepare-data`: the private and public image sets as .npz, with their manifest."""

from __future__ import annotations

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
        private_fraction=data["private_fraction"],
        validation_fraction=data["validation_fraction"],
        labelled=data["labelled"],
    )
    warn_if_delta_not_small(params["privacy"]["delta"], manifest["private_train"]["count"])


def warn_if_delta_not_small(delta: float, num_private: int, *, what: str = "the private training set") -> bool:
    """Warn (one line) when ``delta >= 1/N``, N = ``num_private``; True when it warned.

    Publishing each image outright with probability delta is (0, delta)-DP, and at delta >= 1/N that publishes one
    image in expectation: delta should be well below 1/N. Checked here because this step reads the private data
    anyway, so N is known; the line names delta and never N, which is private."""
    if num_private > 0 and delta * num_private >= 1.0:
        logger.warning("privacy.delta = %g is not below 1/N for %s (N its number of images, not printed: it is "
                       "private); delta should be well below 1/N", delta, what)
        return True
    return False
