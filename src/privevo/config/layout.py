"""Artifact paths and per-rule settings of the workflow, shared by the Snakefile and the tests.

Paths that do not depend on the privacy setting never name it, so a change of epsilon (or a sweep)
reuses the model, the private embeddings, S_0 and its lookahead embeddings.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from privevo.config.params import degree_of_iteration, privacy_tag


class Layout:
    """Where every artifact of one params set lives."""

    def __init__(self, params: dict):
        self.params = params
        data, results = params["paths"]["data_dir"], params["paths"]["results_dir"]
        self.data_dir, self.results_dir = data, results
        self.private_train = f"{data}/private_train.npz"
        self.private_test = f"{data}/private_test.npz"
        self.public = f"{data}/public.npz"
        self.data_manifest = f"{data}/data_manifest.json"
        if params["model"]["source"] == "pretrain":
            self.model_dir = f"{results}/model"
            self.model_marker = f"{results}/model/pretrain_summary.json"
        else:
            self.model_dir = str(params["model"]["local_path"])
            unet_dir = Path(self.model_dir) / "unet"
            self.model_marker = str((unet_dir if unet_dir.is_dir() else Path(self.model_dir)) / "config.json")
        # Written in both modes (in local mode it is the only file under results/model).
        self.model_record = f"{results}/model/model.json"
        self.private_embeddings = f"{results}/embeddings/private_train.npy"
        self.private_labels = f"{results}/embeddings/private_train_labels.npy"
        self.base_dir = f"{results}/pe/base"
        self.tag = privacy_tag(params)
        self.run_dir = f"{results}/pe/runs/{self.tag}"
        self.num_iterations = params["pe"]["num_iterations"]
        self.calibration = f"{self.run_dir}/calibration.json"
        self.synthetic = f"{self.run_dir}/synthetic.npz"
        self.synthetic_grid = f"{self.run_dir}/synthetic.png"
        self.privacy_report = f"{self.run_dir}/privacy.json"
        self.audit = f"{self.run_dir}/audit.json"
        self.latest_privacy_report = f"{results}/latest/privacy.json"
        # Evaluation (reads private data, not part of the DP release).
        self.reference_stats = f"{results}/eval/reference_stats.npz"
        self.real_downstream = f"{results}/eval/real_downstream.json"
        self.real_curves = f"{results}/eval/real_downstream_curves.csv"
        self.eval_dir = f"{self.run_dir}/eval"
        self.fd_curve = f"{self.eval_dir}/fd_curve.csv"
        self.fd_plot = f"{self.eval_dir}/fd_curve.png"
        self.downstream = f"{self.eval_dir}/downstream.json"
        self.downstream_curves = f"{self.eval_dir}/downstream_curves.csv"
        self.metrics = f"{self.run_dir}/metrics.json"
        self.latest = f"{results}/latest"
        self.summary_csv = f"{results}/summary.csv"
        self.summary_md = f"{results}/summary.md"

    def iteration_dir(self, iteration) -> str:
        """iter_000 (S_0, no privacy cost) sits in the base folder; iterations >= 1 in the run folder."""
        if isinstance(iteration, str):  # a Snakemake wildcard pattern such as "{iteration}"
            return f"{self.run_dir}/iter_{iteration}"
        if iteration == 0:
            return f"{self.base_dir}/iter_000"
        return f"{self.run_dir}/iter_{iteration:03d}"

    def candidates(self, iteration: int) -> str:
        return f"{self.iteration_dir(iteration)}/candidates.npz"

    def candidates_grid(self, iteration: int) -> str:
        return f"{self.iteration_dir(iteration)}/candidates.png"

    def lookahead(self, iteration: int) -> str:
        return f"{self.iteration_dir(iteration)}/lookahead.npy"

    def populations(self) -> list[str]:
        return [self.candidates(t) for t in range(self.num_iterations + 1)]

    def log(self, name: str) -> str:
        return f"{self.results_dir}/logs/{name}.log"

    def run_log(self, name: str) -> str:
        return f"{self.run_dir}/logs/{name}.log"


def _pick(section: dict, *keys: str) -> dict:
    return {k: section[k] for k in keys}


PACKAGE_DIR = Path(__file__).resolve().parents[1]

# The parts of privevo (subpackages or modules, relative to the package) whose code decides each rule's
# output, beyond the thin CLI. Their content hash is part of the rule's settings, so a fix to, say, the
# accountant reruns exactly the jobs that use it.
RULE_MODULES = {
    "prepare_data": ("data", "core", "io"),
    "pretrain": ("models/ddpm.py", "apis", "core"),
    "histogram_private_embeddings": ("embedders",),
    "pe_initial_samples": ("pe/loop.py", "apis", "core/seeding.py"),
    "pe_initial_lookahead": ("pe/loop.py", "pe/lookahead.py", "apis", "embedders", "core/seeding.py"),
    "privacy_calibration": ("accountants",),
    "histogram": ("pe", "core/seeding.py"),
    "pe_variation": ("pe/loop.py", "apis", "core/seeding.py"),
    "pe_lookahead": ("pe/loop.py", "pe/lookahead.py", "apis", "embedders", "core/seeding.py"),
    "pe_release": ("reports/privacy.py", "pe/noise.py"),
    "privacy_audit": ("evaluation/audit.py", "pe", "accountants"),
    "eval_fd_curve": ("evaluation/fd_curve.py", "evaluation/frechet.py", "embedders"),
    "eval_downstream": ("models/classifier.py",),
    "eval_downstream_real": ("models/classifier.py",),
}


def code_version(parts) -> str:
    """A short content hash of privevo's code in ``parts`` (files or whole subpackages), not of their mtimes,
    which a checkout resets."""
    digest = hashlib.sha256()
    for part in sorted(parts):
        path = PACKAGE_DIR / part
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            if file.exists():
                digest.update(str(file.relative_to(PACKAGE_DIR)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:16]


def rule_settings(params: dict, rule_name: str):
    """The settings a rule's output depends on (a dict, or a function of the iteration for per-iteration rules).

    Snakemake reruns a job when these change, so each rule lists only what it really uses, plus the content
    hash of the code that computes it.
    """
    settings = _rule_settings(params, rule_name)
    code = {"code": code_version(RULE_MODULES[rule_name])}
    if callable(settings):
        return lambda t: {**settings(t), **code}
    return {**settings, **code}


def _rule_settings(params: dict, rule_name: str):
    pe, model, emb = params["pe"], params["model"], params["embedding"]
    sampler = {**_pick(pe, "num_inference_steps"), "mixed_precision": model["mixed_precision"], "seed": params["seed"]}
    embedding = _pick(emb, "name", "resolution", "inception_path")
    fixed = {
        "prepare_data": {"seed": params["seed"], **params["data"]},
        "pretrain": {"seed": params["seed"], **model},
        "histogram_private_embeddings": embedding,
        "pe_initial_samples": {**sampler, **_pick(pe, "num_samples_per_class")},
        "pe_initial_lookahead": {**sampler, **embedding, **_pick(pe, "lookahead_degree"),
                                 "degree": degree_of_iteration(params, 1)},
        "privacy_calibration": {**params["privacy"], **_pick(pe, "num_iterations")},
        "privacy_audit": {**params["audit"], **_pick(pe, "num_nearest_neighbours", "histogram_threshold",
                                                          "histogram_threshold_unit", "nn_backend")},
        "histogram": {"seed": params["seed"], **_pick(pe, "histogram_threshold", "histogram_threshold_unit",
                                                       "num_nearest_neighbours", "selection", "rank_top",
                                                       "num_samples_per_class")},
        "pe_release": {"num_iterations": pe["num_iterations"], "data": params["data"]["max_private_samples"],
                       "privacy": params["privacy"], "mixed_precision": model["mixed_precision"]},
        "eval_fd_curve": {**embedding, "fd_per_class": params["evaluation"]["fd_per_class"]},
        "eval_downstream": _pick(params["evaluation"], "classifier_seeds", "classifier_epochs", "max_test_samples"),
        "eval_downstream_real": _pick(params["evaluation"], "classifier_seeds", "real_epochs", "real_max_samples",
                                      "max_test_samples"),
    }
    if rule_name in fixed:
        return fixed[rule_name]
    if rule_name == "pe_variation":
        # S_t = VARIATION_API(S'_t, degree_t).
        return lambda t: {**sampler, "degree": degree_of_iteration(params, t)}
    if rule_name == "pe_lookahead":
        # The lookahead of S_t feeds iteration t + 1's histogram, so it uses degree_(t+1).
        return lambda t: {**sampler, **embedding, **_pick(pe, "lookahead_degree"),
                          "degree": degree_of_iteration(params, t + 1)}
    raise KeyError(f"no settings declared for rule {rule_name!r}")
