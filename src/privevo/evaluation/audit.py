"""Empirical privacy audit of the DP nearest-neighbour histogram: a lower bound on epsilon from an attack.

The audit runs the real mechanism (:func:`privevo.histogram.dp_nn_histogram`: nearest-neighbour votes,
Gaussian noise, threshold) many times on two neighbouring private sets, D and D plus one worst-case
canary, and tries to tell them apart from the released noisy counts alone. The canary is the embedding
of the candidate that D votes for least, so it alone moves one candidate's count. The direction in which
the canary moves the release is measured once through the code path at zero noise (so a sensitivity bug
that scales the votes scales this shift too), and each trial's statistic is the noisy counts projected on
it: the optimal linear test between two Gaussians. On one half of the trials the audit picks the threshold
on that statistic that best separates D from D'; on the other half it bounds the false and true positive
rates of "statistic > threshold" with one-sided Clopper-Pearson intervals (Bonferroni-split confidence)
and turns them into a lower bound on epsilon through the (epsilon, delta)-DP inequalities
TPR <= e^eps FPR + delta and 1 - FPR <= e^eps (1 - TPR) + delta. A correct implementation keeps that
bound below the accounted epsilon of one release; too little noise or a wrong sensitivity pushes it above.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time

import numpy as np
from scipy import stats
from tqdm.auto import tqdm

from privevo.accountants import gdp as accounting
from privevo.pe import histogram
from privevo.pe.noise import EntropyNoise, NoiseSource

logger = logging.getLogger("privevo.evaluation.audit")

METHOD = (
    "threshold attack on the projection of the noisy counts onto the canary's shift (D vs D plus one "
    "worst-case canary), threshold chosen on half of the trials, one-sided Clopper-Pearson bounds on FPR "
    "and TPR from the other half (Bonferroni split of the confidence), converted to an epsilon lower bound "
    "by the (epsilon, delta)-DP inequalities"
)


class _ZeroNoise:
    """Noise of exactly zero: runs the mechanism's code path to read its clean output."""

    name = "zero"
    description = "no noise (audit only: measures the shift a canary causes)"

    def gaussian(self, sigma: float, size: int) -> np.ndarray:
        return np.zeros(size, dtype=np.float64)


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


def release_shift(
    private_embeddings: np.ndarray,
    neighbour_embeddings: np.ndarray,
    candidate_embeddings: np.ndarray,
    *,
    threshold: float,
    num_neighbours: int,
    backend: str,
) -> np.ndarray:
    """How the released counts move from D to D', read from the mechanism itself at zero noise."""
    def noiseless(private: np.ndarray) -> np.ndarray:
        return histogram.dp_nn_histogram(private, candidate_embeddings, noise_multiplier=0.0, threshold=threshold,
                                         noise=_ZeroNoise(), num_neighbours=num_neighbours,
                                         backend=backend).noisy_counts

    return noiseless(neighbour_embeddings) - noiseless(private_embeddings)


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


