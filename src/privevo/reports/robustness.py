"""Robustness over methods and epsilons: one table and three figures from the ``robustness.json`` records.

A record is the summary of :func:`privevo.evaluation.robustness.evaluate_robustness` for one trained
classifier plus a ``"classifier"`` entry (method, epsilon, delta, seed, classifier_seed, weights). Records
group by (method, epsilon); each number in a row is the mean and sample std (ddof=1) over the group's
records, i.e. over PE (or DP-SGD) seeds; a group of one record gets std 0, which is no uncertainty estimate.

Only the summary's keys are read: importing the evaluation layer would pull torch into every report.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from privevo.io.artifacts import atomic_path, save_csv, save_text

logger = logging.getLogger(__name__)

BASE_METRICS = ("clean_accuracy", "ece", "nll", "brier", "mean_corruption_accuracy", "relative_corruption_drop",
                "attack_subset_clean_accuracy")
SETTING_COLUMNS = ["num_test", "ece_bins", "ece_norm", "corruptions", "severities", "attack_norm", "attacks",
                   "attack_budgets", "attack_samples", "attack_subsample", "ood_sets", "ood_scores"]
STD_RULE = ("mean ± sample std (ddof=1) over the n records of the row (one per PE or DP-SGD seed); "
            "std is 0 where n = 1, which is not an uncertainty estimate")
EVALUATION_NOTE = ("All numbers are evaluation of the released classifiers on the real test set: they read "
                   "private data and are not part of any DP release.")


def _budget_label(epsilon: float) -> str:
    # Same label as evaluate_robustness gives its rows, so columns match its metric names.
    return f"{float(epsilon) * 255:g}/255"


def _label(method: str, epsilon: float | None) -> str:
    return method if epsilon is None else f"{method}, eps {epsilon:g}"


def _spread(values: Sequence[float | None]) -> tuple[float, float]:
    """Mean and sample std (ddof=1; 0 for a single value). A missing value makes both NaN: averaging the
    others would silently report a mean over fewer seeds than the row says."""
    if not values or any(v is None for v in values):
        return math.nan, math.nan
    array = np.asarray(values, dtype=float)
    return float(array.mean()), float(array.std(ddof=1)) if array.size > 1 else 0.0


def _epsilon(record: dict) -> float | None:
    value = record["classifier"].get("epsilon")
    return None if value is None else float(value)


def _adversarial(record: dict) -> list[dict]:
    return (record.get("adversarial") or {}).get("results") or []


def _ood_sets(record: dict) -> dict:
    return (record.get("ood") or {}).get("sets") or {}


def _settings(record: dict) -> dict[str, Any]:
    """What must be equal for the records of one row to be averaged: everything that defines the numbers."""
    classifier = record["classifier"]
    calibration = record.get("calibration") or {}
    corruptions = record.get("corruptions") or {}
    adversarial = record.get("adversarial") or {}
    reliability = calibration.get("reliability") or []
    return {
        "delta": None if classifier.get("delta") is None else float(classifier["delta"]),
        "num_test": record.get("num_test"),
        "ECE bins": calibration.get("ece_bins", len(reliability) or None),
        "ECE norm": calibration.get("ece_norm"),
        "reliability bin bounds": tuple((b["lower"], b["upper"]) for b in reliability),
        "corruption names": tuple(corruptions.get("names") or ()),
        "corruption severities": tuple(int(s) for s in corruptions.get("severities") or ()),
        "attack norm": adversarial.get("norm"),
        "number of attacked samples": adversarial.get("num_samples"),
        "attacks (attack, budget, steps, step size, rule)": tuple(
            (r["attack"], _budget_label(r["epsilon"]), r.get("steps"), r.get("step_size"), r.get("step_size_rule"))
            for r in _adversarial(record)),
        "OOD sets (name, images)": tuple(sorted((name, s.get("num_images")) for name, s in _ood_sets(record).items())),
        "OOD scores": tuple((record.get("ood") or {}).get("scores") or ()),
    }


def _groups(records: Iterable[dict]) -> list[tuple[tuple[str, float | None], list[dict]]]:
    """Records grouped by (method, epsilon): methods in order of first appearance, then epsilon (None first).

    Raises ValueError if a group's records disagree on a setting or hold the same (seed, classifier_seed) twice.
    """
    records = list(records)
    if not records:
        raise ValueError("no robustness records to report")
    groups: dict[tuple[str, float | None], list[dict]] = {}
    for i, record in enumerate(records):
        classifier = record.get("classifier")
        if not isinstance(classifier, dict) or "method" not in classifier:
            raise ValueError(f"robustness record {i} has no 'classifier' entry with a 'method'")
        groups.setdefault((classifier["method"], _epsilon(record)), []).append(record)
    methods = list(dict.fromkeys(method for method, _ in groups))
    order = sorted(groups, key=lambda key: (methods.index(key[0]), key[1] is not None, key[1] or 0.0))
    for key in order:
        members = groups[key]
        settings = [_settings(r) for r in members]
        for name in settings[0]:
            values = {s[name] for s in settings}
            if len(values) > 1:
                raise ValueError(f"robustness records of {_label(*key)} disagree on {name}: "
                                 f"{sorted(values, key=repr)}; they cannot be averaged into one row")
        ids = [(r["classifier"].get("seed"), r["classifier"].get("classifier_seed")) for r in members]
        repeated = sorted({i for i in ids if ids.count(i) > 1}, key=repr)
        if repeated:
            # The same classifier twice would be counted as two seeds and shrink the std.
            raise ValueError(f"robustness records of {_label(*key)} repeat (seed, classifier_seed) {repeated}")
    return [(key, groups[key]) for key in order]


def _adversarial_metrics(records: list[dict]) -> list[str]:
    return list(dict.fromkeys(f"{r['attack']}_accuracy@{_budget_label(r['epsilon'])}"
                              for record in records for r in _adversarial(record)))


def _corruption_families(records: list[dict]) -> list[str]:
    return list(dict.fromkeys(f"{name}_accuracy" for record in records
                              for name in (record.get("corruptions") or {}).get("names") or ()))


def _ood_scores(records: list[dict]) -> list[str]:
    scores = [score for record in records for s in _ood_sets(record).values() for score in s["auroc"]]
    return list(dict.fromkeys(scores))


def _family_accuracy(accuracy_by_severity: dict | None) -> float | None:
    """One corruption family's accuracy: the mean over its severities, as the synthetic-clones benchmark reports."""
    if not accuracy_by_severity or None in accuracy_by_severity.values():
        return None
    return float(np.mean(list(accuracy_by_severity.values())))


