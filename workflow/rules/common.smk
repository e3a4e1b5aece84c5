# Shared by every rule file: the settings each rule depends on and the thread count of heavy rules.
# Reads and writes no artifacts.
import os

from privevo.config.layout import rule_settings

# Torch and faiss jobs claim every core; Snakemake scales this down to --cores, so they run one at a time.
ALL_CORES = os.cpu_count() or 1


def settings(rule_name):
    return rule_settings(config, rule_name)
