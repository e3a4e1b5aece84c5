"""Whether a run's largest step fits in this machine's memory, checked from params before any job starts."""

from __future__ import annotations

from pathlib import Path

from privevo.config.schedule import population_sizes
from privevo.core.errors import ParamsError


# The memory estimate is sized for the largest supported private images (CIFAR-10, 32x32x3).
_MAX_IMAGE_BYTES = 32 * 32 * 3


def available_memory_bytes() -> int | None:
    """MemAvailable from /proc/meminfo, or None where it cannot be read."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def estimate_peak_memory(params: dict) -> dict:
    """Bytes the largest PE step holds at once: the lookahead step keeps all k variations of the population
    as uint8 images and their float32 embeddings, plus the population itself."""
    pe = params["pe"]
    population = max(population_sizes(params)) * len(_class_names(params))
    k = max(pe["lookahead_degree"], 1)
    image_bytes = _MAX_IMAGE_BYTES
    from privevo.embedders import EMBEDDERS

    dim = EMBEDDERS.trait(params["embedding"]["name"], "dim", key="embedding.name")
    embedding_bytes = 4 * (dim if dim is not None else _MAX_IMAGE_BYTES)  # None: raw pixels, as many as bytes
    lookahead = population * k * (image_bytes + embedding_bytes)
    return {"population": population, "lookahead_variations": population * k,
            "bytes": int(lookahead + population * image_bytes * 3)}


def check_memory(params: dict, *, available: int | None = None) -> None:
    """Refuse a population or lookahead_degree whose lookahead step would not fit in memory."""
    available = available_memory_bytes() if available is None else available
    if available is None:
        return
    estimate = estimate_peak_memory(params)
    if estimate["bytes"] > available:
        raise ParamsError(
            f"params key pe.lookahead_degree / pe.num_samples_per_class: the lookahead step would hold "
            f"{estimate['lookahead_variations']:,} variations and their embeddings, about "
            f"{estimate['bytes'] / 2**30:.1f} GiB, but {available / 2**30:.1f} GiB is available; lower one of them"
        )


def _class_names(params: dict) -> list[str]:
    from privevo.data.private import params_class_names

    return params_class_names(params)
