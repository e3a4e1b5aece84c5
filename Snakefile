# privevo: Private Evolution as a Snakemake workflow. All logic lives in `privevo <step>`;
# this file only wires artifacts together. Rules that run torch or faiss take every core (threads),
# so they run one at a time instead of oversubscribing the CPU. Settings come from params.yaml (schema-validated).
import shlex
import sys

from privevo.config.params import ParamsError, load_params
from privevo.config.layout import Layout

PARAMS_FILE = config.get("params_file", "params.yaml")
try:
    config.update(load_params(PARAMS_FILE))
except ParamsError as error:
    raise SystemExit(f"privevo: invalid {PARAMS_FILE}: {error}")
L = Layout(config)
PARAMS = f"--params {PARAMS_FILE}"
# The interpreter running Snakemake has privevo installed (this file imports it), so rules call privevo
# through it: they work whatever the user's PATH is, with or without an activated venv.
PRIVEVO = f"{shlex.quote(sys.executable)} -m privevo"


wildcard_constraints:
    iteration=r"\d{3}",


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/pe.smk"
include: "workflow/rules/eval.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        L.synthetic,
        L.privacy_report,
        L.latest_privacy_report,
        L.model_marker,
        L.model_record,
        L.summary_csv,
        L.latest + "/metrics.json",
        [L.iteration_dir(t) + "/histogram.png" for t in range(1, L.num_iterations + 1)],
