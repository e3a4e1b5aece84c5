"""`privevo eval-reference-stats`: the private set's feature statistics, the FD's reference."""

from __future__ import annotations



def eval_reference_stats(*, labels: str, out: str, embeddings: str) -> None:
    from privevo.io.artifacts import load_npy
    from privevo.evaluation.fd_curve import reference_stats, save_stats

    save_stats(out, reference_stats(load_npy(embeddings), load_npy(labels)))
