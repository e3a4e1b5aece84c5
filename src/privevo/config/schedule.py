"""The schedule a run's params expand to: the variation degree of every iteration, the API and the population size
of every population S_0..S_T (pe.api_schedule), and which APIs a run calls."""

from __future__ import annotations

from privevo.apis.base import check_degree
from privevo.core.errors import ParamsError


def variation_degrees(params: dict) -> list[float]:
    """The degree of every iteration t = 1..T (list index t - 1).

    Iteration t's degree is used by the lookahead of S_{t-1} and by the variation that makes S_t, as
    DPSDA's ``variation_degree_schedule[t]``.
    """
    pe = params["pe"]
    num_iterations = pe["num_iterations"]
    spec = pe["variation_degrees"]
    if isinstance(spec, dict):
        start, end = spec["start"], spec["end"]
        for key, value in (("start", start), ("end", end)):
            check_degree(value, pe["num_inference_steps"], where=f"pe.variation_degrees.{key}")
        span = max(num_iterations - 1, 1)
        degrees = [round(start + (end - start) * t / span, 6) for t in range(num_iterations)]
    else:
        degrees = list(spec)
        if len(degrees) != num_iterations:
            raise ParamsError(
                f"params key pe.variation_degrees: needs one degree per iteration, num_iterations = {num_iterations} "
                f"entries (iteration t's degree serves the lookahead of S_(t-1) and the variation making S_t), "
                f"got {len(degrees)}"
            )
    steps = pe["num_inference_steps"]
    for index, degree in enumerate(degrees):
        check_degree(degree, steps, where=f"pe.variation_degrees[{index}] (iteration {index + 1})")
    return degrees


def release_degree(params: dict) -> float:
    """The degree of the release's extra variations: pe.release_degree, else the last iteration's."""
    degree = params["pe"]["release_degree"]
    return float(degree) if degree is not None else degree_of_iteration(params, params["pe"]["num_iterations"])


def api_of_iteration(params: dict, iteration: int) -> str:
    """The API that draws population t (t = 0: RANDOM_API; t >= 1: VARIATION_API), from pe.api_schedule."""
    name = params["pe"]["api"]
    for entry in params["pe"]["api_schedule"]:
        if iteration >= 1 and entry["from_iteration"] <= iteration:
            name = entry["api"]
    return name


def population_of_iteration(params: dict, iteration: int) -> int:
    """N_t, the candidates per class of population S_t (t = 0..T): pe.num_samples_per_class, changed from
    iteration from_iteration on by a pe.api_schedule entry that sets its own num_samples_per_class (the histogram of
    that iteration selects N_t parents among the N_(t-1) candidates voted on)."""
    size = params["pe"]["num_samples_per_class"]
    for entry in params["pe"]["api_schedule"]:
        if iteration >= 1 and entry["from_iteration"] <= iteration and entry.get("num_samples_per_class"):
            size = entry["num_samples_per_class"]
    return int(size)


def population_sizes(params: dict) -> list[int]:
    """[N_0, ..., N_T]."""
    return [population_of_iteration(params, t) for t in range(params["pe"]["num_iterations"] + 1)]


def scheduled_apis(params: dict) -> list[str]:
    """Every API a run calls, pe.api first."""
    return list(dict.fromkeys([params["pe"]["api"], *(entry["api"] for entry in params["pe"]["api_schedule"])]))


def run_uses_foundation_model(params: dict) -> bool:
    """Whether any API the run calls (pe.api, pe.api_schedule) needs the foundation model."""
    from privevo.apis import uses_foundation_model

    return any(uses_foundation_model(name) for name in scheduled_apis(params))


def check_api_schedule(params: dict) -> None:
    from privevo.apis import carries_state

    pe = params["pe"]
    starts = [entry["from_iteration"] for entry in pe["api_schedule"]]
    if starts != sorted(set(starts)):
        raise ParamsError(f"params key pe.api_schedule: from_iteration must rise from entry to entry, got {starts}")
    if starts and starts[-1] > pe["num_iterations"]:
        raise ParamsError(f"params key pe.api_schedule: from_iteration {starts[-1]} is after the last iteration "
                          f"(pe.num_iterations = {pe['num_iterations']})")
    previous = pe["api"]
    for index, entry in enumerate(pe["api_schedule"]):
        if entry["api"] != previous and carries_state(entry["api"]):
            raise ParamsError(f"params key pe.api_schedule[{index}].api: {entry['api']} varies a per-image state it "
                              f"cannot rebuild from the pixels {previous} returns; only diffusion can follow another "
                              "API")
        previous = entry["api"]


def degree_of_iteration(params: dict, iteration: int) -> float:
    """degree_t for t = 1..T."""
    num_iterations = params["pe"]["num_iterations"]
    if not 1 <= iteration <= num_iterations:
        raise ValueError(f"iteration {iteration} outside 1..{num_iterations}")
    return variation_degrees(params)[iteration - 1]
