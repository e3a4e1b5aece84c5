"""Issue 40's before/after table: the default at epsilon 1 over PE seeds 0, 1, 2, continuous noise (the findings
campaign's cells) against exact noise (a results tree made with benchmarks/exact-noise/eps1-seeds012.yaml).

    python benchmarks/exact-noise/summarise.py <results dir of the exact-noise run> > benchmarks/exact-noise/results.md
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BEFORE = ROOT / "benchmarks" / "findings" / "results"


def _mean_std(values: list[float]) -> str:
    return f"{statistics.mean(values):.4g} ± {statistics.stdev(values):.2g}" if len(values) > 1 else f"{values[0]:.4g}"


def _cells(metrics_and_privacy: list[tuple[dict, dict]]) -> dict:
    return {
        "accuracy (%)": _mean_std([100 * m["accuracy_mean"] for m, _ in metrics_and_privacy]),
        "FD-Lite0 of S_T": _mean_std([m["fd_final"] for m, _ in metrics_and_privacy]),
        "sigma": f"{metrics_and_privacy[0][1]['noise_multiplier']:.5g}",
        "accounted epsilon": f"{metrics_and_privacy[0][1].get('epsilon_accounted', metrics_and_privacy[0][1]['epsilon']):.5g}",
        "accountant": metrics_and_privacy[0][1]["accountant"],
        "noise": metrics_and_privacy[0][1]["noise"]["source"],
        "audit mu (interval) / accounted": "; ".join(
            f"{p['audit']['mu_estimate']:.3f}"
            + (f" [{p['audit']['mu_interval'][0]:.3f}, {p['audit']['mu_interval'][1]:.3f}]" if "mu_interval" in p["audit"] else "")
            for _, p in metrics_and_privacy) + f" / {metrics_and_privacy[0][1]['audit']['mu_accounted']:.4f}",
        "seeds": ", ".join(str(m["seed"]) for m, _ in metrics_and_privacy),
    }


def main(after_results: str) -> None:
    before = [(json.loads((BEFORE / f"default-eps1-seed{s}" / "metrics.json").read_text()),
               json.loads((BEFORE / f"default-eps1-seed{s}" / "privacy.json").read_text())) for s in (0, 1, 2)]
    after = []
    for metrics in sorted(Path(after_results).glob("pe/runs/*/seed_*/eps_1/eval-*/metrics.json")):
        privacy = json.loads((metrics.parent.parent / "privacy.json").read_text())
        after.append((json.loads(metrics.read_text()), privacy))
    rows = {"continuous noise (findings cells, 7701dab, Intel Xeon)": _cells(before),
            "exact discrete Gaussian (this run)": _cells(after)}
    columns = list(next(iter(rows.values())))
    print("| noise | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for name, cells in rows.items():
        print(f"| {name} | " + " | ".join(cells[c] for c in columns) + " |")
    discrete = after[0][1].get("discrete", {})
    if discrete:
        print()
        print(f"Exact mechanism at sigma {after[0][1]['noise_multiplier']:.5g}: epsilon {after[0][1]['epsilon_accounted']:.5f} "
              f"(discrete Gaussian PLD), {discrete['continuous_gaussian_epsilon']:.5f} for the continuous Gaussian at "
              f"the same sigma, {discrete['zcdp_epsilon']:.4f} by CKS20's zCDP bound (rho {discrete['zcdp_rho']:.6f}; "
              f"OpenDP's map {discrete['zcdp_rho_opendp']:.6f}).")


if __name__ == "__main__":
    main(sys.argv[1])
