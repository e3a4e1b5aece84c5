"""Each rule's settings carry a content hash of the code that computes its output, so a fix to one module
reruns exactly the jobs that use it (Snakemake reruns a job when its params change)."""

import re
import shutil

import pytest

from privevo.config import triggers as workflow
from privevo.config.params import load_params

from conftest import ROOT


@pytest.fixture
def params():
    return load_params(ROOT / "params.yaml")


def every_rule_with_settings():
    text = "".join(p.read_text() for p in (ROOT / "workflow" / "rules").glob("*.smk"))
    return set(re.findall(r'settings\("(\w+)", "\w+"\)', text))


def test_every_rule_that_declares_settings_names_its_step(params):
    rules = every_rule_with_settings()
    assert rules and rules <= set(workflow.RULE_STEPS)
    for rule in rules:
        settings = workflow.rule_settings(params, rule)
        settings = settings(1) if callable(settings) else settings
        assert re.fullmatch(r"[0-9a-f]{16}", settings["code"])


def test_a_fix_to_the_accountant_changes_only_the_rules_that_use_it(params, tmp_path, monkeypatch):
    before = {rule: workflow.rule_settings(params, rule) for rule in ("calibrate", "audit", "pretrain")}
    copy = tmp_path / "privevo"
    shutil.copytree(workflow.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    with open(copy / "accountants" / "gdp.py", "a") as handle:
        handle.write("\n# a fix\n")
    monkeypatch.setattr(workflow, "PACKAGE_DIR", copy)
    after = {rule: workflow.rule_settings(params, rule) for rule in before}
    assert after["calibrate"]["code"] != before["calibrate"]["code"]
    assert after["audit"]["code"] != before["audit"]["code"]
    assert after["pretrain"] == before["pretrain"]