def _values(record: dict, adversarial: list[str], scores: list[str],
            families: Sequence[str] = ()) -> dict[str, float | None]:
    calibration = record.get("calibration") or {}
    corruptions = record.get("corruptions") or {}
    adv = record.get("adversarial") or {}
    values = {"clean_accuracy": record.get("clean_accuracy"), "ece": calibration.get("ece"),
              "nll": calibration.get("nll"), "brier": calibration.get("brier"),
              "mean_corruption_accuracy": corruptions.get("mean_accuracy"),
              "relative_corruption_drop": corruptions.get("relative_drop"),
              "attack_subset_clean_accuracy": adv.get("clean_accuracy_subsample")}
    results = {f"{r['attack']}_accuracy@{_budget_label(r['epsilon'])}": r["accuracy"] for r in _adversarial(record)}
    values.update({name: results.get(name) for name in adversarial})
    by_family = corruptions.get("accuracy") or {}
    values.update({family: _family_accuracy(by_family.get(family[: -len("_accuracy")])) for family in families})
    sets = _ood_sets(record)
    for score in scores:
        aurocs = [s["auroc"].get(score) for s in sets.values()]
        # Unweighted over sets: each OOD set is one question ("is this set told apart?"), whatever its size.
        values[f"ood_auroc_{score}"] = None if not aurocs or None in aurocs else float(np.mean(aurocs))
    return values


def _describe_attacks(record: dict) -> str:
    parts = {}
    for r in _adversarial(record):
        if r["attack"] in parts:
            continue
        if r.get("steps") in (None, 1) and r["attack"] == "fgsm":
            parts[r["attack"]] = f"{r['attack']}: one step of size epsilon"
        else:
            start = ", random start" if r.get("random_start") else ""
            parts[r["attack"]] = f"{r['attack']}: {r.get('steps')} steps of {r.get('step_size_rule', '?')}{start}"
    return "; ".join(parts.values())


