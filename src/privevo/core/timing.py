"""Wall-time accounting of model forward passes, so benchmarks can report the share spent in models."""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from typing import Iterator

_totals: dict[str, float] = defaultdict(float)


@contextlib.contextmanager
def model_time(kind: str) -> Iterator[None]:
    """Add the wall time of the enclosed block to the ``kind`` total (e.g. "unet", "embedder")."""
    start = time.perf_counter()
    try:
        yield
    finally:
        _totals[kind] += time.perf_counter() - start


def model_totals() -> dict[str, float]:
    """Seconds spent in each kind of model forward pass since start (or the last reset)."""
    return dict(_totals)


def reset() -> None:
    _totals.clear()
