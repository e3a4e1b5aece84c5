"""Generation split by class into shards merges back into the unsharded population."""

import numpy as np
import pytest

from privevo.pe.shards import merge_rows, rows_of_classes, shard_classes


def test_shards_partition_the_classes():
    shards = [shard_classes(s, 3, 10) for s in range(3)]
    assert shards == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    with pytest.raises(ValueError, match="shard must lie"):
        shard_classes(3, 3, 10)
    with pytest.raises(ValueError, match="shards must lie"):
        shard_classes(0, 11, 10)


def test_merge_restores_population_order():
    labels = np.repeat(np.arange(10), 4)
    images = np.arange(40 * 4, dtype=np.uint8).reshape(40, 2, 2, 1)
    parts = []
    for s in range(3):
        rows = rows_of_classes(labels, shard_classes(s, 3, 10))
        parts.append({"images": images[rows], "labels": labels[rows], "positions": rows})
    merged = merge_rows(parts, total=40)
    np.testing.assert_array_equal(merged["images"], images)
    np.testing.assert_array_equal(merged["labels"], labels)
    with pytest.raises(ValueError, match="exactly once"):
        merge_rows(parts[:2], total=40)
