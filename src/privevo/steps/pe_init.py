"""`privevo pe-init`: S_0, RANDOM_API samples for every class."""

from __future__ import annotations

import logging

from privevo.steps import common

logger = logging.getLogger("privevo")


def pe_init(params: dict, *, out: str, model: str, public: str | None = None) -> None:
    from privevo.pe.loop import initial_population_with_state

    api = common.step_api(params, model=model, public=public, iteration=0)
    _warn_if_slow_on_cpu(params, api)
    images, labels, state = initial_population_with_state(
        api, classes=list(range(common.num_classes(params))),
        num_samples_per_class=params["pe"]["num_samples_per_class"], seed=params["seed"])
    common.save_population(out, images, labels, **common.state_extra(state))


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
