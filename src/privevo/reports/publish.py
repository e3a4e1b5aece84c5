"""Publishing a run's reports at fixed paths, for `dvc metrics`, `dvc plots` and `dvc exp show`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from privevo.evaluation.precision_recall import PRDC_METRICS

from privevo.io.artifacts import atomic_path, load_json, save_csv, save_json


def headline(comparison: pd.DataFrame) -> dict:
    """Flat columns for `dvc exp show`: accuracy (and FD) per method and epsilon, e.g. pe_eps_1_accuracy."""
    from privevo.config.params import number_tag

    short = {"PE synthetic -> CNN": "pe", "DP-SGD CNN": "dpsgd", "public prior (S_0) -> CNN": "prior",
             "real data, no privacy": "real", "PE + DP-SGD (fine-tuned)": "mix",
             "public + PE -> CNN": "public_pe"}
    columns = {}
    for row in comparison.itertuples(index=False):
        name = short.get(row.method, row.method)
        prefix = name if name in ("prior", "real") else f"{name}_eps_{number_tag(row.epsilon)}"
        columns[f"{prefix}_accuracy"] = float(row.accuracy_mean)
        if row.std_over.endswith("seeds") and pd.notna(row.accuracy_std):
            columns[f"{prefix}_accuracy_std"] = float(row.accuracy_std)
        if pd.notna(row.fd_mean):
            columns[f"{prefix}_fd"] = float(row.fd_mean)
    return columns


def publish_run(out_dir: str | Path, *, metrics: str, privacy: str, fd_curve: str, downstream_curves: str,
                histograms: list[str], comparison: str | None = None) -> None:
    """Copy metrics, privacy report and curves; the listed histograms (iterations 1..T) become one long CSV."""
    out = Path(out_dir)
    for source, name in [(privacy, "privacy.json"), (downstream_curves, "downstream_curves.csv")]:
        with atomic_path(out / name) as tmp:
            shutil.copyfile(source, tmp)
    record = load_json(metrics)
    if comparison is not None:
        record["sweep"] = headline(pd.read_csv(comparison))
    save_json(out / "metrics.json", record)
    curve = pd.read_csv(fd_curve)
    # The FD curve alone (dvc plots draws one metric); S_T's precision and recall are in metrics.json.
    overall = curve[curve["class"] == "all"]
    save_csv(out / "fd_curve.csv", overall[~overall["metric"].isin(PRDC_METRICS)])
    frames = []
    for table in map(Path, histograms):
        frame = pd.read_csv(table).sort_values(["class", "noisy_count"], ascending=[True, False])
        frame["rank"] = frame.groupby("class").cumcount() + 1
        frame["iteration"] = int(table.parent.name.split("_")[1])
        frames.append(frame[["iteration", "class", "rank", "noisy_count", "selected_count"]])
    save_csv(out / "histograms.csv", pd.concat(frames, ignore_index=True))
