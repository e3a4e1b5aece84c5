"""What the privacy odometer would show for the findings campaign (benchmarks/findings/results/, 15 cells) had every
cell run against one private data set: every distinct release the cells' ledgers list (a folder shared by two
cells was drawn once), each charged once, composed in one PLD at delta 1e-5.

    python benchmarks/odometer/campaign.py   # prints a markdown table (benchmarks/odometer/README.md holds it)
"""

from __future__ import annotations

import json
from pathlib import Path

from privevo.accountants.analysis.pld import compose_epsilon

CELLS = Path(__file__).resolve().parents[1] / "findings" / "results"
DELTA = 1e-5


def distinct_releases() -> dict[str, dict]:
    releases = {}
    for ledger in sorted(CELLS.glob("*/privacy_ledger.json")):
        for release in json.loads(ledger.read_text())["releases"]:
            name = release["name"].split("/", 1)[-1] if release["name"].startswith("..") else release["name"]
            releases.setdefault(name, {**release, "cell": ledger.parent.name})
    return releases


def main() -> None:
    releases = distinct_releases()
    by_method: dict[str, list[dict]] = {}
    for release in releases.values():
        by_method.setdefault(release["method"], []).append(release)
    draws = sum(event["count"] for r in releases.values() for event in r["events"])
    everything = compose_epsilon([e for r in releases.values() for e in r["events"]], delta=DELTA)
    print(f"{len(releases)} distinct releases in {len(list(CELLS.glob('*/privacy_ledger.json')))} cells; "
          f"{draws} noise draws (PE histograms and DP-SGD steps); all of them on one data set: "
          f"**epsilon {everything:.2f}** at delta {DELTA:g} (PLD), against a largest single release of "
          f"{max(float(r['epsilon']) for r in releases.values()):.3g}.")
    print()
    print("| method | releases | sum of their epsilons | composed epsilon |")
    print("|---|---|---|---|")
    for method, group in sorted(by_method.items()):
        composed = compose_epsilon([e for r in group for e in r["events"]], delta=DELTA)
        print(f"| {method} | {len(group)} | {sum(float(r['epsilon']) for r in group):.2f} | {composed:.2f} |")


if __name__ == "__main__":
    main()
