# Shared by every rule file: path patterns, the lookup from a wildcard key to the run that uses it, the
# settings each rule depends on, and the cores and memory of heavy rules. Reads and writes no artifacts.
from privevo.config.layout import Layout
from privevo.config.triggers import rule_settings
from privevo.config.params import fd_embedding_name

# Path patterns: the primary run's layout with every key replaced by its wildcard.
KEY_WILDCARDS = {family: "{" + family + "}" for family in
                 ("data", "model", "embedding", "base", "run", "evaluation", "real", "dpsgd", "audit",
                   "robustness", "mix", "public")}
# The FD's private embeddings are made by the same rule as the votes' (an embedding key either way).
KEY_WILDCARDS["fd_embedding"] = KEY_WILDCARDS["embedding"]
P = Layout(SWEEP.primary.params, keys=KEY_WILDCARDS)
# Any sweep's run shares one primary layout for the views of the whole sweep (summary, comparison, ledger).
L = SWEEP.primary.layout


wildcard_constraints:
    iteration=r"\d{3}",
    data=r"s\d+-[0-9a-f]{8}",
    model=r"(s\d+|local)-[0-9a-f]{8}",
    embedding=r"[a-z0-9]+-[0-9a-f]{8}",
    base=r"s\d+-[0-9a-f]{8}",
    run=r"[A-Za-z0-9][A-Za-z0-9_.-]*-[0-9a-f]{8}/seed_\d+/(eps|sigma)_[^/]+",
    evaluation=r"[0-9a-f]{8}",
    real=r"[0-9a-f]{8}",
    dpsgd=r"[0-9a-f]{8}/seed_\d+/(eps|sigma)_[^/]+",
    audit=r"[0-9a-f]{8}",
    robustness=r"[0-9a-f]{8}",
    mix=r"[0-9a-f]{8}/seed_\d+/eps_[^/]+",
    public=r"s\d+-[0-9a-f]{8}",


# Torch and faiss jobs declare this many threads and pass it to privevo (--threads), which sets torch's and
# faiss' thread pools; the submitting host's core count never enters. Locally Snakemake scales it down to
# --cores (so on 2 cores heavy jobs run one at a time); on a cluster it is the job's cpus_per_task.
HEAVY_THREADS = 8
# Rules that can use CUDA declare a GPU when params.yaml asks for one (device: cuda); on a CPU cluster
# (device: cpu or auto) they request none, so a scheduler never waits for a GPU the job would not use.
# Those are the steps that run the UNet (pretrain, pe-init, pe-variation, pe-lookahead), an embedder
# (embed-private, pe-lookahead, eval-fd-curve) or many nearest-neighbour searches (pe-histogram, audit).
# The downstream CNN (eval-downstream, public-classifier, dpsgd, robustness) trains on the CPU, so its
# rules declare none; tests/workflow/test_gpu_resources.py keeps the two lists in step.
GPU = 1 if config["device"] == "cuda" else 0
# data.labelled false: one population, no classes and no test split (the paper's Algorithm 4). Params validation
# refuses the classifier baselines (DP-SGD, mixing, public + PE, robustness); the rules below drop private_test,
# the downstream CNNs, the comparison, latest/ and the audit (it needs other classes as stand-ins).
LABELLED = config["data"]["labelled"]


def run_of(family):
    """The run (a sweep point) whose ``family`` artifact the job's wildcard names."""
    return lambda w: SWEEP.run_for(family, w[family])


def layout_of(family):
    return lambda w: SWEEP.run_for(family, w[family]).layout


def public_option(family):
    """`--public <the prepared public set>` for a run whose API retrieves from it (pe.api retrieval), else nothing."""
    def option(w):
        layout = layout_of(family)(w)
        return f"--public {layout.public}" if layout.uses_pool else ""
    return option


def overrides(family):
    """The `--set` options that give a step of ``family`` its run's seed and epsilon."""
    return lambda w: SWEEP.run_for(family, w[family]).cli(family)


def settings(rule_name, family):
    """What the rule's output depends on, for its run; Snakemake reruns the job when it changes."""
    def resolve(w):
        run = SWEEP.run_for(family, w[family])
        value = rule_settings(run.params_for(family), rule_name)
        return value(int(w.iteration)) if callable(value) else value
    return resolve