def _setting_values(record: dict) -> dict[str, Any]:
    calibration = record.get("calibration") or {}
    corruptions = record.get("corruptions") or {}
    adv = record.get("adversarial") or {}
    ood = record.get("ood") or {}
    return {
        "num_test": record.get("num_test"),
        "ece_bins": calibration.get("ece_bins", len(calibration.get("reliability") or []) or None),
        "ece_norm": calibration.get("ece_norm", ""),
        "corruptions": ", ".join(corruptions.get("names") or ()),
        "severities": ", ".join(str(s) for s in corruptions.get("severities") or ()),
        "attack_norm": adv.get("norm", ""),
        "attacks": _describe_attacks(record),
        "attack_budgets": ", ".join(dict.fromkeys(_budget_label(r["epsilon"]) for r in _adversarial(record))),
        "attack_samples": adv.get("num_samples"),
        "attack_subsample": adv.get("subsample", ""),
        "ood_sets": ", ".join(f"{name} ({s.get('num_images')} images)" for name, s in sorted(_ood_sets(record).items())),
        "ood_scores": ", ".join(ood.get("scores") or ()),
    }


def robustness_table(records: Iterable[dict]) -> pd.DataFrame:
    """One row per (method, epsilon): methods in order of first appearance, then epsilon ascending, None first.

    Columns: ``method``, ``epsilon`` (NaN for None: no privacy cost), ``delta``, ``n_seeds`` (records
    aggregated), ``seeds`` and ``classifier_seeds``, then ``<metric>_mean`` and ``<metric>_std`` for
    clean_accuracy, ece, nll, brier, mean_corruption_accuracy, relative_corruption_drop,
    attack_subset_clean_accuracy, each ``<corruption>_accuracy`` (that family's mean over severities), each
    ``<attack>_accuracy@<k>/255`` and ``ood_auroc_<score>`` (mean over the OOD sets of one record, unweighted), then the settings the row was computed under. The std is
    the sample std (ddof=1) over the row's records, and 0 for a row of one record. A missing value in
    any record makes that metric NaN for the row.

    Raises ValueError when the records of one row disagree on delta or on a robustness setting.
    """
    groups = _groups(records)
    everything = [r for _, members in groups for r in members]
    adversarial, scores = _adversarial_metrics(everything), _ood_scores(everything)
    families = _corruption_families(everything)
    metrics = [*BASE_METRICS, *families, *adversarial, *(f"ood_auroc_{s}" for s in scores)]
    rows = []
    for (method, epsilon), members in groups:
        values = [_values(r, adversarial, scores, families) for r in members]
        delta = members[0]["classifier"].get("delta")
        row = {"method": method, "epsilon": math.nan if epsilon is None else epsilon,
               "delta": math.nan if delta is None else float(delta), "n_seeds": len(members),
               "seeds": " ".join(str(r["classifier"].get("seed")) for r in members),
               "classifier_seeds": " ".join(str(r["classifier"].get("classifier_seed")) for r in members)}
        for metric in metrics:
            column = [v[metric] for v in values]
            if any(v is None for v in column) and not all(v is None for v in column):
                logger.warning("%s: %s is missing in %d of %d records; the row shows NaN", _label(method, epsilon),
                               metric, sum(v is None for v in column), len(column))
            row[f"{metric}_mean"], row[f"{metric}_std"] = _spread(column)
        row.update(_setting_values(members[0]))
        rows.append(row)
    columns = ["method", "epsilon", "delta", "n_seeds", "seeds", "classifier_seeds",
               *(f"{m}_{stat}" for m in metrics for stat in ("mean", "std")), *SETTING_COLUMNS]
    return pd.DataFrame(rows, columns=columns)


# --- tables


def _pm(mean: float, std: float, *, scale: float = 1.0, digits: int = 3) -> str:
    if mean is None or math.isnan(mean):
        return "-"
    return f"{scale * mean:.{digits}f} ± {scale * std:.{digits}f}"


