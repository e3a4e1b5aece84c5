"""Rule triggers: the settings and the code each workflow rule's output depends on. Snakemake reruns a job when its
rule's params change, so each rule's params carry exactly these: the settings it uses and a content hash of its
step's module and everything that module imports."""

from __future__ import annotations

import ast
import functools
import hashlib
import re
from pathlib import Path

from privevo.config.layout import (dp_noise_setting, histogram_noise_setting, output_image_settings, pick_keys,
                                   release_privacy, without_keys, without_neutral)
from privevo.config.params import fd_embedding_name, settings_at_epsilon
from privevo.config.schedule import degree_of_iteration

PACKAGE_DIR = Path(__file__).resolve().parents[1]

# The step (privevo.steps.<step>) each rule's job runs. A rule's code hash covers that step's module and every
# privevo module it imports, directly or not, so an edit to the step or to anything below it reruns exactly the
# jobs of the rules that use it, and nothing else.
RULE_STEPS = {
    "prepare_data": "prepare_data",
    "pretrain": "pretrain",
    "embed_private": "embed_private",
    "pe_init": "pe_init",
    "pe_lookahead_initial": "pe_lookahead",
    "calibrate": "calibrate",
    "pe_histogram": "pe_histogram",
    "pe_variation": "pe_variation",
    "pe_lookahead": "pe_lookahead",
    "pe_release": "pe_release",
    "audit": "audit",
    "eval_fd_curve": "eval_fd_curve",
    "eval_cleanfid_check": "eval_cleanfid_check",
    "eval_downstream": "eval_downstream",
    "eval_downstream_real": "eval_downstream",
    "robustness": "robustness",
    "public_classifier": "public_classifier",
    "dpsgd": "dpsgd",
    "dpsgd_mix": "dpsgd",
}
# A registry names its parts as "privevo.pkg.module:attribute" strings and imports them on use: such a string is
# an import too.
_REGISTERED_MODULE = re.compile(r"^(privevo(?:\.\w+)+)(?::\w+)?$")


def _module_file(package_dir: Path, module: str) -> Path | None:
    """The file of privevo module ``module`` under ``package_dir`` (a package's __init__.py), or None."""
    parts = module.split(".")[1:]
    path = package_dir.joinpath(*parts)
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return None


@functools.lru_cache(maxsize=None)
def _imported_modules(file: Path) -> frozenset[str]:
    """The privevo modules ``file`` imports anywhere (also inside functions, where privevo defers heavy imports),
    with the packages above them (importing a.b runs a/__init__.py) and the submodules ``from a import b`` names."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text(), filename=str(file))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("privevo"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("privevo"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = _REGISTERED_MODULE.match(node.value)
            if match:
                found.add(match.group(1))
    with_parents = set()
    for module in found:
        parts = module.split(".")
        with_parents.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return frozenset(with_parents)


@functools.lru_cache(maxsize=None)
def _closure(package_dir: Path, module: str) -> tuple[Path, ...]:
    """Every privevo file that importing ``module`` can run, found from the source (nothing is imported)."""
    seen: dict[str, Path] = {}
    pending = [module]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        file = _module_file(package_dir, name)
        if file is None:  # a name imported from a module, not a module of its own
            continue
        seen[name] = file
        pending.extend(_imported_modules(file) - seen.keys())
    return tuple(sorted(set(seen.values())))


def step_files(step: str, package_dir: Path | None = None) -> tuple[Path, ...]:
    """The files of step ``step``'s module and of every privevo module it imports."""
    return _closure(Path(package_dir or PACKAGE_DIR), f"privevo.steps.{step}")


