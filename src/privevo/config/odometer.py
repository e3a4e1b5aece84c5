"""The privacy odometer of a run's private data set: where it lives, what a draw charges, and the budget check."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

from privevo.io.odometer import Odometer

logger = logging.getLogger("privevo.config.odometer")

DEBUG_NOTE = "noise from the public seed (privacy.reproducible_noise): NOT a DP release, excluded from the composition"


class BudgetExceededError(SystemExit):
    """A draw, or a plan of runs, would take the data set past privacy.total_budget."""


def private_source(params: dict) -> str:
    """The private data set, by its resolved location (public), not one preparation of it: every subset, hold-out
    or resolution of the same source is charged to the same odometer."""
    data = params["data"]
    if data["private_set"] == "fashion_mnist":
        from privevo.data.fashion_mnist import find_fashion_mnist_dir

        try:
            where = find_fashion_mnist_dir(data["fashion_mnist_dir"])
        except Exception:  # not fetched yet (validation before make fetches it): the configured location
            where = Path(data["fashion_mnist_dir"] or Path(params["paths"]["data_dir"]) / "sources" / "fashion-mnist")
        return f"fashion_mnist:{Path(where).resolve()}"
    return f"{data['private_set']}:{Path(data['private_dir']).resolve()}"


def odometer_dir(params: dict) -> Path:
    """privacy.odometer_dir, or a store under the data directory that every run on this checkout finds."""
    configured = params["privacy"].get("odometer_dir")
    return Path(configured) if configured else Path(params["paths"]["data_dir"]) / "privacy-odometer"


def odometer(params: dict) -> Odometer:
    return Odometer.of(odometer_dir(params), private_source(params))


def commit() -> str | None:
    """The checkout's commit, where there is one (provenance of a charge)."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def is_dp_charge(charge: dict) -> bool:
    return bool(charge.get("is_dp", True))


def composed_spend(charges: list[dict], *, delta: float, extra_events: list[dict] = ()) -> float:
    """Epsilon at ``delta`` of every DP charge (and ``extra_events``) composed in one PLD; 0 for none."""
    from privevo.accountants.analysis.pld import compose_epsilon

    events = _merged([c["event"] for c in charges if is_dp_charge(c)] + list(extra_events))
    return compose_epsilon(events, delta=delta) if events else 0.0


def _merged(events: list[dict]) -> list[dict]:
    """Identical events (same kind and parameters) as one event with the summed count: the same composition, in
    one PLD self-composition instead of many."""
    counts: dict[tuple, int] = {}
    for event in events:
        key = tuple(sorted((k, v) for k, v in event.items() if k != "count"))
        counts[key] = counts.get(key, 0) + int(event["count"])
    return [{**dict(key), "count": count} for key, count in counts.items()]


def check_budget(params: dict, charges: list[dict], new_events: list[dict], *, what: str) -> float | None:
    """Refuse, in one line naming both totals, when the odometer's DP charges plus ``new_events`` exceed
    privacy.total_budget (null: no limit); else the composed total (None without a budget or new events)."""
    budget = params["privacy"].get("total_budget")
    if not budget or not new_events:
        return None
    total = composed_spend(charges, delta=budget["delta"], extra_events=new_events)
    if total > budget["epsilon"]:
        spent = composed_spend(charges, delta=budget["delta"])
        raise BudgetExceededError(
            f"privevo: privacy.total_budget is epsilon {budget['epsilon']:g} at delta {budget['delta']:g} for "
            f"{private_source(params)}; the odometer holds epsilon {spent:.4g} and {what} would bring it to "
            f"{total:.4g}: refused")
    return total


