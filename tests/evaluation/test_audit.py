import json
import math

import numpy as np
import pytest
from scipy import stats

from privevo.evaluation import audit
from privevo.pe import histogram, loop

DELTA = 1e-5
SIGMA = 10.5518  # the noise multiplier of the default config
NUM_TRIALS = 2000


class SeededNoise:
    """A reproducible continuous noise source, so that the statistical assertions below cannot flake."""

    name = "seeded-test"
    description = "test only"
    discrete = False

    def __init__(self, seed: int):
        self._rng = np.random.default_rng(seed)

    def gaussian(self, sigma: float, size: int) -> np.ndarray:
        return self._rng.normal(0.0, sigma, size=size)


class SeededIntegerNoise(SeededNoise):
    """A reproducible stand-in for the exact sampler: integer noise of about the right scale on integer votes."""

    name = "seeded-integer-test"
    discrete = True

    def add_integer_noise(self, counts: np.ndarray, *, scale: float) -> np.ndarray:
        return counts + np.rint(self._rng.normal(0.0, scale, size=len(counts))).astype(np.int64)


@pytest.fixture(scope="module")
def embeddings():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 25)
    return rng.normal(size=(500, 64)).astype(np.float32), rng.normal(size=(50, 64)).astype(np.float32), labels


def run(embeddings, *, sigma=SIGMA, seed=None, integer=False, **kwargs):
    private, candidates, labels = embeddings
    noise = None if seed is None else (SeededIntegerNoise(seed) if integer else SeededNoise(seed))
    return audit.run_audit(private, candidates, candidate_labels=labels, noise_multiplier=sigma, threshold=2 * sigma,
                           delta=DELTA, num_trials=kwargs.pop("num_trials", NUM_TRIALS), noise=noise, **kwargs)


def forget_sqrt_m_in_the_noise(monkeypatch):
    """Plant the classic sensitivity bug: the noise is not scaled with sqrt(m) (exact path: scale sigma on integer
    votes of L2 sensitivity sqrt(m); continuous: sigma on unweighted votes), so one sample moves the release by
    sqrt(m) noise standard deviations instead of one."""
    real = histogram.add_histogram_noise

    def buggy(votes, *, noise_multiplier, num_neighbours, noise):
        if getattr(noise, "discrete", False):
            noisy = noise.add_integer_noise(np.asarray(votes, dtype=np.int64), scale=noise_multiplier)
            return noisy / math.sqrt(num_neighbours), noisy
        return votes + noise.gaussian(noise_multiplier, len(votes)), None

    assert real is not buggy
    monkeypatch.setattr(histogram, "add_histogram_noise", buggy)


def scale_votes(monkeypatch, factor):
    """Inject a sensitivity bug: every integer vote ``factor`` times too large."""
    correct = histogram.raw_votes

    def buggy(*args, **kwargs):
        return factor * correct(*args, **kwargs)

    monkeypatch.setattr(histogram, "raw_votes", buggy)


@pytest.fixture(scope="module")
def correct_at_sigma_2(embeddings):
    return run(embeddings, sigma=2.0, num_neighbours=16, seed=3)


def test_the_default_passes_on_the_exact_path(embeddings):
    record = run(embeddings, num_neighbours=10, seed=7, integer=True)
    assert record["passed"] and record["mu_passed"] and record["epsilon_passed"]
    assert record["mu_interval"][0] <= record["mu_accounted"] <= record["mu_interval"][1]
    assert record["noise_source"] == "seeded-integer-test" and record["noise_discrete"] is True
    assert record["shift_norm"] == pytest.approx(1.0) and record["num_classes"] == 2
    assert record["accounted_epsilon_one_release"] == pytest.approx(0.3213, abs=1e-3)
    assert json.loads(json.dumps(record)) == record
    for key in ("epsilon_lower_bound", "confidence", "mu_estimate", "mu_interval", "mu_accounted", "num_trials",
                "threshold_tau", "tpr", "fpr", "noise_multiplier", "noise_scale", "histogram_threshold",
                "num_private", "num_candidates", "num_neighbours", "vote_metric", "method", "seconds"):
        assert key in record
    assert "Clopper-Pearson" in record["method"] and "confidence interval" in record["method"]


def test_a_forgotten_sqrt_m_fails_at_the_default_sigma_where_the_epsilon_bound_cannot_see_it(embeddings,
                                                                                           monkeypatch):
    """The old audit passed this bug (sigma 10.55, 1,000 trials, m = 10: its epsilon bound stays below the accounted
    one). The mu test sees sqrt(10)/sigma = 0.30 against 0.095."""
    forget_sqrt_m_in_the_noise(monkeypatch)
    record = run(embeddings, num_neighbours=10, seed=8, integer=True, num_trials=1000)
    assert record["epsilon_passed"]  # the threshold attack is too weak here
    assert not record["mu_passed"] and not record["passed"]
    assert record["mu_interval"][0] > record["mu_accounted"]
    assert record["mu_estimate"] == pytest.approx(math.sqrt(10) / SIGMA, abs=4 * record["mu_estimate_stderr"])