def _number(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "none"
    return f"{value:g}"


def _row_label(row: pd.Series) -> str:
    return _label(row["method"], None if pd.isna(row["epsilon"]) else float(row["epsilon"]))


def _markdown_columns(table: pd.DataFrame) -> list[tuple[str, str, float, int]]:
    """(metric, header, scale, digits) for every metric column of ``table`` with at least one value."""
    fixed = {"clean_accuracy": ("clean acc. (%)", 100.0, 1), "ece": ("ECE", 1.0, 3), "nll": ("NLL", 1.0, 3),
             "brier": ("Brier", 1.0, 3), "mean_corruption_accuracy": ("corruption acc. (%)", 100.0, 1),
             "relative_corruption_drop": ("relative drop (%)", 100.0, 1),
             "attack_subset_clean_accuracy": ("clean acc., attacked subsample (%)", 100.0, 1)}
    out = []
    for column in table.columns:
        if not column.endswith("_mean") or table[column].isna().all():
            continue
        metric = column[: -len("_mean")]
        if metric in fixed:
            out.append((metric, *fixed[metric]))
        elif "_accuracy@" in metric:
            attack, budget = metric.split("_accuracy@")
            out.append((metric, f"{attack.upper()} {budget} (%)", 100.0, 1))
        elif metric.startswith("ood_auroc_"):
            out.append((metric, f"OOD AUROC {metric[len('ood_auroc_'):]}", 1.0, 3))
        elif metric.endswith("_accuracy"):  # one corruption family, mean over its severities
            out.append((metric, f"{metric[: -len('_accuracy')].replace('_', ' ')} (%)", 100.0, 1))
    return out


def _shared(table: pd.DataFrame, column: str) -> str:
    """The value of a settings column: one value if every row shares it, else each value with its rows."""
    values: dict[str, list[str]] = {}
    for _, row in table.iterrows():
        value = row[column]
        text = "none" if value is None or (isinstance(value, float) and math.isnan(value)) or value == "" else str(value)
        values.setdefault(text, []).append(_row_label(row))
    if len(values) == 1:
        return next(iter(values))
    return "; ".join(f"{value} ({', '.join(rows)})" for value, rows in values.items())


def robustness_markdown(table: pd.DataFrame, *, notes: Sequence[str] | str = ()) -> str:
    """The table with ``mean ± std`` cells (accuracies in %, 1 decimal; ECE, NLL, Brier and AUROC 3 decimals)
    and footnotes on seeds, settings and what the numbers are; ``notes`` are appended as further footnotes."""
    columns = _markdown_columns(table)
    lines = ["# Robustness of the classifiers", "",
             "Calibration, common corruptions, L-inf attacks and OOD detection of each classifier on the real "
             "test set, per (method, epsilon); each cell is mean ± std over the row's seeds (note 1).", "",
             "| method | epsilon | delta | seeds | " + " | ".join(header for _, header, _, _ in columns) + " |",
             "|---|---|---|---|" + "---|" * len(columns)]
    for _, row in table.iterrows():
        cells = [_pm(row[f"{metric}_mean"], row[f"{metric}_std"], scale=scale, digits=digits)
                 for metric, _, scale, digits in columns]
        lines.append(f"| {row['method']} | {_number(row['epsilon'])} | {_number(row['delta'])} | {row['n_seeds']} | "
                     + " | ".join(cells) + " |")
    seeds = "; ".join(f"{_row_label(row)}: {row['n_seeds']} " + (
        f"(seeds {row['seeds']})" if set(str(row["seeds"]).split()) != {"None"}
        else f"(no PE / DP-SGD seed; classifier seeds {row['classifier_seeds']})") for _, row in table.iterrows())
    footnotes = [
        f"{STD_RULE}. Seeds per row: {seeds}.",
        "epsilon `none`: no privacy cost is charged (the public prior uses no private data; the CNN on real "
        "data is not private).",
        f"Calibration: ECE with {_shared(table, 'ece_bins')} equal-width bins of top-label confidence "
        f"({_shared(table, 'ece_norm')} norm); NLL and Brier score of the predicted probabilities.",
        f"Corruptions: {_shared(table, 'corruptions')} at severities {_shared(table, 'severities')}; corruption "
        "accuracy is the mean over all corruptions and severities, each corruption's own column the mean over "
        "its severities; the relative drop is (clean - corruption accuracy) / clean.",
        f"Attacks: {_shared(table, 'attack_norm')} at budgets {_shared(table, 'attack_budgets')} of the [0, 1] "
        f"pixel range; {_shared(table, 'attacks')}; on {_shared(table, 'attack_samples')} test images "
        f"({_shared(table, 'attack_subsample')}), whose clean accuracy has its own column.",
        f"OOD detection: AUROC (in-distribution test set positive) per score ({_shared(table, 'ood_scores')}), "
        f"averaged unweighted over the OOD sets {_shared(table, 'ood_sets')}.",
        EVALUATION_NOTE,
        *([notes] if isinstance(notes, str) else notes),
    ]
    lines += ["", "Notes:", ""] + [f"{i}. {text}" for i, text in enumerate(footnotes, 1)]
    return "\n".join(lines) + "\n"


def write_robustness_tables(csv_path: str | Path, md_path: str | Path, table: pd.DataFrame, *,
                            notes: Sequence[str] | str = ()) -> None:
    """Write ``table`` as CSV (raw ``_mean`` / ``_std`` columns) and as markdown (see :func:`robustness_markdown`),
    each atomically."""
    save_csv(csv_path, table)
    save_text(md_path, robustness_markdown(table, notes=notes))
    logger.info("robustness table (%d rows) -> %s, %s", len(table), csv_path, md_path)


# --- figures


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> None:
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    _pyplot().close(fig)
    logger.info("robustness figure -> %s", path)


def _band(ax, x, values: np.ndarray, label: str, color) -> None:
    """Mean over seeds (rows of ``values``) with a band of +- one sample std (none for a single seed)."""
    mean = values.mean(axis=0)
    ax.plot(x, mean, marker="o", color=color, label=f"{label} (n={len(values)})")
    if len(values) > 1:
        std = values.std(axis=0, ddof=1)
        ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.2, linewidth=0)