def charge_draw(params: dict, *, mechanism: str, event: dict, run: str, iteration: int | None, draw_key: str | None,
                noise_source: str, is_dp: bool, sensitivity: str) -> dict:
    """Charge one noise draw on the private data to its odometer, flushed and fsynced before the caller draws; the
    budget is checked under the same lock, so two workflows side by side cannot overspend it together. A charge
    for the same draw (same run, iteration and key) that never completed (the job was killed after charging and
    before storing) pays for this draw: nothing new is charged."""
    book = odometer(params)
    with book.locked():
        charges = book.charges()
        for charge in charges:
            if (not charge["completed"] and charge.get("run") == run and charge.get("iteration") == iteration
                    and charge.get("draw_key") == draw_key and charge.get("mechanism") == mechanism):
                logger.info("odometer %s: charge %s already pays for this draw (its job stopped before storing it)",
                            book.path, charge["id"])
                return charge
        if is_dp:
            check_budget(params, charges, [event], what=f"this draw ({mechanism}, {run}, iteration {iteration})")
        entry = {"mechanism": mechanism, "event": event, "sensitivity": sensitivity, "delta": params["privacy"]["delta"],
                 "run": run, "iteration": iteration, "draw_key": draw_key, "noise_source": noise_source,
                 "is_dp": bool(is_dp), "commit": commit()}
        if not is_dp:
            entry["note"] = DEBUG_NOTE
        charge = book.charge(entry)
    logger.info("odometer %s: charged %s (%s, %s, iteration %s)", book.path, charge["id"], mechanism, run, iteration)
    return charge


def planned_events(params: dict, charges: list[dict]) -> list[dict]:
    """What the runs of ``params``' sweep will draw that the odometer does not hold yet: each PE run's histograms
    (one event per iteration not already charged), and each DP-SGD or "PE + DP-SGD" training not charged yet, by
    :func:`planned_training_event`."""
    from privevo.accountants.gdp import calibrate
    from privevo.config.privacy import calibration_arguments, histogram_events
    from privevo.config.runs import Sweep

    sweep = Sweep(params)
    # A charge that never completed pays for its redo, so it counts as charged too.
    charged = {(c.get("run"), c.get("iteration")) for c in charges if c.get("mechanism") == "pe_histogram"}
    events = []
    for run in sweep.pe_runs:
        privacy = run.params["privacy"]
        if privacy.get("reproducible_noise"):
            continue  # not a DP release: charged apart, never composed
        folder = str(Path(run.layout.run_dir).resolve())
        todo = [t for t in range(1, run.layout.num_iterations + 1) if (folder, t) not in charged]
        if not todo:
            continue
        sigma = privacy["noise_multiplier"] or calibrate(
            epsilon=privacy["epsilon"], delta=privacy["delta"], num_iterations=run.params["pe"]["num_iterations"],
            cross_check=False, **calibration_arguments(run.params))["noise_multiplier"]
        events += histogram_events(run.params, sigma, len(todo))
    trainings = []
    if params["dpsgd"]["enabled"]:
        trainings += [(run.layout.dpsgd_dir, run.params["privacy"]) for run in sweep.runs]
    trainings += [(mix.total.layout.mix_dir, mix.total.params["privacy"]) for mix in sweep.mixes]
    done = {c.get("run") for c in charges if c.get("mechanism") in ("dpsgd", "dpsgd_mix")}
    for folder, privacy in dict(trainings).items():
        if str(Path(folder).resolve()) not in done and privacy["epsilon"] is not None:
            events.append(planned_training_event(privacy["epsilon"], privacy["delta"]))
    return events


def planned_training_event(epsilon: float, delta: float) -> dict:
    """A training that has not read the data yet, by the Gaussian mechanism with its target (epsilon, delta): an
    estimate for the plan's check only (its sample rate needs the private set's size; many Poisson-subsampled steps
    are close to such a Gaussian). The training itself is charged with its exact event before any noise is drawn,
    and checked again then."""
    from privevo.accountants.gdp import noise_multiplier_for_epsilon

    sigma = noise_multiplier_for_epsilon(epsilon=float(epsilon), delta=float(delta), num_iterations=1)
    return {"kind": "gaussian", "noise_multiplier": float(sigma), "count": 1}


def check_planned_budget(params: dict) -> dict | None:
    """Refuse a plan that the data set's budget cannot pay (one line naming both totals); None without a budget,
    else what the odometer holds and what the plan adds."""
    budget = params["privacy"].get("total_budget")
    if not budget:
        return None
    charges = odometer(params).charges()
    events = planned_events(params, charges)
    total = check_budget(params, charges, events, what="the planned runs")
    return {"budget": budget, "planned_epsilon": composed_spend(charges, delta=budget["delta"]) if total is None
            else total}


def complete_draw(params: dict, charge: dict, **facts) -> None:
    """Record that the draw ``charge`` paid for reached disk (``facts``: where)."""
    odometer(params).complete(charge["id"], **facts)
