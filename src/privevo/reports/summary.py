"""A run's metrics.json and the table of every run (CSV and Markdown)."""

from __future__ import annotations


DOWNSTREAM_SKIPPED_UNLABELLED = "skipped: unlabelled data has no classes to classify (data.labelled false)"


def run_metrics(privacy: dict, *, downstream: dict | None, real: dict | None, fd_curve, run: str,
                cleanfid_check: dict | None = None) -> dict:
    """metrics.json of a run: the privacy triple, FD and accuracy (the last two read private data), and with
    Inception features the clean-fid cross-check (both FIDs where clean-fid imports, else why it was skipped).
    Without ``downstream`` (unlabelled data: no classifier is trained) the accuracy fields are null and
    ``downstream`` says why."""
    from privevo.evaluation.precision_recall import PRDC_METRICS

    everything = fd_curve[fd_curve["class"] == "all"]
    overall = everything[~everything["metric"].isin(PRDC_METRICS)].sort_values("iteration")
    final = everything[everything["iteration"] == everything["iteration"].max()]
    coverage = {f"{name}_final": float(final.loc[final["metric"] == name, "value"].iloc[0])
                for name in PRDC_METRICS if (final["metric"] == name).any()}
    metrics = {
        "epsilon": privacy["epsilon"],
        "epsilon_accounted": privacy.get("epsilon_accounted", privacy["epsilon"]),
        "delta": privacy["delta"],
        "noise_multiplier": privacy["noise_multiplier"],
        "num_iterations": privacy["num_iterations"],
        "accountant": privacy["accountant"],
        "is_dp_release": privacy["is_dp_release"],
        "noise_source": privacy["noise"]["source"],
        "noise_exact": privacy["noise"].get("exact", False),
        "fd_metric": overall["metric"].iloc[0],
        "fd_initial": float(overall["value"].iloc[0]),
        "fd_final": float(overall["value"].iloc[-1]),
        "accuracy_mean": downstream["accuracy_mean"] if downstream else None,
        "accuracy_std": downstream["accuracy_std"] if downstream else None,
        "accuracy_seeds": len(downstream["seeds"]) if downstream else 0,
        "evaluated_on": downstream.get("evaluated_on", "test split") if downstream else None,
        "real_data_accuracy_mean": real["accuracy_mean"] if real else None,
        "real_data_accuracy_std": real["accuracy_std"] if real else None,
        **coverage,  # precision/recall/density/coverage of S_T (prdc, the FD's features)
        "num_synthetic": privacy["num_synthetic"],
        "run": run,
        "seed": privacy["seed"],
        "note": "fd_* and accuracy_* read private data: evaluation, not part of the DP release",
    }
    if downstream is None:
        metrics["downstream"] = DOWNSTREAM_SKIPPED_UNLABELLED
        metrics["note"] = "fd_* and precision/recall read private data: evaluation, not part of the DP release"
    if "audit" in privacy:
        metrics["audit_epsilon_lower_bound"] = privacy["audit"]["epsilon_lower_bound"]
        metrics["audit_accounted_epsilon_one_release"] = privacy["audit"]["accounted_epsilon_one_release"]
    if cleanfid_check is not None:
        metrics.update(cleanfid_metrics(cleanfid_check))
    if "compute" in privacy:
        metrics["mixed_precision"] = privacy["compute"]["mixed_precision"]
        if "images" in privacy["compute"]:
            metrics["resize"] = privacy["compute"]["images"]["resize"]
    if not privacy["is_dp_release"]:
        metrics["warning"] = privacy["warning"]
    return metrics


SUMMARY_COLUMNS = ["run", "seed", "epsilon", "delta", "noise_multiplier", "num_iterations", "accountant", "is_dp_release",
                   "fd_metric", "fd_initial", "fd_final", "precision_final", "recall_final", "accuracy_mean", "accuracy_std", "accuracy_seeds",
                   "real_data_accuracy_mean", "num_synthetic"]


# The clean-fid cross-check's columns: only in tables of runs that have one (Inception runs).
CLEANFID_COLUMNS = ["fid_privevo", "fid_cleanfid", "fid_difference", "cleanfid_check"]


def cleanfid_metrics(check: dict) -> dict:
    """The cross-check's numbers for metrics.json: both FIDs on the same images and their difference, or
    ``cleanfid_check: skipped (<reason>)``."""
    if check.get("status") != "compared":
        return {"cleanfid_check": f"skipped ({check.get('reason', 'no reason given')})"}
    return {"fid_privevo": check["privevo_fid"], "fid_cleanfid": check["cleanfid_fid"],
            "fid_difference": check["difference"], "cleanfid_check": "compared",
            "cleanfid_check_images": f"{check['num_synthetic']} synthetic vs {check['num_real']} real"}


def summary_table(metrics: list[dict]):
    """One row per run, as a DataFrame and as Markdown; runs that are not DP releases are flagged in bold."""
    import pandas as pd

    columns = SUMMARY_COLUMNS + [c for c in CLEANFID_COLUMNS if any(c in m for m in metrics)]
    frame = pd.DataFrame(metrics, columns=columns)
    frame["is_dp_release"] = frame["is_dp_release"].fillna(True).astype(bool)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in frame.itertuples(index=False):
        cells = [f"{v:.4g}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    warnings = [f"- **{m['run']}: {m['warning']}**" for m in metrics if m.get("warning")]
    warnings += [f"- {m['run']}: downstream accuracy {m['downstream']}" for m in metrics if m.get("downstream")]
    markdown = ("# privevo runs\n\nFD and accuracy read private data (evaluation, not DP).\n\n"
                + ("\n".join(warnings) + "\n\n" if warnings else "") + "\n".join(lines) + "\n")
    return frame, markdown
