"""Empirical privacy audit of the DP nearest-neighbour histogram: an estimate of mu and a lower bound on epsilon.

The audit runs the run's own histogram path (:func:`privevo.pe.loop.noisy_histograms`: the per-class loop, m-NN
votes, the configured vote metric and the noise source the run draws from, exact discrete Gaussian by default) many
times on two neighbouring private sets, D and D plus one worst-case canary, and tries to tell them apart from the
released noisy counts alone. The canary is the embedding of the audited class's candidate that D votes for least,
so its own votes stand out most. The direction in which the canary moves the release is measured once through the
same path at zero noise (so a sensitivity bug that scales the votes scales this shift too), and each trial's
statistic is the released counts projected on it: the optimal linear test between two Gaussians.

Two verdicts, and the audit fails when either shows more privacy loss than accounted:

- mu: the standardised mean difference of the two statistics estimates the Gaussian trade-off's mu of one release
  (accounted: 1/sigma at sensitivity 1), with a two-sided normal confidence interval; it fails when the whole
  interval lies above the accounted mu. At the default (sigma 10.55, 2,000 trials) a sqrt(m) sensitivity error,
  mu sqrt(10)/sigma = 0.30 against 0.095, fails it by several standard errors.
- epsilon: on one half of the trials the audit picks the threshold on the statistic that best separates D from D';
  on the other half it bounds the false and true positive rates of "statistic > threshold" with one-sided
  Clopper-Pearson intervals (Bonferroni-split confidence) and turns them into a lower bound on epsilon through
  TPR <= e^eps FPR + delta and 1 - FPR <= e^eps (1 - TPR) + delta; it fails above the accounted epsilon. This
  bound is weak at small mu (it cannot see a sqrt(10) error at sigma 10.55): the mu test is the sharp one.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import stats
from tqdm.auto import tqdm

from privevo.accountants import gdp as accounting
from privevo.pe import histogram, loop
from privevo.pe.noise import DiscreteGaussianNoise, NoiseSource, ZeroNoise

logger = logging.getLogger("privevo.evaluation.audit")

METHOD = (
    "the run's histogram path (per-class loop, m-NN votes, vote metric, noise source) on D and D plus one "
    "worst-case canary; mu estimated as the standardised mean difference of the released counts projected on the "
    "canary's shift, with a two-sided normal confidence interval (fails when it lies above the accounted mu); and a "
    "threshold attack on the same statistic, threshold chosen on half of the trials, one-sided Clopper-Pearson "
    "bounds on FPR and TPR from the other half (Bonferroni split), converted to an epsilon lower bound by the "
    "(epsilon, delta)-DP inequalities (fails above the accounted epsilon)"
)

MAX_CANDIDATES_PER_CLASS = 200
"""Candidates per class the audit keeps: each trial draws noise for every bin, twice, and the exact sampler costs
about 20 microseconds a bin; any candidate set audits the same mechanism."""


def subsample_private(private_embeddings: np.ndarray, *, max_private: int, selection_seed: int) -> np.ndarray:
    """At most ``max_private`` rows, the same ones for the same seed: DP holds for every D, so any subset
    is as valid an audit target and keeps each trial fast."""
    if max_private < 1:
        raise ValueError(f"max_private must be >= 1, got {max_private}")
    if len(private_embeddings) <= max_private:
        return private_embeddings
    rows = np.random.default_rng(selection_seed).choice(len(private_embeddings), size=max_private, replace=False)
    return private_embeddings[np.sort(rows)]


def choose_canary(
    private_embeddings: np.ndarray,
    candidate_embeddings: np.ndarray,
    *,
    num_neighbours: int,
    backend: str,
) -> tuple[np.ndarray, int]:
    """The canary (1, D) float32 and the candidate it targets: the candidate D votes for least, whose own
    embedding is then its nearest candidate, so the canary's vote stands out most against D's."""
    votes = histogram.clean_votes(private_embeddings, candidate_embeddings, num_neighbours=num_neighbours,
                                  backend=backend)
    target = int(np.argmin(votes))
    canary = np.ascontiguousarray(candidate_embeddings[target : target + 1], dtype=np.float32)
    return canary, target


@dataclass(frozen=True)
class AuditedPath:
    """The histogram path under audit: candidates with their classes, and how the run votes and draws noise."""

    candidate_embeddings: np.ndarray
    candidate_labels: np.ndarray
    num_neighbours: int
    vote_metric: str
    backend: str
    noise_for_class: Callable[[int], NoiseSource]

    def release(self, private: np.ndarray, private_labels: np.ndarray, *, noise_multiplier: float,
                noise_for_class: Callable[[int], NoiseSource] | None = None) -> np.ndarray:
        """The released (weighted) noisy counts of every class, by :func:`privevo.pe.loop.noisy_histograms`."""
        return loop.noisy_histograms(private, private_labels, self.candidate_embeddings, self.candidate_labels,
                                     noise_multiplier=noise_multiplier, num_neighbours=self.num_neighbours,
                                     noise_for_class=noise_for_class or self.noise_for_class,
                                     backend=self.backend, vote_metric=self.vote_metric).counts

    @property
    def discrete(self) -> bool:
        return bool(getattr(self.noise_for_class(0), "discrete", False))


def release_shift(path: AuditedPath, private: np.ndarray, private_labels: np.ndarray, neighbour: np.ndarray,
                  neighbour_labels: np.ndarray) -> np.ndarray:
    """How the released counts move from D to D', read from the run's path at zero noise."""
    zero = ZeroNoise(discrete=path.discrete)
    return (path.release(neighbour, neighbour_labels, noise_multiplier=0.0, noise_for_class=lambda c: zero)
            - path.release(private, private_labels, noise_multiplier=0.0, noise_for_class=lambda c: zero))


@contextlib.contextmanager
def _single_threaded_faiss():
    """faiss' OpenMP threads, capped at one while the trials run, then restored.

    Each trial's search is small (a thousand queries), and OpenMP's spinning workers collapse when
    another process holds a core: measured on 2 cores, 20 ms a search with 2 threads against 5 ms with one
    (2 ms against 4 ms on an idle machine). The search is exact either way, so the output is unchanged.
    """
    try:
        import faiss
    except ImportError:
        yield
        return
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def attack_statistics(path: AuditedPath, private: np.ndarray, private_labels: np.ndarray, neighbour: np.ndarray,
                      neighbour_labels: np.ndarray, direction: np.ndarray, *, noise_multiplier: float,
                      num_trials: int) -> tuple[np.ndarray, np.ndarray]:
    """Per trial, the projection of the released noisy counts on ``direction``, for D and for D'.

    Every trial runs the full path: the votes are deterministic given D, but re-running them is the point of an
    audit of the code path.
    """
    without_canary = np.empty(num_trials)
    with_canary = np.empty(num_trials)
    with _single_threaded_faiss():
        for trial in tqdm(range(num_trials), desc="privacy audit", unit="trial", leave=False):
            for rows, labels, out in ((private, private_labels, without_canary),
                                      (neighbour, neighbour_labels, with_canary)):
                out[trial] = path.release(rows, labels, noise_multiplier=noise_multiplier) @ direction
    return without_canary, with_canary


def clopper_pearson_lower(successes, trials: int, *, confidence: float):
    """One-sided exact lower bound on a binomial proportion at ``confidence``."""
    successes = np.asarray(successes)
    bound = stats.beta.ppf(1.0 - confidence, np.maximum(successes, 1), trials - successes + 1)
    return np.where(successes == 0, 0.0, bound)


def clopper_pearson_upper(successes, trials: int, *, confidence: float):
    """One-sided exact upper bound on a binomial proportion at ``confidence``."""
    successes = np.asarray(successes)
    bound = stats.beta.ppf(confidence, successes + 1, np.maximum(trials - successes, 1))
    return np.where(successes == trials, 1.0, bound)


def epsilon_from_rates(tpr_lower, fpr_upper, *, delta: float):
    """The smallest epsilon that (epsilon, delta)-DP allows for a test with TPR >= tpr_lower and
    FPR <= fpr_upper, from both the rejection and the acceptance region; 0 when nothing is shown."""
    tpr_lower, fpr_upper = np.asarray(tpr_lower, float), np.asarray(fpr_upper, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rejection = np.log(np.maximum(tpr_lower - delta, 0.0) / fpr_upper)
        acceptance = np.log(np.maximum(1.0 - fpr_upper - delta, 0.0) / (1.0 - tpr_lower))
    return np.maximum(np.maximum(rejection, acceptance), 0.0)


def _count_above(statistics: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    return len(statistics) - np.searchsorted(np.sort(statistics), thresholds, side="right")


def bound_at_thresholds(without_canary: np.ndarray, with_canary: np.ndarray, thresholds, *, delta: float,
                        confidence: float) -> dict:
    """Rates of "statistic > threshold" and the epsilon lower bound they give, for each threshold.

    The two Clopper-Pearson bounds share the miss probability 1 - confidence (Bonferroni), so both hold
    together with probability >= confidence, and so does the bound from either DP inequality.
    """
    thresholds = np.atleast_1d(np.asarray(thresholds, float))
    per_bound = 1.0 - (1.0 - confidence) / 2.0
    false_positives = _count_above(without_canary, thresholds)
    true_positives = _count_above(with_canary, thresholds)
    fpr_upper = clopper_pearson_upper(false_positives, len(without_canary), confidence=per_bound)
    tpr_lower = clopper_pearson_lower(true_positives, len(with_canary), confidence=per_bound)
    return {
        "fpr": false_positives / len(without_canary),
        "tpr": true_positives / len(with_canary),
        "fpr_upper": fpr_upper,
        "tpr_lower": tpr_lower,
        "epsilon": epsilon_from_rates(tpr_lower, fpr_upper, delta=delta),
    }


def choose_threshold(without_canary: np.ndarray, with_canary: np.ndarray, *, delta: float,
                     confidence: float) -> float:
    """The threshold, among all observed values, with the highest epsilon bound on these trials; where
    none shows anything, the one that separates the two sets best (largest TPR - FPR)."""
    thresholds = np.unique(np.concatenate([without_canary, with_canary]))
    scored = bound_at_thresholds(without_canary, with_canary, thresholds, delta=delta, confidence=confidence)
    best = np.lexsort((-(scored["tpr"] - scored["fpr"]), -scored["epsilon"]))[0]
    return float(thresholds[best])


def gdp_mu_estimate(without_canary: np.ndarray, with_canary: np.ndarray) -> tuple[float, float]:
    """mu of the Gaussian trade-off the trials show, (mean' - mean) / pooled std, and its standard error."""
    n0, n1 = len(without_canary), len(with_canary)
    pooled_var = ((n0 - 1) * without_canary.var(ddof=1) + (n1 - 1) * with_canary.var(ddof=1)) / (n0 + n1 - 2)
    mu = float((with_canary.mean() - without_canary.mean()) / math.sqrt(pooled_var))
    # Delta method for a standardised mean difference (Hedges and Olkin).
    stderr = math.sqrt(1.0 / n0 + 1.0 / n1 + mu * mu / (2.0 * (n0 + n1)))
    return mu, stderr


def mu_interval(mu: float, stderr: float, *, confidence: float) -> tuple[float, float]:
    """Two-sided normal confidence interval of the mu estimate at ``confidence``."""
    half = float(stats.norm.ppf(0.5 + confidence / 2.0)) * stderr
    return mu - half, mu + half


def _check_arguments(*, noise_multiplier: float, delta: float, num_trials: int, confidence: float,
                     noise_scale: float) -> None:
    if not (math.isfinite(noise_multiplier) and noise_multiplier > 0):
        raise ValueError(f"noise_multiplier must be positive, got {noise_multiplier!r}")
    if not 0 < delta < 1:
        raise ValueError(f"delta must lie strictly between 0 and 1, got {delta!r}")
    if num_trials < 4:
        raise ValueError(f"num_trials must be >= 4 (two halves of two), got {num_trials}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")
    if not (math.isfinite(noise_scale) and noise_scale > 0):
        raise ValueError(f"noise_scale must be positive, got {noise_scale!r}")


def run_audit(
    private_embeddings: np.ndarray,
    candidate_embeddings: np.ndarray,
    *,
    noise_multiplier: float,
    threshold: float,
    delta: float,
    candidate_labels: np.ndarray | None = None,
    audited_class: int = 0,
    num_neighbours: int = 1,
    num_trials: int = 2000,
    confidence: float = 0.95,
    noise_scale: float = 1.0,
    max_private: int = 1000,
    backend: str = "auto",
    selection_seed: int = 0,
    noise: NoiseSource | None = None,
    noise_for_class: Callable[[int], NoiseSource] | None = None,
    vote_metric: str = "l2",
) -> dict:
    """Audit one histogram release at ``noise_multiplier``; a JSON-ready record of the mu estimate and the bound.

    ``private_embeddings`` (D) vote as ``audited_class``; ``candidate_labels`` (default: all ``audited_class``) put
    the candidates in classes as the run does. ``noise_for_class(c)`` is the run's noise source of class c (default:
    ``noise`` for every class, else a fresh exact :class:`~privevo.pe.noise.DiscreteGaussianNoise`).
    ``noise_scale`` multiplies the noise the mechanism really adds while the accounted values stay those of
    ``noise_multiplier``: it plays an implementation that adds too little noise. ``threshold`` is recorded only:
    the released counts are thresholded afterwards, by post-processing.
    """
    _check_arguments(noise_multiplier=noise_multiplier, delta=delta, num_trials=num_trials,
                     confidence=confidence, noise_scale=noise_scale)
    started = time.perf_counter()
    if noise_for_class is None:
        fixed = noise if noise is not None else DiscreteGaussianNoise()
        noise_for_class = lambda c: fixed  # noqa: E731
    candidates = np.ascontiguousarray(candidate_embeddings, dtype=np.float32)
    labels = (np.full(len(candidates), audited_class, dtype=np.int64) if candidate_labels is None
              else np.asarray(candidate_labels, dtype=np.int64))
    if len(labels) != len(candidates):
        raise ValueError(f"{len(candidates)} candidates but {len(labels)} candidate labels")
    if not (labels == audited_class).any():
        raise ValueError(f"no candidate of the audited class {audited_class}")
    path = AuditedPath(candidates, labels, int(num_neighbours), vote_metric, backend, noise_for_class)
    private = np.ascontiguousarray(
        subsample_private(private_embeddings, max_private=max_private, selection_seed=selection_seed),
        dtype=np.float32)
    private_labels = np.full(len(private), audited_class, dtype=np.int64)
    audited = np.flatnonzero(labels == audited_class)
    class_private, class_candidates = private, candidates[audited]
    if vote_metric == "centred_cosine":
        centre = class_candidates.mean(axis=0)
        class_private, class_candidates = loop.centred_unit(private, centre), loop.centred_unit(class_candidates,
                                                                                                  centre)
    _, target_in_class = choose_canary(class_private, class_candidates, num_neighbours=num_neighbours,
                                       backend=backend)
    target = int(audited[target_in_class])
    canary = np.ascontiguousarray(candidates[target : target + 1], dtype=np.float32)
    neighbour = np.concatenate([private, canary])
    neighbour_labels = np.concatenate([private_labels, [audited_class]])
    shift = release_shift(path, private, private_labels, neighbour, neighbour_labels)
    shift_norm = float(np.linalg.norm(shift))
    if shift_norm == 0:
        raise RuntimeError("the canary does not change the clean release; nothing to audit")
    mechanism_sigma = noise_multiplier * noise_scale
    source = noise_for_class(audited_class)
    logger.info("auditing sigma=%g (mechanism adds %g), H=%g: %d stand-in private, %d candidates in %d classes, canary "
                "on candidate %d, shift norm %.4g, %d trials, noise %s", noise_multiplier, mechanism_sigma, threshold,
                len(private), len(candidates), len(np.unique(labels)), target, shift_norm, num_trials, source.name)

    without_canary, with_canary = attack_statistics(
        path, private, private_labels, neighbour, neighbour_labels, shift / shift_norm,
        noise_multiplier=mechanism_sigma, num_trials=num_trials)
    # Choosing the threshold on the trials that also bound the rates would overstate the bound.
    half = num_trials // 2
    tau = choose_threshold(without_canary[:half], with_canary[:half], delta=delta, confidence=confidence)
    held_out = bound_at_thresholds(without_canary[half:], with_canary[half:], tau, delta=delta,
                                   confidence=confidence)
    epsilon_lower_bound = float(held_out["epsilon"][0])
    accounted = accounting.epsilon_for_noise_multiplier(noise_multiplier=noise_multiplier, delta=delta,
                                                         num_iterations=1)
    mu, mu_stderr = gdp_mu_estimate(without_canary, with_canary)
    mu_low, mu_high = mu_interval(mu, mu_stderr, confidence=confidence)
    mu_accounted = 1.0 / float(noise_multiplier)
    mu_passed = bool(mu_low <= mu_accounted)
    epsilon_passed = bool(epsilon_lower_bound <= accounted)
    record = {
        "passed": mu_passed and epsilon_passed,
        "mu_estimate": mu,
        "mu_estimate_stderr": mu_stderr,
        "mu_interval": [mu_low, mu_high],
        "mu_accounted": mu_accounted,
        "mu_passed": mu_passed,
        "epsilon_lower_bound": epsilon_lower_bound,
        "accounted_epsilon_one_release": float(accounted),
        "epsilon_passed": epsilon_passed,
        "confidence": float(confidence),
        "delta": float(delta),
        "num_trials": int(num_trials),
        "num_trials_threshold_choice": int(half),
        "num_trials_bound": int(num_trials - half),
        "threshold_tau": tau,
        "tpr": float(held_out["tpr"][0]),
        "fpr": float(held_out["fpr"][0]),
        "tpr_lower": float(held_out["tpr_lower"][0]),
        "fpr_upper": float(held_out["fpr_upper"][0]),
        "noise_multiplier": float(noise_multiplier),
        "noise_scale": float(noise_scale),
        "histogram_threshold": float(threshold),
        "num_private": int(len(private)),
        "num_candidates": int(len(candidates)),
        "num_classes": int(len(np.unique(labels))),
        "num_neighbours": int(num_neighbours),
        "vote_metric": vote_metric,
        "audited_class": int(audited_class),
        "canary_candidate_index": target,
        "shift_norm": shift_norm,
        "noise_source": source.name,
        "noise_discrete": path.discrete,
        "method": METHOD,
        "seconds": time.perf_counter() - started,
    }
    logger.info("audit: mu %.4g, %.0f%% interval [%.4g, %.4g] (accounted %.4g); epsilon >= %.4g (accounted %.4g for "
                "one release): %s, %.1f s", mu, 100 * confidence, mu_low, mu_high, mu_accounted, epsilon_lower_bound,
                accounted, "passed" if record["passed"] else "FAILED", record["seconds"])
    return record


def stand_in_sets(lookahead_embeddings: np.ndarray, labels: np.ndarray, *, audited_class: int = 0,
                  max_candidates_per_class: int = MAX_CANDIDATES_PER_CLASS, selection_seed: int = 0
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Public stand-ins for the audit, so it reads no private data: D = S_0's lookahead embeddings of every class
    but the audited one, voting as the audited class; candidates = the audited class and the next one (so the
    per-class loop runs over two classes), at most ``max_candidates_per_class`` each (a seeded choice).

    The guarantee must hold for every D, so a public D audits the same mechanism, and the result can be
    printed in the privacy report without spending privacy. Returns (D, candidates, candidate labels).
    """
    if len(lookahead_embeddings) != len(labels):
        raise ValueError(f"{len(lookahead_embeddings)} embeddings but {len(labels)} labels")
    labels = np.asarray(labels)
    audited = labels == audited_class
    if not audited.any() or audited.all():
        raise ValueError(f"the audit needs candidates of class {audited_class} and of at least one other class")
    classes = np.unique(labels)
    other = int(classes[(np.searchsorted(classes, audited_class) + 1) % len(classes)])
    rng = np.random.default_rng(selection_seed)
    keep = []
    for c in (audited_class, other):
        rows = np.flatnonzero(labels == c)
        if len(rows) > max_candidates_per_class:
            rows = np.sort(rng.choice(rows, size=max_candidates_per_class, replace=False))
        keep.append(rows)
    keep = np.concatenate(keep)
    return lookahead_embeddings[~audited], lookahead_embeddings[keep], labels[keep]
