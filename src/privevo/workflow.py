"""Artifact paths and per-rule settings of the workflow, shared by the Snakefile and the tests.

Paths that do not depend on the privacy setting never name it, so a change of epsilon (or a sweep)
reuses the model, the private embeddings, S_0 and its lookahead embeddings.
"""

from __future__ import annotations

from pathlib import Path

from privevo.config import privacy_tag, variation_degrees


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


def rule_settings(params: dict, rule_name: str):
    """The settings a rule's output depends on (a dict, or a function of the iteration for per-iteration rules).

    Snakemake reruns a job when these change, so each rule lists only what it really uses.
    """
    pe, model, emb = params["pe"], params["model"], params["embedding"]
    sampler = {**_pick(pe, "num_inference_steps"), "mixed_precision": model["mixed_precision"], "seed": params["seed"]}
    embedding = _pick(emb, "name", "resolution", "inception_path")
    fixed = {
        "prepare_data": {"seed": params["seed"], **params["data"]},
        "pretrain": {"seed": params["seed"], **model},
        "histogram_private_embeddings": embedding,
        "pe_initial_samples": {**sampler, **_pick(pe, "num_samples_per_class")},
        "pe_initial_lookahead": {**sampler, **embedding, **_pick(pe, "lookahead_degree"),
                                 "degree": variation_degrees(params)[0]},
        "privacy_calibration": {**params["privacy"], **_pick(pe, "num_iterations")},
        "histogram": {"seed": params["seed"], **_pick(pe, "histogram_threshold", "histogram_threshold_unit",
                                                       "num_nearest_neighbours", "selection", "num_samples_per_class")},
        "pe_release": {"num_iterations": pe["num_iterations"]},
        "eval_fd_curve": {**embedding, "fd_per_class": params["evaluation"]["fd_per_class"]},
        "eval_downstream": _pick(params["evaluation"], "classifier_seeds", "classifier_epochs", "max_test_samples"),
        "eval_downstream_real": _pick(params["evaluation"], "classifier_seeds", "real_epochs", "real_max_samples",
                                      "max_test_samples"),
    }
    if rule_name in fixed:
        return fixed[rule_name]
    degrees = variation_degrees(params)
    if rule_name == "pe_variation":
        return lambda t: {**sampler, "degree": degrees[t]}
    if rule_name == "pe_lookahead":
        return lambda t: {**sampler, **embedding, **_pick(pe, "lookahead_degree"), "degree": degrees[t]}
    raise KeyError(f"no settings declared for rule {rule_name!r}")