def test_a_forgotten_sqrt_m_fails_on_the_continuous_path_too(embeddings, monkeypatch):
    forget_sqrt_m_in_the_noise(monkeypatch)
    record = run(embeddings, sigma=2.0, num_neighbours=16, seed=3, num_trials=500)
    assert not record["passed"] and record["mu_estimate"] == pytest.approx(2.0, abs=4 * record["mu_estimate_stderr"])


def test_too_little_noise_fails(embeddings):
    record = run(embeddings, noise_scale=0.1, seed=1)
    assert not record["passed"]
    assert record["epsilon_lower_bound"] > 2 * record["accounted_epsilon_one_release"]
    assert record["mu_estimate"] == pytest.approx(10 / SIGMA, abs=4 * record["mu_estimate_stderr"])


def test_votes_ten_times_too_large_are_detected(embeddings, monkeypatch):
    scale_votes(monkeypatch, 10)
    record = run(embeddings, seed=2)
    assert record["shift_norm"] == pytest.approx(10.0)
    assert not record["passed"]


def test_correct_code_passes_at_sigma_2(correct_at_sigma_2):
    assert correct_at_sigma_2["passed"]
    assert correct_at_sigma_2["mu_accounted"] == 0.5
    assert correct_at_sigma_2["mu_estimate"] == pytest.approx(0.5, abs=4 * correct_at_sigma_2["mu_estimate_stderr"])


def test_every_trial_runs_the_runs_own_path(embeddings, monkeypatch):
    calls = []
    real = loop.noisy_histograms

    def counting(*args, **kwargs):
        calls.append((kwargs["noise_multiplier"], kwargs["vote_metric"], kwargs["num_neighbours"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "noisy_histograms", counting)
    run(embeddings, num_trials=10, noise_scale=0.5, seed=0, vote_metric="centred_cosine", num_neighbours=3)
    # Two noiseless runs measure the shift; then D and D' once per trial at the scaled noise, with the run's metric.
    assert calls == [(0.0, "centred_cosine", 3)] * 2 + [(SIGMA * 0.5, "centred_cosine", 3)] * 20


def test_stand_ins_run_two_classes_of_at_most_the_cap():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(4), 300)
    embeddings = rng.normal(size=(1200, 5)).astype(np.float32)
    private, candidates, candidate_labels = audit.stand_in_sets(embeddings, labels, max_candidates_per_class=50)
    assert len(private) == 900 and sorted(set(candidate_labels)) == [0, 1] and len(candidates) == 100


@pytest.mark.parametrize("successes,trials", [(0, 100), (1, 100), (37, 100), (99, 100), (100, 100), (5, 1000)])
@pytest.mark.parametrize("confidence", [0.95, 0.975])
def test_clopper_pearson_matches_scipy_exact_intervals(successes, trials, confidence):
    lower = stats.binomtest(successes, trials, alternative="greater").proportion_ci(confidence, method="exact").low
    upper = stats.binomtest(successes, trials, alternative="less").proportion_ci(confidence, method="exact").high
    assert audit.clopper_pearson_lower(successes, trials, confidence=confidence) == pytest.approx(lower, abs=1e-12)
    assert audit.clopper_pearson_upper(successes, trials, confidence=confidence) == pytest.approx(upper, abs=1e-12)


def test_clopper_pearson_golden_values():
    # Rule of three: no success in n trials bounds p by about 3/n at 95%; exactly 1 - 0.05^(1/n).
    assert audit.clopper_pearson_upper(0, 1000, confidence=0.95) == pytest.approx(1 - 0.05 ** (1 / 1000))
    assert audit.clopper_pearson_lower(1000, 1000, confidence=0.95) == pytest.approx(0.05 ** (1 / 1000))


def test_epsilon_from_rates_uses_both_dp_inequalities():
    assert audit.epsilon_from_rates(0.5, 0.05, delta=0.0) == pytest.approx(math.log(10))
    assert audit.epsilon_from_rates(0.95, 0.5, delta=0.0) == pytest.approx(math.log(10))
    assert audit.epsilon_from_rates(0.5, 0.05, delta=0.1) == pytest.approx(math.log(8))
    assert audit.epsilon_from_rates(0.3, 0.4, delta=0.0) == 0.0


def test_canary_is_the_least_voted_candidate_and_votes_for_it(embeddings):
    private, candidates, _ = embeddings
    canary, target = audit.choose_canary(private, candidates, num_neighbours=1, backend="auto")
    votes = histogram.clean_votes(private, candidates)
    assert votes[target] == votes.min()
    assert canary.shape == (1, 64) and canary.dtype == np.float32
    np.testing.assert_array_equal(histogram.clean_votes(canary, candidates), np.eye(len(candidates))[target])


def test_subsample_is_deterministic_and_bounded(embeddings):
    private, _, _ = embeddings
    first = audit.subsample_private(private, max_private=100, selection_seed=4)
    np.testing.assert_array_equal(first, audit.subsample_private(private, max_private=100, selection_seed=4))
    assert len(first) == 100
    assert audit.subsample_private(private, max_private=1000, selection_seed=4) is private
