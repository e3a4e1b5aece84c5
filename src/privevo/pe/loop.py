"""PE's steps over whole populations: initial samples, DP histograms + selection, variation.

Each takes arrays and models and returns arrays; the CLI reads and writes the artifacts.

Populations are class-major: a (N_total, H, W, C) uint8 array with int64 labels, equal N_syn per class.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from privevo.core import seeding
from privevo.pe.histogram import (EmptyHistogramError, NoisyHistogram, check_finite_embeddings, dp_nn_histogram,
                                  matched_threshold, threshold_counts)
from privevo.pe.selection import select
from privevo.pe.noise import NoiseSource

logger = logging.getLogger("privevo.pe.loop")

# The per-image state of an API that varies something other than pixels (apis.base: ``carries_state``),
# stored next to the images in candidates.npz / selected.npz.
STATE_KEY = "api_state"


def carries_state(api) -> bool:
    """Whether ``api`` is told the class and varies a per-image state passed along with the images."""
    return bool(getattr(api, "carries_state", False))


def class_kwargs(api, class_index: int) -> dict:
    """``{"class_index": c}`` for an API that draws class c directly (a class-conditional model), else nothing."""
    return {"class_index": int(class_index)} if getattr(api, "class_conditional", False) else {}


def class_slices(labels: np.ndarray) -> dict[int, np.ndarray]:
    """Indices of each class in ``labels``, in class order."""
    return {int(c): np.flatnonzero(labels == c) for c in np.unique(labels)}


def initial_population(api, *, classes: list[int], num_samples_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """S_0: RANDOM_API(N_syn) for every class, seeded per (class, iteration 0, role random)."""
    images, labels, _ = initial_population_with_state(api, classes=classes, num_samples_per_class=num_samples_per_class,
                                                      seed=seed)
    return images, labels


def initial_population_with_state(api, *, classes: list[int], num_samples_per_class: int, seed: int
                                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """S_0 and, for an API that carries a per-image state (apis.base.carries_state), that state (else None).
    Such an API is told the class it draws for."""
    images, labels, states = [], [], []
    for c in classes:
        stream = seeding.torch_seed(seed, role="random", class_index=c, iteration=0)
        if carries_state(api):
            drawn, state = api.random_with_state(num_samples_per_class, class_index=c, seed=stream, desc=f"S_0 class {c}")
            states.append(state)
        else:
            drawn = api.random(num_samples_per_class, seed=stream, desc=f"S_0 class {c}", **class_kwargs(api, c))
        images.append(drawn)
        labels.append(np.full(num_samples_per_class, c, dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels), (np.concatenate(states) if states else None)


def centred_unit(embeddings: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Rows minus ``centre``, scaled to unit length (L2 nearest neighbours of these are cosine neighbours)."""
    shifted = np.asarray(embeddings, dtype=np.float64) - centre
    norms = np.linalg.norm(shifted, axis=1, keepdims=True)
    return (shifted / np.maximum(norms, 1e-12)).astype(np.float32)


@dataclass(frozen=True)
class NoisyVotes:
    """One iteration's noisy vote counts, one per candidate (aligned with the candidate labels)."""

    counts: np.ndarray
    """float64, in 1/sqrt(m)-weighted units (sensitivity 1): what thresholds and selection read."""
    votes: np.ndarray | None
    """int64, the discrete mechanism's own output in integer votes (counts = votes / sqrt(m)); None when the noise is
    continuous."""


