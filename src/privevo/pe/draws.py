"""The store of noisy histogram draws: a draw that reached disk is reused, never drawn again.

With noise from the OS entropy, drawing a histogram twice is two releases of the same private data, and
the accountant counts only one. Snakemake deletes the outputs of a job it considers incomplete (a run
killed between the histogram and its CSV, say), so the noisy counts are first written here, outside the
job's declared outputs, keyed by what they depend on. A rerun with the same inputs finds them and only
redoes the post-processing (threshold, selection), which costs no privacy.

The key is built from public things only (candidates, settings, where the private embeddings live and
when they were written), never from the private data's bytes: the draws are part of the release, and a
hash of the private embeddings would be an un-noised fact about them.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Callable

import numpy as np

from privevo.io.artifacts import load_npz, save_npz
from privevo.pe.loop import NoisyVotes

logger = logging.getLogger("privevo.pe.draws")


def draw_fingerprint(*, arrays: dict[str, np.ndarray], settings: dict) -> str:
    """sha256 over the arrays' bytes, shapes and dtypes and the JSON of ``settings``."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
        digest.update(array.data)
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return digest.hexdigest()


def histogram_draw_fingerprint(candidate_embeddings: np.ndarray, candidate_labels: np.ndarray, *, iteration: int,
                               noise_multiplier: float, num_neighbours: int, noise_source: str,
                               private_embeddings_path: str | Path, private_settings: dict) -> str:
    """The key of one iteration's noisy counts. ``private_settings`` are the params that decide the private
    embeddings (data and embedding sections); the file's path and mtime tell a re-embedding apart."""
    path = Path(private_embeddings_path)
    settings = {"iteration": iteration, "noise_multiplier": noise_multiplier, "num_nearest_neighbours": num_neighbours,
                "noise": noise_source, "private_embeddings": str(path.resolve()),
                "private_embeddings_mtime_ns": path.stat().st_mtime_ns, "private_settings": private_settings}
    return draw_fingerprint(arrays={"candidate_embeddings": candidate_embeddings, "candidate_labels": candidate_labels},
                            settings=settings)


def draw_path(store_dir: str | Path, fingerprint: str) -> Path:
    return Path(store_dir) / f"noisy_counts_{fingerprint[:20]}.npz"


class RedrawRefusedError(SystemExit):
    """An iteration already holds a draw made from other inputs; drawing again would be a second release."""


def load_or_draw(store_dir: str | Path, fingerprint: str, draw: Callable[..., NoisyVotes], *,
                 charge: Callable[[], dict] | None = None, complete: Callable[[dict, Path], None] | None = None,
                 allow_redraw: bool = False, prepare: Callable[[], tuple] | None = None) -> tuple[NoisyVotes, bool]:
    """The stored noisy counts for ``fingerprint``, or a fresh ``draw()`` saved atomically before it is used.

    One draw per (run, iteration): when the store already holds a draw made from other inputs (re-embedded private
    data, other candidates) the job stops, unless ``allow_redraw``. A fresh draw is paid for first: ``charge()``
    appends the privacy odometer's charge (fsynced) and returns it, the draw is stored with the charge's id, and
    ``complete(charge, path)`` records that it reached disk. Reusing a stored draw charges nothing.
    Under discrete noise the store holds the mechanism's integer output (``noisy_votes``) and the weighted counts
    derived from it. ``prepare()`` (read and check the private inputs) runs before the charge and its result is
    ``draw``'s arguments. Returns (noisy votes, reused).
    """
    store_dir = Path(store_dir)
    path = draw_path(store_dir, fingerprint)
    if path.exists():
        stored = load_npz(path)
        if str(stored.get("fingerprint")) == fingerprint:
            logger.info("reusing the noisy counts already drawn in %s (a second draw would be a second release)",
                        path)
            return NoisyVotes(stored["noisy_counts"], stored.get("noisy_votes")), True
    others = sorted(p for p in store_dir.glob("noisy_counts_*.npz") if p != path)
    if others and not allow_redraw:
        raise RedrawRefusedError(
            f"privevo pe-histogram: {store_dir} already holds a noisy draw ({others[0].name}) made from other inputs "
            "(re-embedded private data or changed candidates); a new draw would be a second release of the same "
            "private data. Restore the inputs, or set privacy.allow_redraw: true to draw again and charge it")
    if others:
        logger.warning("privacy.allow_redraw: drawing iteration %s again beside %d earlier draw(s); both are charged "
                       "and both stay in the release", store_dir.parent.name, len(others))
    # Inputs are read and checked before the charge, so a bad input (labels, non-finite rows) charges nothing.
    inputs = prepare() if prepare is not None else ()
    entry = charge() if charge is not None else None
    drawn = draw(*inputs)
    votes = {} if drawn.votes is None else {"noisy_votes": np.asarray(drawn.votes, dtype=np.int64)}
    paid = {} if entry is None else {"odometer_charge": np.array(entry["id"])}
    save_npz(path, noisy_counts=np.asarray(drawn.counts, dtype=np.float64), fingerprint=np.array(fingerprint),
             **votes, **paid)
    if entry is not None and complete is not None:
        complete(entry, path)
    return drawn, False


def stored_draws(iteration_dir: str | Path) -> list[dict]:
    """The draws an iteration folder holds, each with the odometer charge that paid for it (None before the
    odometer existed)."""
    found = []
    for path in sorted(Path(iteration_dir, "draws").glob("noisy_counts_*.npz")):
        stored = load_npz(path)
        charge = stored.get("odometer_charge")
        found.append({"draw": str(path), "odometer_charge": None if charge is None else str(charge)})
    return found
