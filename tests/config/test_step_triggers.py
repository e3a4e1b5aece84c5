"""Editing the module of a rule's step marks that rule's outputs out of date (its settings, which Snakemake compares,
carry a hash of the step's code and of everything it imports), and leaves the rules of other steps alone."""

import inspect
import shutil

import pytest

from privevo.cli.parser import build_parser
from privevo.config import triggers as workflow
from privevo.config.params import load_params

from conftest import ROOT

# One rule per kind of step: the private-data histogram, the generation, the release, the baseline, evaluation.
RULES = {"pe_histogram": ["pe-histogram"], "pe_variation": ["pe-variation"], "pe_release": ["pe-release"],
         "dpsgd": ["dpsgd"], "eval_downstream": ["eval-downstream"]}


def step_source_file(verb: str):
    """The file that holds the logic the verb runs, found through the CLI as a user's command reaches it."""
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    defaults = subparsers.choices[verb]._defaults
    if "func" in defaults:  # before privevo.steps: the logic sat in the CLI's commands module
        return inspect.getsourcefile(defaults["func"])
    from privevo.steps import step_function

    return inspect.getsourcefile(step_function(defaults["step"]))


def code_of(params, rule):
    settings = workflow.rule_settings(params, rule)
    return (settings(1) if callable(settings) else settings)["code"]


@pytest.mark.parametrize("rule", sorted(RULES))
def test_editing_a_steps_module_marks_its_rule_out_of_date_and_no_unrelated_rule(rule, tmp_path, monkeypatch):
    params = load_params(ROOT / "params.yaml")
    before = {name: code_of(params, name) for name in ("prepare_data", rule)}
    copy = tmp_path / "privevo"
    shutil.copytree(workflow.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    source = step_source_file(RULES[rule][0])
    edited = copy / inspect.os.path.relpath(source, workflow.PACKAGE_DIR)
    with open(edited, "a") as handle:
        handle.write("\n# a change to the step's logic\n")
    monkeypatch.setattr(workflow, "PACKAGE_DIR", copy)
    assert code_of(params, rule) != before[rule], f"editing {edited.name} left rule {rule}'s outputs current"
    assert code_of(params, "prepare_data") == before["prepare_data"]
