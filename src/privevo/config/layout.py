"""Artifact paths of the workflow, shared by the Snakefile, the CLI and the tests.

Every path names what its content depends on, so that no change of settings ever overwrites or mixes
into another run:

- data/prepared/<data key>/             the private and public sets   (data settings, seed)
- results/model/<model key>/            the foundation model          (model settings, data key, seed)
- results/embeddings/<embedding key>/   private embeddings            (embedding settings, data key)
- results/pe/base/<base key>/iter_000/  S_0 and its lookahead         (sampler, N_syn, degree_1, model, seed)
- results/pe/runs/<run_name>-<hash>/seed_<s>/<privacy tag>/   one DP release: iter_001..iter_T, synthetic.npz
- results/dpsgd/<hash>/seed_<s>/<privacy tag>/                 one DP-SGD release
- results/mix/<hash>/seed_<s>/<privacy tag>/                   one "PE + DP-SGD" release at a total epsilon
- results/eval/{real-<key>, prior-<base key>/<key>}/           the non-private and public-prior classifiers

A key is a readable prefix plus a short hash of the settings the artifact depends on (never of the code:
a code change reruns jobs in place through the settings Snakemake compares). Keys are computed from the
resolved params of one run (a sweep point), whose seed and epsilon are already set.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from privevo.apis import params_section, uses_public_pool
from privevo.config.params import fd_embedding_name, mix_pe_epsilon, number_tag, privacy_tag, settings_at_epsilon
from privevo.config.schedule import api_of_iteration, degree_of_iteration, run_uses_foundation_model, scheduled_apis

HASH_LENGTH = 8


def settings_hash(settings) -> str:
    """A short, stable hash of JSON-ready settings (key order and 1 vs 1.0 do not matter)."""
    def canonical(value):
        if isinstance(value, dict):
            return {str(k): canonical(v) for k, v in sorted(value.items())}
        if isinstance(value, (list, tuple)):
            return [canonical(v) for v in value]
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value
    text = json.dumps(canonical(settings), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_LENGTH]


def without_keys(section: dict, *keys: str) -> dict:
    return {k: v for k, v in section.items() if k not in keys}


class Layout:
    """Where every artifact of one resolved run lives (params with this run's seed and epsilon set).

    ``model_seed`` is the seed of the epsilon-free, seed-shared work (data and foundation model); it is the
    params' seed unless the sweep asks for one model per seed.
    """

    def __init__(self, params: dict, *, model_seed: int | None = None, keys: dict[str, str] | None = None,
                 mix_pe_run: str | None = None):
        params = settings_at_epsilon(params)
        self.params = params
        self.seed = int(params["seed"])
        self.model_seed = self.seed if model_seed is None else int(model_seed)
        data, results = params["paths"]["data_dir"], params["paths"]["results_dir"]
        self.data_dir, self.results_dir = data, results
        # ``keys`` lets the Snakefile build path patterns with wildcards ({run}, {model}, ...) in place of keys.
        self.keys = (artifact_keys(params, model_seed=self.model_seed, mix_pe_run=mix_pe_run) if keys is None
                     else keys)

        prepared = f"{data}/prepared/{self.keys['data']}"
        self.prepared_dir = prepared
        self.private_train = f"{prepared}/private_train.npz"
        self.private_test = f"{prepared}/private_test.npz"
        self.private_validation = f"{prepared}/private_validation.npz"
        # What every evaluation (accuracy, calibration, robustness) is measured on: evaluation.split.
        self.evaluation_set = self.private_validation if params["evaluation"]["split"] == "validation" else self.private_test
        self.public = f"{prepared}/public.npz"
        self.data_manifest = f"{prepared}/data_manifest.json"

        model_root = f"{results}/model/{self.keys['model']}"
        if params["model"]["source"] == "pretrain":
            self.model_dir = model_root
            self.model_marker = f"{model_root}/pretrain_summary.json"
        else:
            self.model_dir = str(params["model"]["local_path"])
            unet_dir = Path(self.model_dir) / "unet"
            self.model_marker = str((unet_dir if unet_dir.is_dir() else Path(self.model_dir)) / "config.json")
        # An API that uses no foundation model (the simulator) gets none: no pretraining in its DAG.
        apis = scheduled_apis(params)
        self.uses_model = run_uses_foundation_model(params)
        if not self.uses_model:
            self.model_marker = []
        self.uses_pool = any(uses_public_pool(name) for name in apis)
        # What the run's API reads: the foundation model, the public pool (retrieval) or nothing (the simulator).
        self.api_inputs = ([self.model_marker] if self.uses_model else []) + ([self.public] if self.uses_pool else [])
        # Written in every mode (in local mode it is the only file under results/model/<key>).
        self.model_record = f"{model_root}/model.json"

        embeddings = f"{results}/embeddings/{self.keys['embedding']}"
        self.private_embeddings = f"{embeddings}/private_train.npy"
        self.private_labels = f"{embeddings}/private_train_labels.npy"
        # The FD's feature space (evaluation.fd_embedding): the same files when it is the votes' own.
        fd_embeddings = f"{results}/embeddings/{self.keys['fd_embedding']}"
        self.fd_private_embeddings = f"{fd_embeddings}/private_train.npy"
        self.base_dir = f"{results}/pe/base/{self.keys['base']}"
        self.tag = privacy_tag(params)
        self.run_key = self.keys["run"]
        self.run_dir = f"{results}/pe/runs/{self.run_key}"
        self.num_iterations = params["pe"]["num_iterations"]
        self.calibration = f"{self.run_dir}/calibration.json"
        self.synthetic = f"{self.run_dir}/synthetic.npz"
        self.synthetic_grid = f"{self.run_dir}/synthetic.png"
        self.privacy_report = f"{self.run_dir}/privacy.json"
        self.audit = f"{self.run_dir}/audit-{self.keys['audit']}.json"
        # Evaluation (reads private data, not part of the DP release); keyed by the evaluation settings.
        self.reference_stats = f"{results}/eval/reference-{self.keys['fd_embedding']}.npz"
        real = f"{results}/eval/real-{self.keys['real']}"
        self.real_downstream = f"{real}/downstream.json"
        self.real_curves = f"{real}/downstream_curves.csv"
        self.real_plot = f"{real}/downstream_curves.png"
        self.real_classifiers = f"{real}/classifiers.safetensors"
        self.real_robustness = f"{real}/robustness-{self.keys['robustness']}"
        self.eval_dir = f"{self.run_dir}/eval-{self.keys['evaluation']}"
        self.fd_curve = f"{self.eval_dir}/fd_curve.csv"
        self.fd_plot = f"{self.eval_dir}/fd_curve.png"
        self.cleanfid_check = f"{self.eval_dir}/cleanfid_check.json"  # Inception runs: privevo's FID vs clean-fid's
        self.downstream = f"{self.eval_dir}/downstream.json"
        self.downstream_curves = f"{self.eval_dir}/downstream_curves.csv"
        self.downstream_plot = f"{self.eval_dir}/downstream_curves.png"
        # Every trained classifier is an artifact (safetensors + JSON), so robustness can be measured again
        # without retraining; its robustness results sit next to it, keyed by the robustness settings.
        self.classifiers = f"{self.eval_dir}/classifiers.safetensors"
        self.robustness = f"{self.eval_dir}/robustness-{self.keys['robustness']}"
        # "public + PE": the same CNN on the same synthetic set, starting from the public-set CNN.
        self.public_classifier = f"{results}/eval/public-{self.keys['public']}/classifier.safetensors"
        self.public_pe_dir = f"{self.eval_dir}/public_pe-{self.keys['public']}"
        self.public_pe_downstream = f"{self.public_pe_dir}/downstream.json"
        self.public_pe_classifiers = f"{self.public_pe_dir}/classifiers.safetensors"
        self.public_pe_robustness = f"{self.public_pe_dir}/robustness-{self.keys['robustness']}"
        self.metrics = f"{self.eval_dir}/metrics.json"
        # The public prior: the same CNN trained on S_0, at zero privacy cost. Not under base_dir: that folder is
        # the initial_population stage's DVC output, and a later stage writing into it would mark it modified.
        self.prior_dir = f"{results}/eval/prior-{self.keys['base']}/{self.keys['evaluation']}"
        self.prior_downstream = f"{self.prior_dir}/downstream.json"
        self.prior_classifiers = f"{self.prior_dir}/classifiers.safetensors"
        self.prior_robustness = f"{self.prior_dir}/robustness-{self.keys['robustness']}"
        # The DP-SGD baseline at this run's seed and privacy setting.
        self.dpsgd_dir = f"{results}/dpsgd/{self.keys['dpsgd']}"
        self.dpsgd_report = f"{self.dpsgd_dir}/dpsgd.json"
        self.dpsgd_weights = f"{self.dpsgd_dir}/model.safetensors"
        self.dpsgd_downstream = f"{self.dpsgd_dir}/downstream.json"
        self.dpsgd_robustness = f"{self.dpsgd_dir}/robustness-{self.keys['robustness']}"
        # "PE + DP-SGD" at this run's epsilon as the total (its PE part is the run at mixing.pe_fraction * epsilon).
        self.mix_dir = f"{results}/mix/{self.keys['mix']}"
        self.mix_report = f"{self.mix_dir}/dpsgd.json"
        self.mix_weights = f"{self.mix_dir}/model.safetensors"
        self.mix_downstream = f"{self.mix_dir}/downstream.json"
        self.mix_robustness = f"{self.mix_dir}/robustness-{self.keys['robustness']}"
        # Views of the whole sweep, rewritten for the current params file.
        self.latest = f"{results}/latest"
        self.latest_privacy_report = f"{results}/latest/privacy.json"
        self.summary_csv = f"{results}/summary.csv"
        self.summary_md = f"{results}/summary.md"
        self.comparison_csv = f"{results}/comparison.csv"
        self.comparison_md = f"{results}/comparison.md"
        self.comparison_plot = f"{results}/comparison.png"
        self.ledger_json = f"{results}/privacy_ledger.json"
        self.ledger_md = f"{results}/privacy_ledger.md"
        self.robustness_csv = f"{results}/robustness.csv"
        self.robustness_md = f"{results}/robustness.md"
        self.robustness_plots = {kind: f"{results}/robustness_{kind}.png"
                                 for kind in ("corruptions", "attacks", "reliability")}

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

    def histogram_tables(self) -> list[str]:
        """Exactly the iterations this run accounts for (never a glob: an older, longer run's folders may exist)."""
        return [f"{self.iteration_dir(t)}/histogram.csv" for t in range(1, self.num_iterations + 1)]

    def log(self, name: str) -> str:
        return f"{self.results_dir}/logs/{name}.log"

    def run_log(self, name: str) -> str:
        return f"{self.run_dir}/logs/{name}.log"


def artifact_keys(params: dict, *, model_seed: int, mix_pe_run: str | None = None) -> dict[str, str]:
    """The folder key of every artifact family, from the settings each depends on (see the module docstring).

    ``mix_pe_run``: the "<run hash>/eps_<e>" of this run's "PE + DP-SGD" PE part, which the sweep resolves from
    the unapplied params (a pe.by_epsilon entry may give it other pe settings); None names it from this run's hash.
    """
    seed = int(params["seed"])
    data = without_neutral(params["data"], labelled=True)
    data_settings = {"data": data, "seed": model_seed}
    data_key = f"s{model_seed}-{settings_hash(data_settings)}"
    model = params["model"]
    if model["source"] == "pretrain":
        model_settings = {"model": model, "data": data_key}
        model_key = f"s{model_seed}-{settings_hash(model_settings)}"
    else:
        model_settings = {"local_path": str(Path(model["local_path"]).resolve())}
        model_key = f"local-{settings_hash(model_settings)}"
    embedding_settings = {"embedding": without_keys(params["embedding"], "batch_size"), "data": data_key}
    embedding_key = f"{params['embedding']['name']}-{settings_hash(embedding_settings)}"
    # The FD's feature space is keyed like a vote embedding of that name, so it is the same folder as the votes'
    # (no second embedding) when the names agree, and the one a config voting in that space would use otherwise.
    fd_name = fd_embedding_name(params)
    fd_embedding_settings = {"embedding": {**embedding_settings["embedding"], "name": fd_name}, "data": data_key}
    fd_embedding_key = f"{fd_name}-{settings_hash(fd_embedding_settings)}"
    pe = params["pe"]
    sampler = {"api": pe["api"], "num_samples_per_class": pe["num_samples_per_class"],
               "num_inference_steps": pe["num_inference_steps"], "sampler": pe["sampler"],
               "lookahead_degree": pe["lookahead_degree"],
               "degree_1": degree_of_iteration(params, 1), "mixed_precision": model["mixed_precision"],
               **output_image_settings(params), **without_neutral(pick_keys(pe, "prompts", "prompt"), prompts=None,
                                                                     prompt=None)}
    # An API's own section changes what it draws (the simulator's variation scale decides S_0's lookahead).
    api_sections = {name: params.get(name) for name in scheduled_apis(params) if params_section(name)}
    first_variation_api = api_of_iteration(params, 1)
    if first_variation_api != pe["api"]:  # S_0's lookahead is drawn with iteration 1's API
        sampler["api_1"] = first_variation_api
        if params_section(first_variation_api):
            sampler[first_variation_api] = params.get(first_variation_api)
    if params_section(pe["api"]):
        sampler[pe["api"]] = params.get(pe["api"])
    base_key = f"s{seed}-{settings_hash({'sampler': sampler, 'model': model_key, 'embedding': embedding_key})}"
    # A run's hash covers everything it depends on except its own seed and privacy setting, which name
    # the sub-folders; so the seeds and epsilons of one sweep sit side by side under one folder.
    # pe.by_epsilon is left out: the params are resolved at this run's epsilon, so pe.* holds what it uses, and
    # an entry for another epsilon must not move this run's folder.
    # A null histogram_threshold_reference_epsilon leaves the folder where it was before the setting existed.
    # So do settings added later at their neutral values (labelled data, no prompts).
    run_settings = {"pe": without_keys(without_neutral(pe, prompts=None, prompt=None),
                                   "batch_size", "nn_backend", "shards", "by_epsilon",
                                   *([] if pe["api_schedule"] else ["api_schedule"]),
                                   *([] if pe["histogram_threshold_reference_epsilon"] is not None
                                     else ["histogram_threshold_reference_epsilon"])),
                    "privacy": without_keys(release_privacy(params), "epsilon", "noise_multiplier"),
                    "model": model_settings if model["source"] != "pretrain" else
                    {"model": model, "seed": "per PE seed" if params["sweep"]["model_seeds"] else model_seed},
                    "embedding": embedding_settings["embedding"], "data": data,
                    **api_sections}
    run_key = f"{params['run_name']}-{settings_hash(run_settings)}/seed_{seed}/{privacy_tag(params)}"
    # fd_embedding enters through its key, and only where it differs, so the key of a null (or same-name)
    # fd_embedding is what it was before the setting existed.
    evaluation_key = settings_hash({"evaluation": without_keys(params["evaluation"], "fd_embedding"), "data": data_key,
                                    "embedding": embedding_key,
                                    **({"fd_embedding": fd_embedding_key} if fd_embedding_key != embedding_key else {})})
    real_key = settings_hash({"evaluation": without_keys(params["evaluation"], "classifier_epochs", "fd_per_class",
                                                     "fd_embedding"),
                              "data": data_key})
    dpsgd_settings = {"dpsgd": without_keys(params["dpsgd"], "enabled", "physical_batch_size"), "data": data_key,
                      "delta": params["privacy"]["delta"], "evaluation": params["evaluation"]["max_test_samples"],
                      **({"split": "validation"} if params["evaluation"]["split"] == "validation" else {}),
                      **dp_noise_setting(params)}
    dpsgd_key = f"{settings_hash(dpsgd_settings)}/seed_{seed}/{privacy_tag(params)}"
    audit_key = settings_hash({"audit": params["audit"], "pe": pick_keys(pe, "num_nearest_neighbours", "histogram_threshold",
                                                                    "histogram_threshold_unit", "vote_metric"),
                               **histogram_noise_setting(params)})
    # "PE + DP-SGD" at this run's (total) epsilon fine-tunes the CNN trained on the PE run at pe_fraction * epsilon.
    pe_epsilon = mix_pe_epsilon(params)
    if mix_pe_run is None and pe_epsilon is not None:
        mix_pe_run = f"{run_key.split('/', 1)[0]}/eps_{number_tag(pe_epsilon)}"
    mix_settings = {"dpsgd": without_keys(params["dpsgd"], "enabled", "physical_batch_size", "epochs", "learning_rate"),
                    "mixing": without_keys(params["mixing"], "enabled", "epsilons"), "pe_run": mix_pe_run,
                    "evaluation": evaluation_key, "data": data_key, **dp_noise_setting(params)}
    mix_key = f"{settings_hash(mix_settings)}/seed_{seed}/{privacy_tag(params)}"
    public_key = f"s{model_seed}-{settings_hash({'data': data_key, 'epochs': params['mixing']['public_epochs']})}"
    # Robustness sits inside each classifier's folder, which already names what the classifier depends on;
    # the classifier seed it evaluates is the first of evaluation.classifier_seeds (part of that folder's key).
    robustness_key = settings_hash({"robustness": without_keys(params["robustness"], "enabled", "batch_size"),
                                    "data": data_key})
    return {"data": data_key, "model": model_key, "embedding": embedding_key, "fd_embedding": fd_embedding_key,
            "base": base_key, "run": run_key,
            "evaluation": evaluation_key, "real": real_key, "dpsgd": dpsgd_key, "audit": audit_key,
            "robustness": robustness_key, "mix": mix_key, "public": public_key}


def output_image_settings(params: dict) -> dict:
    """What the API's output images depend on beyond the model: the private set's shape (through its name and
    folder) and how the model's images are resized to it."""
    data = params["data"]
    return {"private_set": data["private_set"], "private_dir": data["private_dir"],
            "resize_method": params["model"]["resize_method"], "class_labels": params["model"]["class_labels"]}


def without_neutral(section: dict, **neutral) -> dict:
    """``section`` without the keys that hold their neutral value, so a setting added later leaves the folders of
    runs made before it (which behaved as its neutral value) where they were."""
    return {key: value for key, value in section.items() if not (key in neutral and value == neutral[key])}


def dp_noise_setting(params: dict) -> dict:
    """DP-SGD's noise source when it is not the default (privacy.secure_noise), for its folders and triggers; the
    default adds nothing, so the folders of runs made before the setting reached DP-SGD stay where they were."""
    return without_neutral(pick_keys(params["privacy"], "secure_noise"), secure_noise=False)


ODOMETER_KEYS = ("odometer_dir", "allow_redraw", "total_budget")
"""privacy.* settings of the privacy odometer: where charges are kept and what a data set may spend. They decide
whether a draw is allowed, never what it produces, so no folder or trigger depends on them."""


def release_privacy(params: dict) -> dict:
    """params' privacy section without the odometer's settings: what a release's artifacts depend on."""
    return without_keys(params["privacy"], *ODOMETER_KEYS)


def histogram_noise_setting(params: dict) -> dict:
    """The privacy settings that pick the histograms' noise source (what the audit draws from)."""
    return {"noise": pick_keys(params["privacy"], "histogram_noise", "secure_noise", "reproducible_noise")}


def pick_keys(section: dict, *keys: str) -> dict:
    return {k: section[k] for k in keys}
