"""`privevo ledger`: every release and the composed cost of publishing them all."""

from __future__ import annotations

import os
from pathlib import Path


def ledger(params: dict | None = None, *, out_md: str, releases: list[str] = (), out: str) -> None:
    """results/privacy_ledger.{json,md}: every release of the sweep and the composed cost of publishing them all,
    and (with params) the odometer's view: every charge ever made on the private data set."""
    from privevo.io.artifacts import load_json, save_json, save_text
    from privevo.reports.ledger import ledger_markdown, odometer_view, privacy_ledger

    records = []
    for path in releases:
        record = load_json(path)
        method = record.get("method", "PE")
        name = os.path.relpath(Path(path).parent, Path(out).parent)  # e.g. pe/runs/<run>/seed_0/eps_1
        if record.get("inherited_events"):
            inherited = record["inherited_events"]
            record["inherited_events"] = {**inherited,
                                          "from": os.path.relpath(Path(inherited["from"]).parent, Path(out).parent)}
        records.append({**record, "name": name, "method": method})
    if records:
        ledger = privacy_ledger(records)
    elif params is not None:
        ledger = {"delta": params["privacy"]["delta"], "releases": [], "num_releases": 0, "note": "no release given"}
    else:
        raise SystemExit("privevo ledger: give --releases, or --params for the odometer's view")
    if params is not None:
        from privevo.config.odometer import odometer

        book = odometer(params)
        ledger["odometer"] = odometer_view(book.charges(), delta=ledger["delta"], file=str(book.path.resolve()),
                                           source=book.source)
    save_json(out, ledger)
    markdown = ledger_markdown(ledger)
    save_text(out_md, markdown)
    print(markdown)
