"""`privevo robustness-table`: the robustness table and plots over a sweep's seeds."""

from __future__ import annotations

from pathlib import Path


def robustness_table(*, out_attacks_png: str, inputs: list[str], out_csv: str, out_md: str,
                     out_corruptions_png: str, out_reliability_png: str) -> None:
    """results/robustness.{csv,md} and its plots: mean +- std over the sweep's seeds per (method, epsilon)."""
    from privevo.io.artifacts import load_json
    from privevo.reports.robustness import (robustness_table, save_attack_budget_plot, save_corruption_severity_plot,
                                            save_reliability_diagrams, write_robustness_tables)

    records = [load_json(path) for path in inputs]
    table = robustness_table(records)
    write_robustness_tables(out_csv, out_md, table)
    save_corruption_severity_plot(out_corruptions_png, records)
    save_attack_budget_plot(out_attacks_png, records)
    save_reliability_diagrams(out_reliability_png, records)
    print(Path(out_md).read_text())