@functools.lru_cache(maxsize=None)
def code_version(files: tuple[Path, ...]) -> str:
    """A short content hash of ``files`` (privevo source files), by content, not by mtime, which a checkout resets."""
    digest = hashlib.sha256()
    for file in sorted(files):
        digest.update(str(file.relative_to(PACKAGE_DIR)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:16]


def rule_settings(params: dict, rule_name: str):
    """The settings a rule's output depends on (a dict, or a function of the iteration for per-iteration rules).

    Snakemake reruns a job when these change, so each rule lists only what it really uses, plus the content
    hash of the code that computes it.
    """
    settings = _rule_settings(settings_at_epsilon(params), rule_name)
    code = {"code": code_version(step_files(RULE_STEPS[rule_name]))}
    if callable(settings):
        return lambda t: {**settings(t), **code}
    return {**settings, **code}


def _rule_settings(params: dict, rule_name: str):
    pe, model, emb = params["pe"], params["model"], params["embedding"]
    sampler = {**pick_keys(pe, "num_inference_steps", "sampler"), "mixed_precision": model["mixed_precision"],
               "seed": params["seed"],
               **output_image_settings(params), **without_neutral(pick_keys(pe, "prompts", "prompt"), prompts=None,
                                                                     prompt=None)}
    embedding = pick_keys(emb, "name", "resolution", "inception_path")
    fixed = {
        "prepare_data": {"seed": params["seed"], **params["data"]},
        "pretrain": {"seed": params["seed"], **model},
        "embed_private": embedding,
        "pe_init": {**sampler, **pick_keys(pe, "num_samples_per_class")},
        "pe_lookahead_initial": {**sampler, **embedding, **pick_keys(pe, "lookahead_degree"),
                                 "degree": degree_of_iteration(params, 1)},
        # The exact mechanism's accounting depends on m (T * m one-dimensional discrete Gaussians).
        "calibrate": {**release_privacy(params), **pick_keys(pe, "num_iterations", "num_nearest_neighbours")},
        # The audit runs the run's own histogram path: its votes, metric and noise source.
        "audit": {**params["audit"], **pick_keys(pe, "num_nearest_neighbours", "histogram_threshold",
                                                          "histogram_threshold_unit", "nn_backend", "vote_metric"),
                  **histogram_noise_setting(params)},
        "pe_histogram": {"seed": params["seed"], **pick_keys(pe, "histogram_threshold", "histogram_threshold_unit",
                                                       "num_nearest_neighbours", "vote_metric", "selection", "rank_top",
                                                       "num_samples_per_class", "api_schedule"),
                      **({"reference_epsilon": pe["histogram_threshold_reference_epsilon"], "privacy": release_privacy(params)}
                         if pe["histogram_threshold_reference_epsilon"] is not None else {})},
        "pe_release": {"num_iterations": pe["num_iterations"],
                       "data": pick_keys(params["data"], "validation_fraction", "private_fraction"),
                       **pick_keys(pe, "release_size", "release_degree"),
                       "privacy": release_privacy(params), "mixed_precision": model["mixed_precision"]},
        "eval_fd_curve": {**embedding, "name": fd_embedding_name(params),
                          "fd_per_class": params["evaluation"]["fd_per_class"]},
        "eval_cleanfid_check": {**embedding, "name": fd_embedding_name(params)},
        "eval_downstream": pick_keys(params["evaluation"], "classifier_seeds", "classifier_epochs", "max_test_samples"),
        "eval_downstream_real": pick_keys(params["evaluation"], "classifier_seeds", "real_epochs", "real_max_samples",
                                      "max_test_samples"),
        "dpsgd_mix": {"seed": params["seed"], "dpsgd": without_keys(params["dpsgd"], "enabled", "epochs", "learning_rate"),
                         "mixing": without_keys(params["mixing"], "enabled", "epsilons"),
                         "privacy": {**pick_keys(params["privacy"], "epsilon", "delta"), **dp_noise_setting(params)},
                         "data": pick_keys(params["data"], "validation_fraction", "private_fraction"),
                         "max_test_samples": params["evaluation"]["max_test_samples"]},
        "public_classifier": {"seed": params["seed"], "epochs": params["mixing"]["public_epochs"]},
        "robustness": {**without_keys(params["robustness"], "enabled", "batch_size"),
                            "classifier_seed": params["evaluation"]["classifier_seeds"][0]},
        "dpsgd": {"seed": params["seed"], "dpsgd": without_keys(params["dpsgd"], "enabled"),
                           "privacy": {**pick_keys(params["privacy"], "epsilon", "delta", "noise_multiplier"),
                                       **dp_noise_setting(params)},
                           "data": pick_keys(params["data"], "validation_fraction", "private_fraction"),
                           "max_test_samples": params["evaluation"]["max_test_samples"]},
    }
    if rule_name in fixed:
        return fixed[rule_name]
    if rule_name == "pe_variation":
        # S_t = VARIATION_API(S'_t, degree_t).
        return lambda t: {**sampler, "degree": degree_of_iteration(params, t)}
    if rule_name == "pe_lookahead":
        # The lookahead of S_t feeds iteration t + 1's histogram, so it uses degree_(t+1).
        return lambda t: {**sampler, **embedding, **pick_keys(pe, "lookahead_degree"),
                          "degree": degree_of_iteration(params, t + 1)}
    raise KeyError(f"no settings declared for rule {rule_name!r}")