def noisy_histograms(
    private_embeddings: np.ndarray,
    private_labels: np.ndarray,
    candidate_embeddings: np.ndarray,
    candidate_labels: np.ndarray,
    *,
    noise_multiplier: float,
    num_neighbours: int,
    noise_for_class: Callable[[int], NoiseSource],
    backend: str = "auto",
    vote_metric: str = "l2",
    private_name: str = "private embeddings",
    candidate_name: str = "candidate embeddings",
) -> NoisyVotes:
    """The noisy vote counts of one iteration (:class:`NoisyVotes`), one per candidate.

    Class c's private samples vote only for class c's candidates; the classes partition the private set,
    so together the histograms still have L2 sensitivity 1. ``noise_for_class(c)`` gives class c's noise
    source (exact discrete Gaussian unless configured otherwise). Thresholding and selection are post-processing.
    ``vote_metric`` "centred_cosine" votes by cosine similarity after subtracting the mean of class c's candidate
    embeddings (public) from both sides, a hubness reduction that does not change the sensitivity.
    ``private_name`` and ``candidate_name`` (the files) are what a guard's error names.
    """
    if len(private_embeddings) != len(private_labels):
        raise ValueError("private embeddings and labels differ in length")
    # Before any class votes: a bad row in a later class must not leave earlier classes' noise drawn for nothing.
    check_finite_embeddings(candidate_embeddings, name=candidate_name)
    check_finite_embeddings(private_embeddings, name=private_name)
    noisy = np.empty(len(candidate_labels), dtype=np.float64)
    noisy_votes = np.empty(len(candidate_labels), dtype=np.int64)
    discrete = True
    for c, cand_index in class_slices(candidate_labels).items():
        # An empty private class is not logged: that would be a private fact outside the DP release.
        private_c, candidates_c = private_embeddings[private_labels == c], candidate_embeddings[cand_index]
        if vote_metric == "centred_cosine":
            centre = candidates_c.mean(axis=0)
            private_c, candidates_c = centred_unit(private_c, centre), centred_unit(candidates_c, centre)
        elif vote_metric != "l2":
            raise ValueError(f"pe.vote_metric: unknown {vote_metric!r}; known: l2, centred_cosine")
        histogram = dp_nn_histogram(
            private_c,
            candidates_c,
            noise_multiplier=noise_multiplier,
            threshold=0.0,
            noise=noise_for_class(c),
            num_neighbours=num_neighbours,
            backend=backend,
            name=private_name,
            candidate_name=candidate_name,
        )
        noisy[cand_index] = histogram.noisy_counts
        if histogram.noisy_votes is None:
            discrete = False
        else:
            noisy_votes[cand_index] = histogram.noisy_votes
    return NoisyVotes(noisy, noisy_votes if discrete else None)


