# Settings each rule depends on, declared as `params:` so that Snakemake reruns a job when (and only when)
# one of them changes. The values come from privevo.workflow, not from logic here.
from privevo.workflow import rule_settings


def settings(rule_name):
    return rule_settings(config, rule_name)
