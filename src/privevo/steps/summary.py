"""`privevo summary`: one table of every run's metrics."""

from __future__ import annotations



def summary(*, out_csv: str, metrics: list[str], out_md: str) -> None:
    from privevo.io.artifacts import load_json, save_csv, save_text
    from privevo.reports.summary import summary_table

    frame, markdown = summary_table([load_json(p) for p in metrics])
    save_csv(out_csv, frame)
    save_text(out_md, markdown)
    print(markdown)
