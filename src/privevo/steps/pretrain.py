"""`privevo pretrain`: the foundation DDPM, pretrained on the public set only."""

from __future__ import annotations

import logging
from pathlib import Path

logger = logging.getLogger("privevo")


def pretrain(params: dict, *, public: str, out: str) -> None:
    from privevo.io.artifacts import load_images
    from privevo.reports.plots import save_curve, save_grid
    from privevo.models.ddpm import pretrain
    import pandas as pd

    images, _ = load_images(public, num_classes=None)
    summary = pretrain(images, model_params=params["model"], out_dir=out, seed=params["seed"], device=params["device"])
    loss = pd.read_csv(Path(out) / "loss.csv")
    save_curve(Path(out) / "loss.png", loss["step"], {"loss": loss["loss"], "smoothed": loss["loss_smoothed"]},
               xlabel="step", ylabel="noise-prediction MSE", title="DDPM pretraining on public data", logy=True)
    from privevo.apis.diffusion import DiffusionAPI
    from privevo.core import seeding

    api = DiffusionAPI.from_params(params, model_dir=out)  # the DDPM just trained, whatever pe.api names

    samples = api.random(64, seed=seeding.torch_seed(params["seed"], role="pretrain", iteration=1), desc="sample grid")
    save_grid(Path(out) / "samples.png", samples, ncols=8, scale=3)
    logger.info("pretraining done: %s", summary)