def select_parents(
    noisy_counts: np.ndarray,
    candidate_labels: np.ndarray,
    *,
    noise_multiplier: float,
    threshold: float,
    selection: str,
    num_samples_per_class: int,
    iteration: int,
    seed: int,
    rank_top: int | None = None,
    reference_noise_multiplier: float | None = None,
    noisy_votes: np.ndarray | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Threshold the noisy counts and pick the parents of S_t, per class, from the noisy counts only.

    A class whose thresholded counts are all zero takes its parents uniformly from its candidates, with a warning
    and ``uniform_fallback`` True in its rows, instead of stopping the run.

    With ``reference_noise_multiplier``, each class's H is :func:`matched_threshold` of ``threshold`` (H at the
    reference's noise) for its own released counts. Returns a frame with one row per candidate (noisy counts
    and the H applied; ``noisy_votes``, the discrete mechanism's integer output, where given) and the selected
    candidate indices (class-major). The selection stream is seeded per
    (class, iteration).
    """
    rows, selected = [], []
    for c, cand_index in class_slices(candidate_labels).items():
        noisy = noisy_counts[cand_index]
        class_threshold = threshold if reference_noise_multiplier is None else matched_threshold(
            noisy, threshold=threshold, noise_multiplier=noise_multiplier,
            reference_noise_multiplier=reference_noise_multiplier)
        histogram = NoisyHistogram(noisy, threshold_counts(noisy, class_threshold), float(noise_multiplier),
                                   float(class_threshold))
        uniform = bool(histogram.thresholded_counts.sum() <= 0)
        if uniform:
            # Every noisy count fell below H (a small class, or a large H): nothing tells the candidates apart, so
            # each is equally likely to be a parent. This reads only the noisy counts: post-processing.
            logger.warning("iteration %d, class %s: every noisy count is below H = %.4g; its parents are drawn "
                           "uniformly from its %d candidates (flagged in histogram.csv and privacy.json)",
                           iteration, c, class_threshold, len(cand_index))
        votes_for_selection = histogram if not uniform else NoisyHistogram(
            noisy, np.ones(len(cand_index)), histogram.noise_multiplier, histogram.threshold)
        try:
            chosen = select(votes_for_selection, num_samples_per_class, method=selection, rank_top=rank_top,
                            rng=seeding.rng(seed, role="selection", class_index=c, iteration=iteration))
        except EmptyHistogramError as exc:
            raise EmptyHistogramError(f"iteration {iteration}, class {c}: {exc}") from exc
        selected.append(cand_index[chosen])
        rows.append(pd.DataFrame({
            "candidate_id": cand_index,
            "class": c,
            **({} if noisy_votes is None else {"noisy_votes": np.asarray(noisy_votes[cand_index], dtype=np.int64)}),
            "noisy_count": histogram.noisy_counts,
            "thresholded_count": histogram.thresholded_counts,
            "selected_count": np.bincount(chosen, minlength=len(cand_index)),
            "threshold": histogram.threshold,
            "uniform_fallback": uniform,
        }))
    return pd.concat(rows, ignore_index=True), np.concatenate(selected)


def variation_population(api, images: np.ndarray, labels: np.ndarray, *, degree: float, iteration: int, seed: int) -> np.ndarray:
    """S_t = VARIATION_API(S'_t, degree_t), seeded per (class, iteration, role variation)."""
    return variation_population_with_state(api, images, labels, degree=degree, iteration=iteration, seed=seed)[0]


def variation_population_with_state(api, images: np.ndarray, labels: np.ndarray, *, degree: float, iteration: int,
                                    seed: int, state: np.ndarray | None = None, role: str = "variation"
                                    ) -> tuple[np.ndarray, np.ndarray | None]:
    """S_t and its per-image state: an API that carries one varies (images, state) together, else state is None.
    ``role`` names the random streams (the release's variations use their own)."""
    stateful = carries_state(api)
    if stateful and state is None:
        raise ValueError(f"the {type(api).__name__} varies a per-image state ({STATE_KEY}) that these images lack")
    out = np.empty_like(images)
    out_state = np.empty_like(state) if stateful else None
    for c, index in class_slices(labels).items():
        stream = seeding.torch_seed(seed, role=role, class_index=c, iteration=iteration)
        desc = f"{role} t={iteration} class {c}" if role == "variation" else f"{role} class {c}"
        if stateful:
            out[index], out_state[index] = api.variation_with_state(images[index], state[index], degree=degree,
                                                                    seed=stream, desc=desc)
        else:
            out[index] = api.variation(images[index], degree=degree, seed=stream, desc=desc, **class_kwargs(api, c))
    return out, out_state


def expand_release(api, images: np.ndarray, labels: np.ndarray, *, per_class: int, degree: float, seed: int,
                   state: np.ndarray | None = None):
    """The released set: each class's final candidates followed by ``per_class - N`` variations of them at
    ``degree``. Post-processing of S_T only (no private data, no privacy cost).

    Children go round-robin over a seeded permutation of the class's candidates, so each candidate has as many
    children as any other, give or take one. Returns ``(images, labels, parents, state)``: ``parents`` indexes
    ``images`` of S_T (a candidate is its own parent), ``state`` the API's per-image state or None.
    """
    parents, is_child = [], []
    for c, index in class_slices(labels).items():
        extra = per_class - len(index)
        if extra < 0:
            raise ValueError(f"pe.release_size: {per_class} per class is below the {len(index)} final candidates")
        order = seeding.rng(seed, role="release", class_index=c).permutation(index)
        parents.append(np.concatenate([index, np.resize(order, extra)]))
        is_child.append(np.arange(per_class) >= len(index))
    parents, is_child = np.concatenate(parents), np.concatenate(is_child)
    out, out_labels = images[parents], labels[parents]
    out_state = None if state is None else state[parents]
    if is_child.any():
        varied, varied_state = variation_population_with_state(
            api, out[is_child], out_labels[is_child], degree=degree, iteration=0, seed=seed,
            state=None if out_state is None else out_state[is_child], role="release")
        out[is_child] = varied
        if out_state is not None:
            out_state[is_child] = varied_state
    return out, out_labels, parents, out_state
