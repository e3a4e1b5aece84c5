"""The privacy ledger: every release made from one private data set, and what publishing all of them costs.

Several PE seeds (and DP-SGD models) trained on the same private data are separate releases. Each has
its own (epsilon, delta). If more than one is published, their privacy losses compose: the ledger
composes all their events (exact and continuous Gaussian histograms, DP-SGD steps) in one PLD accountant (dp-accounting) at the common delta.
"""

from __future__ import annotations

from privevo.accountants.analysis.pld import compose_epsilon

LEDGER_NOTE = (
    "Each release is (epsilon, delta)-DP on its own. Quote a release's own epsilon when only that release "
    "(its synthetic set or model) is published; a mean over seeds describes the algorithm, computed from "
    "several runs for evaluation. If several releases are published, the composed epsilon below is the "
    "guarantee of the whole publication."
)


def _common_delta(releases: list[dict]) -> float:
    deltas = {float(r["delta"]) for r in releases}
    if len(deltas) != 1:
        raise ValueError(f"releases use different deltas {sorted(deltas)}; compose them at one delta")
    return deltas.pop()


def _events_by_source(releases: list[dict]) -> dict[str, list[dict]]:
    """Each release's own events, plus the events a release inherits from another one (``inherited_events``:
    "PE + DP-SGD" builds on a PE release), keyed by the release that made them, so each counts once."""
    sources = {}
    for release in releases:
        sources[release["name"]] = release["events"]
        inherited = release.get("inherited_events")
        if inherited:
            sources.setdefault(inherited["from"], inherited["events"])
    return sources


def _group_events(group: list[dict]) -> list[dict]:
    return [e for events in _events_by_source(group).values() for e in events]


def privacy_ledger(releases: list[dict]) -> dict:
    """``releases``: records with a name, method, epsilon, delta, accountant and their ``events``; a release built
    on another (``inherited_events: {"from": <its name>, "events": [...]}``) is composed with it, once."""
    if not releases:
        raise ValueError("the ledger needs at least one release")
    delta = _common_delta(releases)
    by_method = {}
    for release in releases:
        by_method.setdefault(release["method"], []).append(release)
    keys = ("name", "method", "epsilon", "delta", "accountant", "seed", "events")
    return {
        "delta": delta,
        "releases": [{**{k: r[k] for k in keys},
                      **({"builds_on": r["inherited_events"]["from"]} if r.get("inherited_events") else {})}
                     for r in releases],
        "num_releases": len(releases),
        "sum_of_epsilons": sum(float(r["epsilon"]) for r in releases),
        "composed_epsilon_all": compose_epsilon(_group_events(releases), delta=delta),
        "composed_epsilon_per_method": {method: compose_epsilon(_group_events(group), delta=delta)
                                        for method, group in by_method.items()},
        "composition": ("dp-accounting PLDAccountant over every release's events, at the common delta; "
                        "a release built on another (PE + DP-SGD on a PE release) shares that release's events, "
                        "counted once"),
        "note": LEDGER_NOTE,
    }


def odometer_view(charges: list[dict], *, delta: float, file: str, source: str) -> dict:
    """Everything ever charged to the data set's odometer, grouped by run folder (present or deleted): the composed
    epsilon of all DP charges and of each folder's; debug charges (noise from the public seed) apart, uncomposed."""
    from pathlib import Path

    from privevo.config.odometer import composed_spend, is_dp_charge

    dp = [c for c in charges if is_dp_charge(c)]
    debug = [c for c in charges if not is_dp_charge(c)]
    by_run: dict[str, list[dict]] = {}
    for charge in dp:
        by_run.setdefault(str(charge.get("run")), []).append(charge)
    view = {
        "file": file, "source": source, "delta": delta,
        "num_charges": len(charges), "num_dp_charges": len(dp), "num_debug_charges": len(debug),
        "composed_epsilon_all_charges": composed_spend(dp, delta=delta),
        "runs": [{"run": run, "present": Path(run).exists(), "num_charges": len(group),
                  "mechanisms": sorted({c["mechanism"] for c in group}),
                  "uncompleted_charges": sum(not c["completed"] for c in group),
                  "composed_epsilon": composed_spend(group, delta=delta)} for run, group in by_run.items()],
        "debug_runs": sorted({str(c.get("run")) for c in debug}),
        "composition": ("dp-accounting PLD over every DP charge ever made on this data set (each noise draw, charged "
                        "before it was drawn; a charge whose job stopped before storing its draw counts too)"),
    }
    if debug:
        view["warning"] = (f"{len(debug)} charge(s) drew debug noise from the public seed (privacy.reproducible_noise): "
                           "NOT DP releases, excluded from the composition")
    return view


def ledger_markdown(ledger: dict) -> str:
    lines = ["# Privacy ledger", "", ledger["note"], ""]
    if ledger["num_releases"]:
        lines += [f"All {ledger['num_releases']} releases at delta {ledger['delta']:g}, if all were published: "
                  f"**epsilon {ledger['composed_epsilon_all']:.3f}** (PLD; the naive sum would be "
                  f"{ledger['sum_of_epsilons']:.3f}).", ""]
        for method, epsilon in ledger["composed_epsilon_per_method"].items():
            lines.append(f"- all {method} releases together: epsilon {epsilon:.3f}")
        lines += ["", "| release | method | seed | epsilon | delta | accountant |", "|---|---|---|---|---|---|"]
        for r in ledger["releases"]:
            lines.append(f"| {r['name']} | {r['method']} | {r['seed']} | {r['epsilon']:.4g} | {r['delta']:g} | "
                         f"{r['accountant']} |")
    view = ledger.get("odometer")
    if view:
        lines += ["", "## Everything ever charged to this data set (the privacy odometer)", "",
                  f"{view['num_dp_charges']} DP charges on `{view['source']}` ({view['file']}), every run ever made on "
                  f"it, present or deleted: **epsilon {view['composed_epsilon_all_charges']:.3f}** at delta "
                  f"{view['delta']:g}.", "", "| run folder | present | charges | mechanisms | epsilon |",
                  "|---|---|---|---|---|"]
        for run in view["runs"]:
            lines.append(f"| {run['run']} | {'yes' if run['present'] else 'deleted'} | {run['num_charges']} | "
                         f"{', '.join(run['mechanisms'])} | {run['composed_epsilon']:.4g} |")
        if view.get("warning"):
            lines += ["", f"**Warning**: {view['warning']}: " + ", ".join(view["debug_runs"])]
    return "\n".join(lines) + "\n"
