# privevo: Private Evolution as a Snakemake workflow. All logic lives in `privevo <step>`;
# this file only wires artifacts together. Settings come from params.yaml (schema-validated); its sweep
# (epsilons x seeds) expands into runs, and every run reaches its steps as `--set` overrides of that file.
import shlex
import sys

from privevo.config.odometer import check_planned_budget
from privevo.config.params import ParamsError, load_params
from privevo.config.runs import Sweep

PARAMS_FILE = config.get("params_file", "params.yaml")
try:
    SWEEP = Sweep(load_params(PARAMS_FILE, check_data=True))  # pe.by_epsilon unapplied: each run resolves its own epsilon
    config.update(SWEEP.params)
except ParamsError as error:
    raise SystemExit(f"privevo: invalid {PARAMS_FILE}: {error}")
check_planned_budget(SWEEP.params)  # privacy.total_budget: refuse a plan the data set cannot pay, before any job
PARAMS = f"--params {shlex.quote(PARAMS_FILE)}"
# The interpreter running Snakemake has privevo installed (this file imports it), so rules call privevo
# through it: they work whatever the user's PATH is, with or without an activated venv.
PRIVEVO = f"{shlex.quote(sys.executable)} -m privevo"


# Quick bookkeeping jobs run on the submitting host when a cluster executor is used.
localrules:
    all,
    stage_data,
    stage_foundation_model,
    stage_private_embeddings,
    stage_initial_population,
    calibrate,
    inspect,
    eval_metrics,
    publish,
    summary,
    compare,
    ledger,
    robustness_table,


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/pe.smk"
include: "workflow/rules/eval.smk"
include: "workflow/rules/baselines.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/robustness.smk"


rule all:
    default_target: True
    input:
        [run.layout.synthetic for run in SWEEP.runs],
        [run.layout.metrics for run in SWEEP.runs],
        [run.layout.iteration_dir(t) + "/histogram.png" for run in SWEEP.runs for t in range(1, run.layout.num_iterations + 1)],
        [run.layout.model_record for run in SWEEP.runs],
        # unlabelled data (data.labelled false): no accuracies, so no comparison and no latest/ (which carries both)
        [P.latest_privacy_report] if LABELLED else [],
        P.summary_csv,
        [P.comparison_csv] if LABELLED else [],
        P.ledger_json,
        [L.robustness_csv] if ROBUSTNESS_ENABLED else [],


# Targets of the DVC stages (dvc.yaml): the epsilon-free work of the whole sweep, family by family.
rule stage_data:
    input:
        list(dict.fromkeys(run.layout.data_manifest for run in SWEEP.runs)),


rule stage_foundation_model:
    input:
        list(dict.fromkeys(run.layout.model_record for run in SWEEP.runs)),


rule stage_private_embeddings:
    input:
        list(dict.fromkeys(path for run in SWEEP.runs
                           for path in (run.layout.private_embeddings, run.layout.fd_private_embeddings))),


rule stage_initial_population:
    input:
        list(dict.fromkeys(run.layout.lookahead(0) for run in SWEEP.runs)),
