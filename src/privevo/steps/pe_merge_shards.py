"""`privevo pe-merge-shards`: the class shards of one generation step put back into one population."""

from __future__ import annotations


from privevo.steps import common


def pe_merge_shards(*, parts: list[str], kind: str, out: str) -> None:
    """Put the class shards of one generation step back into one population (or one lookahead array)."""
    from privevo.io.artifacts import load_npz, save_npy
    from privevo.pe.shards import merge_rows

    parts = [load_npz(path) for path in parts]
    merged = merge_rows(parts, total=sum(len(part["positions"]) for part in parts))
    if kind == "lookahead":
        save_npy(out, merged["features"])
    else:
        from privevo.pe.loop import STATE_KEY

        common.save_population(out, merged["images"], merged["labels"], parent_ids=merged["parent_ids"],
                         **common.state_extra(merged.get(STATE_KEY)))
