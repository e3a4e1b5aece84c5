"""`privevo eval-metrics`: one run's metrics.json from its privacy report and evaluation outputs."""

from __future__ import annotations

import json
from pathlib import Path


def eval_metrics(*, privacy: str, fd_curve: str, out: str, cleanfid_check: str | None = None,
                 downstream: str | None = None, real: str | None = None, run: str | None = None) -> None:
    import pandas as pd

    from privevo.io.artifacts import load_json, save_json
    from privevo.reports.summary import run_metrics

    if (downstream is None) != (real is None):
        raise SystemExit("privevo eval-metrics: give --downstream and --real together, or neither (unlabelled data)")
    metrics = run_metrics(load_json(privacy), downstream=load_json(downstream) if downstream else None,
                          real=load_json(real) if real else None,
                          fd_curve=pd.read_csv(fd_curve), run=run or str(Path(privacy).parent),
                          cleanfid_check=load_json(cleanfid_check) if cleanfid_check else None)
    save_json(out, metrics)
    print(json.dumps(metrics, indent=2))
