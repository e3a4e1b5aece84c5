"""Publishing a run's reports at fixed paths, for `dvc metrics` and `dvc plots`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from privevo.io.artifacts import atomic_path, save_csv


def publish_run(run_dir: str | Path, out_dir: str | Path, *, num_iterations: int | None = None) -> None:
    """Copy metrics, privacy report and curves; the run's histograms become one long CSV.

    Only iterations 1..num_iterations are read (all iter_* folders when None).
    """
    run, out = Path(run_dir), Path(out_dir)
    for source, name in [(run / "metrics.json", "metrics.json"), (run / "privacy.json", "privacy.json"),
                         (run / "eval" / "downstream_curves.csv", "downstream_curves.csv")]:
        with atomic_path(out / name) as tmp:
            shutil.copyfile(source, tmp)
    curve = pd.read_csv(run / "eval" / "fd_curve.csv")
    save_csv(out / "fd_curve.csv", curve[curve["class"] == "all"])
    tables = (sorted(run.glob("iter_*/histogram.csv")) if num_iterations is None
              else [run / f"iter_{t:03d}" / "histogram.csv" for t in range(1, num_iterations + 1)])
    frames = []
    for table in tables:
        frame = pd.read_csv(table).sort_values(["class", "noisy_count"], ascending=[True, False])
        frame["rank"] = frame.groupby("class").cumcount() + 1
        frame["iteration"] = int(table.parent.name.split("_")[1])
        frames.append(frame[["iteration", "class", "rank", "noisy_count", "selected_count"]])
    save_csv(out / "histograms.csv", pd.concat(frames, ignore_index=True))
