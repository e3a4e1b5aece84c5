"""Rule names, step names and CLI verbs are the same words: a rule that runs `privevo <verb>` is named after the step
(the verb with "_" for "-"), with a suffix only where one step serves several rules; every rule with settings names
its step in config.triggers.RULE_STEPS."""

import re

from privevo.cli.parser import build_parser
from privevo.config.triggers import RULE_STEPS
from privevo.steps import STEPS

from conftest import ROOT


def rules_and_verbs():
    text = "\n".join(p.read_text() for p in [ROOT / "Snakefile", *(ROOT / "workflow" / "rules").glob("*.smk")])
    # A shell command shared by several rules is a module-level constant (NAME = (...)): inline it where used.
    constants = dict(re.findall(r"^([A-Z_]+_SHELL) = (\(.*?\n\))", text, flags=re.M | re.S))
    for name, value in constants.items():
        text = text.replace(f"{name} = {value}", "").replace(name, value)
    blocks = re.split(r"^\s*rule ", text, flags=re.M)[1:]
    found = {}
    for block in blocks:
        name = block.split(":", 1)[0]
        verbs = re.findall(r"\{PRIVEVO\}(?: --threads \{threads\})? ([a-z][a-z-]*)", block)
        if verbs:
            found[name] = set(verbs)
    return found


def test_every_rule_is_named_after_the_step_it_runs():
    found = rules_and_verbs()
    assert len(found) >= 25
    for rule, verbs in found.items():
        assert len(verbs) == 1, (rule, verbs)
        step = verbs.pop().replace("-", "_")
        assert step in STEPS
        assert rule == step or rule.startswith(step + "_"), f"rule {rule} runs privevo {step.replace('_', '-')}"


def test_every_verb_is_a_step_and_every_triggered_rule_names_its_step():
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    assert {verb.replace("-", "_") for verb in subparsers.choices} == set(STEPS)
    found = rules_and_verbs()
    for rule, step in RULE_STEPS.items():
        assert rule in found and rule.startswith(step), (rule, step)
