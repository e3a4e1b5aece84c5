"""`privevo plan`: the model calls of one PE run and their projected time, without loading a model."""

from __future__ import annotations



def plan(params: dict, *, seconds_per_image_step: float | None = None, cost: str | None = None, devices: tuple[int,
         ...] = (1, 8,), json_out: str | None = None) -> None:
    """The model calls of one PE run and their projected time; loads no model."""
    from privevo.io.artifacts import save_json
    from privevo.config.plan import format_plan, plan_run, project_time, resolve_cost

    plan = plan_run(params)
    try:
        cost, source, notes = resolve_cost(params, seconds_per_image_step, cost)
    except ValueError as exc:
        raise SystemExit(f"privevo plan: {exc}") from None
    projection = None if cost is None else project_time(plan, cost, source=source,
                                                         devices=tuple(dict.fromkeys(devices)))
    print(format_plan(plan, projection, notes))
    if json_out:
        save_json(json_out, {**plan, "projection": projection, "notes": notes})
