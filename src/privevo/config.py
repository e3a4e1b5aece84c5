"""Load params.yaml, validate it against the schema, and derive the settings every step needs."""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

# The package is installed editable from the repository, whose workflow/ holds the one schema.
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "params.schema.yaml"


class ParamsError(ValueError):
    """params.yaml has an unknown key or a bad value; the message names the key."""


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


def validate_params(params: Any) -> dict:
    """Return a deep copy of ``params`` if it is valid; raise ParamsError naming the first bad key."""
    if not isinstance(params, dict):
        raise ParamsError("params must be a mapping of sections (seed, device, paths, data, model, ...)")
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
    _check_semantics(params)
    return params


def load_params(path: str | Path = "params.yaml") -> dict:
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"params file {path} not found (copy params.yaml from the repository root)")
    try:
        params = yaml.load(path.read_text(), Loader=_Loader)
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path} is not valid YAML: {exc}") from exc
    return validate_params(params)


def _check_semantics(params: dict) -> None:
    privacy = params["privacy"]
    if (privacy["epsilon"] is None) == (privacy["noise_multiplier"] is None):
        raise ParamsError(
            "params key privacy.epsilon / privacy.noise_multiplier: set exactly one of them "
            "(a target epsilon, or a fixed noise multiplier), and the other to null"
        )
    if params["model"]["source"] == "local" and not params["model"]["local_path"]:
        raise ParamsError("params key model.local_path: required when model.source is 'local'")
    if params["embedding"]["name"] == "inception" and not params["embedding"]["inception_path"]:
        raise ParamsError("params key embedding.inception_path: required when embedding.name is 'inception'")
    variation_degrees(params)  # validates length and rounding against the DDIM steps


def variation_degrees(params: dict) -> list[float]:
    """The degree schedule of length T+1 (entry 0 is used only by the first lookahead)."""
    pe = params["pe"]
    num_iterations = pe["num_iterations"]
    spec = pe["variation_degrees"]
    if isinstance(spec, dict):
        start, end = float(spec["start"]), float(spec["end"])
        degrees = [round(start + (end - start) * t / num_iterations, 6) for t in range(num_iterations + 1)]
    else:
        degrees = [float(d) for d in spec]
        if len(degrees) != num_iterations + 1:
            raise ParamsError(
                f"params key pe.variation_degrees: needs num_iterations + 1 = {num_iterations + 1} entries "
                f"(entry 0 is used by the first lookahead), got {len(degrees)}"
            )
    steps = pe["num_inference_steps"]
    for index, degree in enumerate(degrees):
        check_degree(degree, steps, where=f"pe.variation_degrees[{index}]")
    return degrees


def check_degree(degree: float, num_inference_steps: int, *, where: str = "degree") -> int:
    """Validate a variation degree and return how many DDIM steps it re-runs."""
    if not (isinstance(degree, (int, float)) and math.isfinite(degree) and 0 <= degree <= 1):
        raise ParamsError(f"params key {where}: a variation degree is a fraction of the schedule in [0, 1], got {degree!r}")
    steps = round(degree * num_inference_steps)
    if degree > 0 and steps == 0:
        raise ParamsError(
            f"params key {where}: degree {degree} re-runs 0 of {num_inference_steps} DDIM steps, so it would not "
            f"vary the image; use at least {1 / num_inference_steps:.3g} or 0 on purpose"
        )
    return steps


def histogram_threshold(params: dict, noise_multiplier: float) -> float:
    """H in votes: pe.histogram_threshold, times sigma when its unit is sigma."""
    pe = params["pe"]
    return pe["histogram_threshold"] * (noise_multiplier if pe["histogram_threshold_unit"] == "sigma" else 1.0)


def privacy_tag(params: dict) -> str:
    """The folder name of everything that depends on the privacy setting (e.g. eps_1, sigma_10.5)."""
    privacy = params["privacy"]
    # str() renders numbers as DVC's ${...} templating does, so both tools name the same folder.
    if privacy["epsilon"] is not None:
        return f"eps_{privacy['epsilon']}"
    return f"sigma_{privacy['noise_multiplier']}"


FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
