"""`privevo publish`: a run's reports copied to fixed paths for dvc metrics and plots."""

from __future__ import annotations



def publish(*, out_dir: str, metrics: str, privacy: str, fd_curve: str, downstream_curves: str,
            histograms: list[str], comparison: str | None = None) -> None:
    """Copy a run's reports to fixed paths (for dvc metrics/plots); histograms become one long CSV."""
    from privevo.reports.publish import publish_run

    publish_run(out_dir, metrics=metrics, privacy=privacy, fd_curve=fd_curve,
                downstream_curves=downstream_curves, histograms=histograms, comparison=comparison)
