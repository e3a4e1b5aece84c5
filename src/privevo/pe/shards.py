"""Generation split by class into shards (separate jobs), and the merge back into one population.

Variation and lookahead are seeded per (class, iteration), so a shard computes exactly the rows the
unsharded step would; the histogram is never sharded (one release, one noise draw per iteration).
"""

from __future__ import annotations

import numpy as np


def shard_classes(shard: int, shards: int, num_classes: int) -> list[int]:
    """The classes of shard ``shard`` of ``shards``: every shards-th class, starting at ``shard``."""
    if not 1 <= shards <= num_classes:
        raise ValueError(f"shards must lie in 1..{num_classes}, got {shards}")
    if not 0 <= shard < shards:
        raise ValueError(f"shard must lie in 0..{shards - 1}, got {shard}")
    return list(range(shard, num_classes, shards))


def rows_of_classes(labels: np.ndarray, classes: list[int]) -> np.ndarray:
    """Positions (in population order) of the rows whose label is in ``classes``."""
    return np.flatnonzero(np.isin(labels, classes))


def merge_rows(parts: list[dict[str, np.ndarray]], *, total: int) -> dict[str, np.ndarray]:
    """Put each part's arrays back at its ``positions``; every position 0..total-1 must be covered once."""
    positions = np.concatenate([part["positions"] for part in parts])
    if np.sort(positions).tolist() != list(range(total)):
        raise ValueError(f"shards cover positions {sorted(set(positions.tolist()))[:5]}... "
                         f"({positions.size} rows), not each of 0..{total - 1} exactly once")
    merged = {}
    for key in parts[0]:
        if key == "positions":
            continue
        first = parts[0][key]
        out = np.empty((total, *first.shape[1:]), dtype=first.dtype)
        for part in parts:
            out[part["positions"]] = part[key]
        merged[key] = out
    return merged