def save_corruption_severity_plot(path: str | Path, records: Iterable[dict]) -> None:
    """Accuracy (%) against corruption severity, one line per (method, epsilon): per record the mean over
    corruptions at each severity, severity 0 being the clean accuracy; then mean +- std over seeds."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 5.0))
    drawn = []
    for i, ((method, epsilon), members) in enumerate(_groups(records)):
        corruptions = members[0].get("corruptions") or {}
        names, severities = corruptions.get("names") or [], corruptions.get("severities") or []
        if not names or not severities:
            logger.warning("%s: no corruption results; left out of %s", _label(method, epsilon), path)
            continue
        curves = np.array([[r["clean_accuracy"]] + [np.mean([r["corruptions"]["accuracy"][n][str(s)] for n in names])
                                                    for s in severities] for r in members])
        _band(ax, [0, *severities], 100 * curves, _label(method, epsilon), f"C{i % 10}")
        drawn += severities
    ax.set_xlabel("corruption severity (0 = clean)")
    ax.set_ylabel("test accuracy (%), mean over corruptions")
    ax.set_title("Accuracy under common corruptions (mean ± std over seeds)")
    ax.set_xticks(range(0, max(drawn, default=5) + 1))
    ax.grid(alpha=0.3)
    if drawn:
        # Below the axes: the curves span the whole plot, so any inside corner can hide one of them.
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    fig.tight_layout()
    _save(fig, path)


def save_attack_budget_plot(path: str | Path, records: Iterable[dict]) -> None:
    """Accuracy (%) against the L-inf budget, one panel per attack and one line per (method, epsilon); budget 0
    is the clean accuracy of the attacked subsample, so the whole curve is on the same images."""
    plt = _pyplot()
    groups = _groups(records)
    attacks = list(dict.fromkeys(r["attack"] for _, members in groups for rec in members for r in _adversarial(rec)))
    fig, axes = plt.subplots(1, max(1, len(attacks)), figsize=(5 * max(1, len(attacks)), 4.6), squeeze=False,
                             sharey=True)
    ticks: dict[float, str] = {0.0: "0"}
    for ax, attack in zip(axes[0], attacks):
        for i, ((method, epsilon), members) in enumerate(groups):
            budgets = sorted({r["epsilon"] for r in _adversarial(members[0]) if r["attack"] == attack})
            if not budgets:
                continue
            curves = []
            for record in members:
                # Keyed by label, as the group check compares budgets: floats read back from JSON need not be equal.
                accuracy = {_budget_label(r["epsilon"]): r["accuracy"] for r in _adversarial(record)
                            if r["attack"] == attack}
                curves.append([record["adversarial"]["clean_accuracy_subsample"],
                               *(accuracy[_budget_label(b)] for b in budgets)])
            # x in grey levels (budget * 255): linear in the budget, and 2/255 does not crowd 0 as in [0, 1] units.
            x = [0.0, *(b * 255 for b in budgets)]
            ticks.update({b * 255: _budget_label(b) for b in budgets})
            _band(ax, x, 100 * np.array(curves, dtype=float), _label(method, epsilon), f"C{i % 10}")
        ax.set_title(f"{attack.upper()} ({_shared_norm(groups)})")
        ax.set_xlabel("attack budget epsilon (L-inf, pixel range [0, 1])")
        ax.grid(alpha=0.3)
    for ax in axes[0]:
        ax.set_xticks(sorted(ticks), [ticks[t] for t in sorted(ticks)])
    axes[0][0].set_ylabel("accuracy on the attacked subsample (%)")
    if attacks:
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=min(3, len(labels)))
    else:
        logger.warning("no attack results; %s is empty", path)
    fig.suptitle("Adversarial accuracy (mean ± std over seeds)")
    rows = -(-len(groups) // 3)
    fig.tight_layout(rect=(0, 0.06 * rows, 1, 1))
    _save(fig, path)


def _shared_norm(groups) -> str:
    norms = {(rec.get("adversarial") or {}).get("norm") for _, members in groups for rec in members}
    return ", ".join(sorted(str(n) for n in norms))


def pooled_reliability(records: Sequence[dict]) -> list[dict[str, Any]]:
    """The reliability bins of ``records`` (one group) pooled over records: counts add up, confidence and
    accuracy are count-weighted means (None in an empty bin), i.e. the bins of all their test predictions."""
    per_record = [r["calibration"]["reliability"] for r in records]
    pooled = []
    for k, first in enumerate(per_record[0]):
        bins = [bins[k] for bins in per_record if bins[k]["count"]]
        count = sum(b["count"] for b in bins)
        pooled.append({"lower": first["lower"], "upper": first["upper"], "count": count,
                       "confidence": sum(b["count"] * b["confidence"] for b in bins) / count if count else None,
                       "accuracy": sum(b["count"] * b["accuracy"] for b in bins) / count if count else None})
    return pooled


def save_reliability_diagrams(path: str | Path, records: Iterable[dict]) -> None:
    """One reliability diagram per (method, epsilon), bins pooled over the group's seeds, against the diagonal;
    the title gives the mean ± std of the seeds' reported ECE."""
    plt = _pyplot()
    groups = [(key, members) for key, members in _groups(records)
              if all((r.get("calibration") or {}).get("reliability") for r in members)]
    if not groups:
        raise ValueError("no record has reliability bins (summary['calibration']['reliability'])")
    ncols = min(3, len(groups))
    nrows = -(-len(groups) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.8 * ncols, 3.9 * nrows), squeeze=False)
    for ax in axes.ravel()[len(groups):]:
        ax.axis("off")
    for ax, ((method, epsilon), members) in zip(axes.ravel(), groups):
        bins = pooled_reliability(members)
        filled = [b for b in bins if b["count"]]
        ax.bar([b["lower"] for b in bins], [b["accuracy"] or 0.0 for b in bins],
               width=[b["upper"] - b["lower"] for b in bins], align="edge", color="tab:blue", alpha=0.25,
               edgecolor="tab:blue", linewidth=0.5, label="accuracy per bin")
        ax.plot([b["confidence"] for b in filled], [b["accuracy"] for b in filled], marker="o", color="tab:blue",
                label="accuracy at mean confidence")
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfectly calibrated")
        # The reported ECE, not one recomputed from the pooled bins: those fold confidences of exactly 1 into
        # the last bin (see calibration.py), so a recomputation can differ from what the table shows.
        mean, std = _spread([r["calibration"]["ece"] for r in members])
        ax.set_title(f"{_label(method, epsilon)}\nECE {mean:.3f} ± {std:.3f} (n={len(members)})", fontsize=8)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence")
        ax.set_ylabel("accuracy")
        ax.legend(fontsize=6, loc="upper left")
    fig.suptitle("Reliability diagrams (bins pooled over seeds)", fontsize=10)
    fig.tight_layout()
    _save(fig, path)