def attack_statistics(
    private_embeddings: np.ndarray,
    neighbour_embeddings: np.ndarray,
    candidate_embeddings: np.ndarray,
    direction: np.ndarray,
    *,
    noise_multiplier: float,
    threshold: float,
    num_neighbours: int,
    backend: str,
    num_trials: int,
    noise: NoiseSource | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per trial, the projection of the released noisy counts on ``direction``, for D and for D'.

    Every trial runs the full mechanism: the votes are deterministic given D, but re-running them is the
    point of an audit of the code path.
    """
    without_canary = np.empty(num_trials)
    with_canary = np.empty(num_trials)
    with _single_threaded_faiss():
        for trial in tqdm(range(num_trials), desc="privacy audit", unit="trial", leave=False):
            for private, out in ((private_embeddings, without_canary), (neighbour_embeddings, with_canary)):
                released = histogram.dp_nn_histogram(
                    private, candidate_embeddings, noise_multiplier=noise_multiplier, threshold=threshold,
                    noise=noise if noise is not None else EntropyNoise(), num_neighbours=num_neighbours,
                    backend=backend)
                out[trial] = released.noisy_counts @ direction
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
    num_neighbours: int = 1,
    num_trials: int = 2000,
    confidence: float = 0.95,
    noise_scale: float = 1.0,
    max_private: int = 1000,
    backend: str = "auto",
    selection_seed: int = 0,
    noise: NoiseSource | None = None,
) -> dict:
    """Audit one histogram release at ``noise_multiplier``; a JSON-ready record of the lower bound.

    ``noise_scale`` multiplies the noise the mechanism really adds while the accounted epsilon stays that
    of ``noise_multiplier``: it plays an implementation that adds too little noise. ``noise`` defaults to a
    fresh :class:`~privevo.noise.EntropyNoise` per histogram.
    """
    _check_arguments(noise_multiplier=noise_multiplier, delta=delta, num_trials=num_trials,
                     confidence=confidence, noise_scale=noise_scale)
    started = time.perf_counter()
    candidates = np.ascontiguousarray(candidate_embeddings, dtype=np.float32)
    private = np.ascontiguousarray(
        subsample_private(private_embeddings, max_private=max_private, selection_seed=selection_seed),
        dtype=np.float32)
    canary, target = choose_canary(private, candidates, num_neighbours=num_neighbours, backend=backend)
    neighbour = np.concatenate([private, canary])
    shift = release_shift(private, neighbour, candidates, threshold=threshold, num_neighbours=num_neighbours,
                          backend=backend)
    shift_norm = float(np.linalg.norm(shift))
    if shift_norm == 0:
        raise RuntimeError("the canary does not change the clean release; nothing to audit")
    mechanism_sigma = noise_multiplier * noise_scale
    logger.info("auditing sigma=%g (mechanism adds %g), H=%g: %d private, %d candidates, canary on candidate %d, "
                "shift norm %.4g, %d trials", noise_multiplier, mechanism_sigma, threshold, len(private),
                len(candidates), target, shift_norm, num_trials)

    without_canary, with_canary = attack_statistics(
        private, neighbour, candidates, shift / shift_norm, noise_multiplier=mechanism_sigma,
        threshold=threshold, num_neighbours=num_neighbours, backend=backend, num_trials=num_trials, noise=noise)
    # Choosing the threshold on the trials that also bound the rates would overstate the bound.
    half = num_trials // 2
    tau = choose_threshold(without_canary[:half], with_canary[:half], delta=delta, confidence=confidence)
    held_out = bound_at_thresholds(without_canary[half:], with_canary[half:], tau, delta=delta,
                                   confidence=confidence)
    epsilon_lower_bound = float(held_out["epsilon"][0])
    accounted = accounting.epsilon_for_noise_multiplier(noise_multiplier=noise_multiplier, delta=delta,
                                                         num_iterations=1)
    mu, mu_stderr = gdp_mu_estimate(without_canary, with_canary)
    record = {
        "epsilon_lower_bound": epsilon_lower_bound,
        "confidence": float(confidence),
        "accounted_epsilon_one_release": float(accounted),
        "passed": bool(epsilon_lower_bound <= accounted),
        "delta": float(delta),
        "mu_estimate": mu,
        "mu_estimate_stderr": mu_stderr,
        "mu_accounted": 1.0 / float(noise_multiplier),
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
        "num_neighbours": int(num_neighbours),
        "canary_candidate_index": target,
        "shift_norm": shift_norm,
        "noise_source": (noise if noise is not None else EntropyNoise()).name,
        "method": METHOD,
        "seconds": time.perf_counter() - started,
    }
    logger.info("audit: epsilon >= %.4g at %.0f%% confidence (accounted %.4g for one release): %s; mu %.4g +- %.2g "
                "(accounted %.4g), %.1f s", epsilon_lower_bound, 100 * confidence, accounted,
                "passed" if record["passed"] else "FAILED", mu, mu_stderr, record["mu_accounted"], record["seconds"])
    return record


def stand_in_sets(lookahead_embeddings: np.ndarray, labels: np.ndarray, *, audited_class: int = 0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Public stand-ins for the audit, so it reads no private data: D = S_0's lookahead embeddings of every
    other class, voting over the audited class's candidates.

    The guarantee must hold for every D, so a public D audits the same mechanism, and the result can be
    printed in the privacy report without spending privacy.
    """
    if len(lookahead_embeddings) != len(labels):
        raise ValueError(f"{len(lookahead_embeddings)} embeddings but {len(labels)} labels")
    audited = labels == audited_class
    if not audited.any() or audited.all():
        raise ValueError(f"the audit needs candidates of class {audited_class} and of at least one other class")
    return lookahead_embeddings[~audited], lookahead_embeddings[audited]
