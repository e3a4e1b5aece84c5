"""The workflow's steps: one module per `privevo <step>`, each a function with typed inputs over the layers below."""

# ``privevo <step>`` (cli) parses the arguments and calls the function; the workflow rule that runs the step calls that
# command. A step whose first input is ``params`` gets the run's params, validated and resolved at its epsilon. The rule
# triggers hash each step's module and every privevo module it imports (config.triggers), so a change to a step
# reruns exactly the jobs of the rules that run it.

# Step name (the CLI verb with "_" for "-") -> its module under privevo.steps, function of the same name.
STEPS = (
    "validate_params", "plan", "prepare_data", "pretrain", "model_info", "embed_private", "calibrate", "dpsgd",
    "pe_init", "pe_lookahead", "pe_histogram", "pe_variation", "pe_merge_shards", "pe_release", "audit",
    "fid", "eval_reference_stats", "eval_fd_curve", "eval_cleanfid_check", "eval_downstream", "inspect",
    "eval_metrics", "publish", "summary", "compare", "public_classifier", "robustness", "robustness_table", "ledger",
)


def step_function(name: str):
    """The function of step ``name`` (imported on use: the CLI imports only the step it runs)."""
    import importlib

    if name not in STEPS:
        raise ValueError(f"unknown step {name!r}; known: {', '.join(STEPS)}")
    return getattr(importlib.import_module(f"privevo.steps.{name}"), name)
