"""Load params.yaml, validate it against the schema, and derive the settings every step needs."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from privevo.accountants.validation import MAX_EPSILON
from privevo.apis.base import check_degree
from privevo.core.errors import ParamsError
from privevo.config.schedule import variation_degrees, population_sizes, scheduled_apis, check_api_schedule
from privevo.config.memory import check_memory

# The package is installed editable from the repository, whose workflow/ holds the one schema.
# Package data, so an installed privevo (not only a checkout) validates; workflow/schemas/ links to it.
SCHEMA_PATH = Path(__file__).resolve().with_name("params.schema.yaml")


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 scalars, as DVC (ruamel) writes them: 1e-5 is a float, and only
    true/false are booleans (YAML 1.1 would read an unquoted `no` or `on` as a boolean)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)$|^[-+]?(?:\d+\.\d*|\.\d+)$"),
    list("-+0123456789."),
)


def _schema() -> dict:
    return yaml.load(SCHEMA_PATH.read_text(), Loader=_Loader)


def _key_name(error: jsonschema.ValidationError) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    return path or "(top level)"


# Keys that were counts over the private set, refused with what to use instead: a count of the first images (or of
# a seeded draw over row positions) depends on positions and on the set's private size, so one image more or less
# changes many rows after the split; a public fraction with a keyed hash per image does not (privevo.data.membership).
RETIRED_KEYS = {
    ("data", "validation_size"): "data.validation_fraction (the public share held out, e.g. 0.0833 to hold out "
                                 "about 5,000 of a 60,000-image set)",
    ("data", "max_private_samples"): "data.private_fraction (the public share kept, e.g. 0.0333 to keep about 2,000 "
                                     "of a 60,000-image set; null keeps all)",
    ("dpsgd", "max_samples"): "dpsgd.private_fraction (the public share of the training set DP-SGD uses; null: all)",
}


def retired_key_error(section: str, key: str) -> ParamsError | None:
    """The one-line refusal of a retired count key (:data:`RETIRED_KEYS`), or None for any other key."""
    instead = RETIRED_KEYS.get((section, key))
    if instead is None:
        return None
    return ParamsError(f"params key {section}.{key}: no longer accepted: a count of private images depends on their "
                       f"positions and on the private set's size, so neighbouring data sets would differ in many "
                       f"images after the split; use {instead}, decided per image by a keyed hash of its bytes")


def _check_retired_keys(params: dict) -> None:
    for section, key in RETIRED_KEYS:
        if isinstance(params.get(section), dict) and key in params[section]:
            raise retired_key_error(section, key)


def validate_params(params: Any, *, check_data: bool = False) -> dict:
    """Return a deep copy of ``params`` if it is valid; raise ParamsError naming the first bad key.

    ``check_data`` also lists the private image folder's files per class (file names only; an empty class folder is
    refused, and no count is printed): once per workflow, before any job (the Snakefile and `privevo
    validate-params`), not in every step that loads its settings."""
    if not isinstance(params, dict):
        raise ParamsError("params must be a mapping of sections (seed, device, paths, data, model, ...)")
    _check_retired_keys(params)
    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(params), key=lambda e: (len(list(e.absolute_path)), str(e.absolute_path)))
    if errors:
        error = errors[0]
        if error.validator == "additionalProperties":
            unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            where = _key_name(error)
            keys = ", ".join(f"{where}.{k}" if where != "(top level)" else k for k in unknown)
            raise ParamsError(f"unknown key(s) in params: {keys}")
        raise ParamsError(f"params key {_key_name(error)}: {error.message}")
    params = copy.deepcopy(params)
    _check_epsilon_entries(params)
    _check_semantics(settings_at_epsilon(params))
    for index, entry in enumerate(params["pe"]["by_epsilon"]):
        view = apply_override(params, f"privacy.epsilon={number_tag(entry['epsilon'])}")
        try:
            _check_semantics(settings_at_epsilon(view))
        except ParamsError as exc:
            raise ParamsError(f"at epsilon {number_tag(entry['epsilon'])} (pe.by_epsilon[{index}]): {exc}") from None
    if check_data:
        _check_class_folders(params)
    return params


# The pe settings a pe.by_epsilon entry may replace: the size of the search and its selection pressure, which
# a larger budget can afford (sigma grows with sqrt(T)). Never the API, sampler or embedder: they decide what a
# candidate is, and a comparison across epsilons should change only how hard PE searches.
EPSILON_SETTINGS = ("num_samples_per_class", "num_iterations", "lookahead_degree", "variation_degrees",
                    "histogram_threshold", "histogram_threshold_unit", "histogram_threshold_reference_epsilon",
                    "num_nearest_neighbours", "release_size", "release_degree")


def settings_at_epsilon(params: dict) -> dict:
    """A copy of ``params`` whose pe section holds the settings of its own privacy.epsilon: the pe.by_epsilon
    entry for that epsilon replaces its keys; with no entry (or a fixed noise multiplier) pe.* is used as is.

    validate_params keeps the entries unapplied, so one params file can be resolved at every epsilon of a sweep.
    """
    params = copy.deepcopy(params)
    epsilon = params["privacy"]["epsilon"]
    if epsilon is None:
        return params
    for entry in params["pe"]["by_epsilon"]:
        if number_tag(entry["epsilon"]) == number_tag(epsilon):
            params["pe"].update({key: copy.deepcopy(value) for key, value in entry.items() if key != "epsilon"})
    return params


def _check_epsilon_entries(params: dict) -> None:
    if params["pe"]["by_epsilon"] and params["privacy"]["epsilon"] is None:
        raise ParamsError("params key pe.by_epsilon: its entries apply at a target epsilon, but privacy.epsilon is "
                          "null (a fixed noise multiplier); set privacy.epsilon, or pe.by_epsilon to []")
    tags = [number_tag(entry["epsilon"]) for entry in params["pe"]["by_epsilon"]]
    for tag in tags:
        if tags.count(tag) > 1:
            raise ParamsError(f"params key pe.by_epsilon: epsilon {tag} has more than one entry")
    for index, entry in enumerate(params["pe"]["by_epsilon"]):
        if len(entry) == 1:
            raise ParamsError(f"params key pe.by_epsilon[{index}]: sets no pe setting for epsilon {tags[index]} "
                              f"(add one of {', '.join(EPSILON_SETTINGS)}, or remove the entry)")


def load_params(path: str | Path = "params.yaml", overrides: list[str] | None = None, *,
                at_epsilon: bool = False, check_data: bool = False) -> dict:
    """The validated params of ``path``, with ``overrides`` ("dotted.key=value", value in YAML) applied first.

    ``at_epsilon``: apply the pe.by_epsilon entry of the resulting privacy.epsilon (what one step of one run
    sees). ``check_data``: see :func:`validate_params`. By default the entries stay unapplied, so a sweep can resolve each of its epsilons from the file's pe.*.
    """
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"params file {path} not found (copy params.yaml from the repository root)")
    params = read_params_file(path)
    for override in overrides or []:
        params = apply_override(params, override)
    params = validate_params(params, check_data=check_data)
    return settings_at_epsilon(params) if at_epsilon else params


def read_params_file(path: Path, *, _chain: tuple[Path, ...] = ()) -> Any:
    """The settings of one params file, unvalidated, with its ``extends`` chain resolved.

    A file with a top-level ``extends: <params file>`` (relative to its own folder) holds only what differs from
    that base: mappings merge key by key, and anything else (a list, a number, null) replaces the base's value
    whole. So a lever of an ablation states its change and nothing else.
    """
    path = Path(path)
    try:
        params = yaml.load(path.read_text(), Loader=_Loader)
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(params, dict) or "extends" not in params:
        return params
    params = dict(params)
    base_name = params.pop("extends")
    if not isinstance(base_name, str) or not base_name:
        raise ParamsError(f"params key extends in {path}: expected the path of a params file, got {base_name!r}")
    base = (path.parent / base_name).resolve()
    chain = (*_chain, path.resolve())
    if base in chain:
        raise ParamsError(f"params key extends in {path}: {base_name} is already in the chain (a cycle: "
                          f"{' -> '.join(p.name for p in (*chain, base))})")
    if not base.exists():
        raise ParamsError(f"params key extends in {path}: {base_name} not found (relative to {path.parent})")
    base_params = read_params_file(base, _chain=chain)
    if not isinstance(base_params, dict):
        raise ParamsError(f"params key extends in {path}: {base_name} is not a mapping of params sections")
    return merge_params(base_params, params)


def merge_params(base: dict, changes: dict) -> dict:
    """``base`` with ``changes`` on top: mappings merge key by key; any other value replaces the base's."""
    merged = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_params(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def apply_override(params: dict, override: str) -> dict:
    """A deep copy of ``params`` with one "dotted.key=value" applied; the key must already exist.

    This is how a sweep's run reaches every step: the workflow passes its seed and epsilon as overrides of the
    one params file, so there is a single source of settings and no generated params files.
    """
    key, sep, text = override.partition("=")
    if not sep or not key:
        raise ParamsError(f"override {override!r}: expected dotted.key=value, e.g. privacy.epsilon=4")
    try:
        value = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise ParamsError(f"override {key}: value {text!r} is not valid YAML: {exc}") from exc
    params = copy.deepcopy(params)
    *parents, last = key.split(".")
    node = params
    for i, part in enumerate(parents):
        node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            raise ParamsError(f"override {key}: {'.'.join(parents[:i + 1])} is not a section of params")
    if last not in node:
        retired = retired_key_error(parents[0], last) if len(parents) == 1 else None
        raise retired or ParamsError(f"override {key}: unknown key")
    node[last] = value
    return params


def _check_semantics(params: dict) -> None:
    privacy = params["privacy"]
    if (privacy["epsilon"] is None) == (privacy["noise_multiplier"] is None):
        raise ParamsError(
            "params key privacy.epsilon / privacy.noise_multiplier: set exactly one of them "
            "(a target epsilon, or a fixed noise multiplier), and the other to null"
        )
    if privacy["epsilon"] is not None and privacy["epsilon"] > MAX_EPSILON:
        raise ParamsError(f"params key privacy.epsilon: {privacy['epsilon']:g} is above {MAX_EPSILON:g}, where a DP "
                          "guarantee means nothing; use privacy.noise_multiplier to run with little noise on purpose")
    sweep = params["sweep"]
    if sweep["epsilons"] is not None and privacy["epsilon"] is None:
        raise ParamsError("params key sweep.epsilons: a sweep over epsilon needs privacy.epsilon set (not "
                          "privacy.noise_multiplier); set sweep.epsilons to null to run a fixed noise multiplier")
    for epsilon in sweep["epsilons"] or []:
        if epsilon > MAX_EPSILON:
            raise ParamsError(f"params key sweep.epsilons: {epsilon:g} is above {MAX_EPSILON:g}, where a DP "
                              "guarantee means nothing")
    if len({number_tag(e) for e in sweep["epsilons"] or []}) != len(sweep["epsilons"] or []):
        raise ParamsError("params key sweep.epsilons: lists the same epsilon twice")
    if params["evaluation"]["split"] == "validation" and not params["data"]["validation_fraction"]:
        raise ParamsError("params key evaluation.split: validation needs data.validation_fraction > 0 (the share of "
                          "the private training set held out)")
    if not params["data"]["labelled"] and params["data"]["private_set"] != "image_folder":
        raise ParamsError(f"params key data.labelled: false needs data.private_set image_folder (a folder of images "
                          f"with no class subfolders); {params['data']['private_set']} is labelled")
    if not params["data"]["labelled"]:
        # Unlabelled data has no classes to classify and no test split: the steps that train or test a classifier
        # (DP-SGD, PE + DP-SGD, public + PE, robustness) cannot run, so their switches must be off.
        for key, on in (("dpsgd.enabled", params["dpsgd"]["enabled"]), ("mixing.enabled", params["mixing"]["enabled"]),
                        ("mixing.public_pe", params["mixing"]["public_pe"]),
                        ("robustness.enabled", params["robustness"]["enabled"])):
            if on:
                raise ParamsError(f"params key {key}: must be false with data.labelled false (unlabelled data has no "
                                  f"classes to classify and no test split)")
        if params["evaluation"]["split"] == "validation":
            raise ParamsError("params key evaluation.split: validation measures the downstream classifier, which "
                              "unlabelled data (data.labelled false) does not train; use test")
    class_names = params_class_names(params)
    labels = params["model"]["class_labels"]
    if labels is not None and len(labels) != len(class_names):
        raise ParamsError(f"params key model.class_labels: one model class id per private class ({len(class_names)}: "
                          f"{', '.join(class_names)}); got {len(labels)}")
    _check_api_classes(params, class_names)
    if params["model"]["source"] == "local" and not params["model"]["local_path"]:
        raise ParamsError("params key model.local_path: required when model.source is 'local'")
    if params["embedding"]["name"] == "inception" and not params["embedding"]["inception_path"]:
        raise ParamsError("params key embedding.inception_path: required when embedding.name is 'inception'")
    if params["evaluation"]["fd_embedding"] == "inception" and not params["embedding"]["inception_path"]:
        raise ParamsError("params key embedding.inception_path: required when evaluation.fd_embedding is 'inception'")
    _check_registered_names(params)
    check_api_schedule(params)
    pe = params["pe"]
    sizes = population_sizes(params)
    voted = min(sizes[:-1])  # the candidates of iterations 1..T: S_0..S_(T-1)
    size_key = "pe.num_samples_per_class" + (" (with pe.api_schedule)" if len(set(sizes)) > 1 else "")
    if pe["num_nearest_neighbours"] > voted:
        raise ParamsError(
            f"params key pe.num_nearest_neighbours: each private sample votes for its {pe['num_nearest_neighbours']} "
            f"nearest candidates, but a class has only {size_key} = {voted}"
        )
    if pe["selection"] == "rank":
        top = pe["rank_top"]
        if top is None or top >= voted:
            raise ParamsError(
                f"params key pe.rank_top: selection rank keeps the top-voted candidates of each class, so rank_top "
                f"must be set below {size_key} = {voted} (got {top})"
            )
    variation_degrees(params)  # validates length and rounding against the DDIM steps
    if pe["release_size"] is not None and pe["release_size"] < sizes[-1]:
        raise ParamsError(f"params key pe.release_size: {pe['release_size']} per class is below "
                          f"{size_key} ({sizes[-1]}), the final candidates it extends")
    if pe["release_degree"] is not None:
        check_degree(pe["release_degree"], pe["num_inference_steps"], where="pe.release_degree")
    check_memory(params)


def _check_api_classes(params: dict, class_names: list[str]) -> None:
    """Every API the run schedules must know the private set's classes: the garment simulator draws only its
    garments, and a prompt map may name only classes the data has."""
    if "simulator" in scheduled_apis(params):
        from privevo.apis.simulator import garment_indices

        garment_indices(class_names)
    if "text_to_image" in scheduled_apis(params):
        _check_text_to_image_model(params)
    if params["pe"]["prompts"] is not None:
        from privevo.apis.text_to_image import check_prompts

        check_prompts(params["pe"]["prompts"], class_names)


def _check_class_folders(params: dict) -> None:
    """Every class folder of an image-folder private set holds an image (an empty one is refused by the listing
    itself, naming the folder), from file names alone. No size is compared with a setting: pe.num_nearest_neighbours
    counts candidates (checked against pe.num_samples_per_class, which is public), not private images, and a class
    of one image is a valid private class. Nothing here prints a count of the private data."""
    from privevo.data.private import params_class_counts

    params_class_counts(params)


def _check_text_to_image_model(params: dict) -> None:
    """pe.api text_to_image draws from a local pipeline folder: say so before any job, without loading it."""
    model = params["model"]
    if model["source"] != "local":
        raise ParamsError("params key model.source: pe.api text_to_image needs a local diffusers text-to-image "
                          "pipeline: set model.source local and model.local_path to its folder")
    folder = Path(model["local_path"]).expanduser()
    if not (folder / "model_index.json").is_file():
        raise ParamsError(f"params key model.local_path: {folder} is not a diffusers pipeline folder (no "
                          "model_index.json); pe.api text_to_image needs one saved with save_pretrained (unet/, "
                          "vae/, text_encoder/, tokenizer/, scheduler/)")


def params_class_names(params: dict) -> list[str]:
    """The private set's class names (public): from the data, never from code."""
    from privevo.data.private import params_class_names as class_names_of

    return class_names_of(params)


def _check_registered_names(params: dict) -> None:
    """Names of interchangeable parts must be registered; a new part is picked up by its registry line."""
    from privevo.apis import APIS
    from privevo.core.registry import UnknownNameError
    from privevo.embedders import EMBEDDERS
    from privevo.pe.neighbours import NN_BACKENDS
    from privevo.pe.selection import SELECTION_METHODS

    checks = [(APIS, params["pe"]["api"], "pe.api"), (EMBEDDERS, params["embedding"]["name"], "embedding.name"),
              *((APIS, entry["api"], f"pe.api_schedule[{index}].api")
                for index, entry in enumerate(params["pe"]["api_schedule"])),
              (EMBEDDERS, fd_embedding_name(params), "evaluation.fd_embedding"),
              (SELECTION_METHODS, params["pe"]["selection"], "pe.selection")]
    if params["pe"]["nn_backend"] != "auto":
        checks.append((NN_BACKENDS, params["pe"]["nn_backend"], "pe.nn_backend"))
    for registry, name, key in checks:
        try:
            registry.check(name, key=key)
        except UnknownNameError as exc:
            raise ParamsError(str(exc)) from None
    _check_pe_accountant(params)


def _check_pe_accountant(params: dict) -> None:
    """privacy.accountant must account the histogram mechanism privacy.histogram_noise draws (auto: its tight one)."""
    from privevo.accountants import ACCOUNTANTS
    from privevo.config.privacy import AUTO_ACCOUNTANT, histogram_mechanism
    from privevo.core.registry import UnknownNameError

    name = params["privacy"]["accountant"]
    try:
        mechanism = histogram_mechanism(params)
    except ValueError as exc:
        raise ParamsError(str(exc)) from None
    if name == AUTO_ACCOUNTANT:
        return
    try:
        ACCOUNTANTS.check(name, key="privacy.accountant", computes=mechanism)
    except UnknownNameError as exc:
        raise ParamsError(f"{exc} (privacy.histogram_noise draws {mechanism}; auto picks its tight accountant)"
                          ) from None






def fd_embedding_name(params: dict) -> str:
    """The feature space of the evaluation's Frechet distance: evaluation.fd_embedding, else the votes' own."""
    return params["evaluation"]["fd_embedding"] or params["embedding"]["name"]


def number_tag(value: float) -> str:
    """A number as a folder name: the shortest repr that round-trips, so 1 and 1.0 give "1" and 0.5 gives "0.5"."""
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def mix_pe_epsilon(params: dict) -> float | None:
    """The epsilon of the PE part of "PE + DP-SGD" at this run's total epsilon (rounded, so 0.3 * 10 names eps_3)."""
    epsilon = params["privacy"]["epsilon"]
    return None if epsilon is None else round(params["mixing"]["pe_fraction"] * float(epsilon), 10)


def privacy_tag(params: dict) -> str:
    """The folder name of everything that depends on the privacy setting (e.g. eps_1, sigma_10.5)."""
    privacy = params["privacy"]
    if privacy["epsilon"] is not None:
        return f"eps_{number_tag(privacy['epsilon'])}"
    return f"sigma_{number_tag(privacy['noise_multiplier'])}"
