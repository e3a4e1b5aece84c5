# Settings each rule depends on, declared as `params:` so that Snakemake reruns a job when (and only when)
# one of them changes. The values come from privevo.config.layout, not from logic here.
import os

from privevo.config.layout import rule_settings

# Torch and faiss jobs claim every core; Snakemake scales this down to --cores, so they run one at a time.
ALL_CORES = os.cpu_count() or 1


def settings(rule_name):
    return rule_settings(config, rule_name)
