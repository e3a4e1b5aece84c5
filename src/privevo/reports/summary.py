"""A run's metrics.json and the table of every run (CSV and Markdown)."""

from __future__ import annotations


def run_metrics(privacy: dict, *, downstream: dict, real: dict, fd_curve, run: str) -> dict:
    """metrics.json of a run: the privacy triple, FD and accuracy (the last two read private data)."""
    overall = fd_curve[fd_curve["class"] == "all"].sort_values("iteration")
    metrics = {
        "epsilon": privacy["epsilon"],
        "delta": privacy["delta"],
        "noise_multiplier": privacy["noise_multiplier"],
        "num_iterations": privacy["num_iterations"],
        "accountant": privacy["accountant"],
        "is_dp_release": privacy["is_dp_release"],
        "noise_source": privacy["noise"]["source"],
        "fd_metric": overall["metric"].iloc[0],
        "fd_initial": float(overall["value"].iloc[0]),
        "fd_final": float(overall["value"].iloc[-1]),
        "accuracy_mean": downstream["accuracy_mean"],
        "accuracy_std": downstream["accuracy_std"],
        "accuracy_seeds": len(downstream["seeds"]),
        "real_data_accuracy_mean": real["accuracy_mean"],
        "real_data_accuracy_std": real["accuracy_std"],
        "num_synthetic": privacy["num_synthetic"],
        "run": run,
        "seed": privacy["seed"],
        "note": "fd_* and accuracy_* read private data: evaluation, not part of the DP release",
    }
    if "audit" in privacy:
        metrics["audit_epsilon_lower_bound"] = privacy["audit"]["epsilon_lower_bound"]
        metrics["audit_accounted_epsilon_one_release"] = privacy["audit"]["accounted_epsilon_one_release"]
    if "compute" in privacy:
        metrics["mixed_precision"] = privacy["compute"]["mixed_precision"]
        if "images" in privacy["compute"]:
            metrics["resize"] = privacy["compute"]["images"]["resize"]
    if not privacy["is_dp_release"]:
        metrics["warning"] = privacy["warning"]
    return metrics


SUMMARY_COLUMNS = ["run", "seed", "epsilon", "delta", "noise_multiplier", "num_iterations", "accountant", "is_dp_release",
                   "fd_metric", "fd_initial", "fd_final", "accuracy_mean", "accuracy_std", "accuracy_seeds",
                   "real_data_accuracy_mean", "num_synthetic"]


def summary_table(metrics: list[dict]):
    """One row per run, as a DataFrame and as Markdown; runs that are not DP releases are flagged in bold."""
    import pandas as pd

    frame = pd.DataFrame(metrics, columns=SUMMARY_COLUMNS)
    frame["is_dp_release"] = frame["is_dp_release"].fillna(True).astype(bool)
    lines = ["| " + " | ".join(SUMMARY_COLUMNS) + " |", "|" + "---|" * len(SUMMARY_COLUMNS)]
    for row in frame.itertuples(index=False):
        cells = [f"{v:.4g}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    warnings = [f"- **{m['run']}: {m['warning']}**" for m in metrics if m.get("warning")]
    markdown = ("# privevo runs\n\nFD and accuracy read private data (evaluation, not DP).\n\n"
                + ("\n".join(warnings) + "\n\n" if warnings else "") + "\n".join(lines) + "\n")
    return frame, markdown
