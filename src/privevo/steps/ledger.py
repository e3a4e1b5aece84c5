"""`privevo ledger`: every release and the composed cost of publishing them all."""

from __future__ import annotations

import os
from pathlib import Path


def ledger(*, out_md: str, releases: list[str], out: str) -> None:
    """results/privacy_ledger.{json,md}: every release and the composed cost of publishing them all."""
    from privevo.io.artifacts import load_json, save_json, save_text
    from privevo.reports.ledger import ledger_markdown, privacy_ledger

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
    ledger = privacy_ledger(records)
    save_json(out, ledger)
    markdown = ledger_markdown(ledger)
    save_text(out_md, markdown)
    print(markdown)
