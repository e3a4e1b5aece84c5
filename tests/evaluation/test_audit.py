import json
import math

import numpy as np
import pytest
from scipy import stats

from privevo.evaluation import audit
from privevo.pe import histogram

DELTA = 1e-5
SIGMA = 10.5518  # the noise multiplier of the default config
NUM_TRIALS = 2000


class SeededNoise:
    """A reproducible noise source, so that the statistical assertions below cannot flake."""

    name = "seeded-test"
    description = "test only"

    def __init__(self, seed: int):
        self._rng = np.random.default_rng(seed)

    def gaussian(self, sigma: float, size: int) -> np.ndarray:
        return self._rng.normal(0.0, sigma, size=size)


@pytest.fixture(scope="module")
def embeddings():
    rng = np.random.default_rng(0)
    return rng.normal(size=(500, 64)).astype(np.float32), rng.normal(size=(50, 64)).astype(np.float32)


def run(embeddings, *, sigma=SIGMA, seed=None, **kwargs):
    private, candidates = embeddings
    return audit.run_audit(private, candidates, noise_multiplier=sigma, threshold=2 * sigma, delta=DELTA,
                           num_trials=kwargs.pop("num_trials", NUM_TRIALS),
                           noise=None if seed is None else SeededNoise(seed), **kwargs)


def scale_votes(monkeypatch, factor):
    """Inject a sensitivity bug: every vote ``factor(num_neighbours)`` times too large."""
    correct = histogram.clean_votes

    def buggy(private, candidates, *, num_neighbours=1, backend="auto"):
        return factor(num_neighbours) * correct(private, candidates, num_neighbours=num_neighbours, backend=backend)

    monkeypatch.setattr(histogram, "clean_votes", buggy)


@pytest.fixture(scope="module")
def correct_at_sigma_2(embeddings):
    return run(embeddings, sigma=2.0, num_neighbours=16, seed=3)


def test_correct_mechanism_passes_with_os_entropy_noise(embeddings):
    record = run(embeddings)
    assert record["passed"] and record["epsilon_lower_bound"] <= record["accounted_epsilon_one_release"]
    assert record["noise_source"] == "os-entropy"
    assert record["shift_norm"] == pytest.approx(1.0)
    assert record["accounted_epsilon_one_release"] == pytest.approx(0.3213, abs=1e-3)
    assert json.loads(json.dumps(record)) == record
    for key in ("epsilon_lower_bound", "confidence", "mu_estimate", "mu_accounted", "num_trials", "threshold_tau",
                "tpr", "fpr", "noise_multiplier", "noise_scale", "histogram_threshold", "num_private",
                "num_candidates", "num_neighbours", "method", "seconds"):
        assert key in record
    assert "Clopper-Pearson" in record["method"]


def test_too_little_noise_fails(embeddings):
    record = run(embeddings, noise_scale=0.1, seed=1)
    assert not record["passed"]
    assert record["epsilon_lower_bound"] > 2 * record["accounted_epsilon_one_release"]
    assert record["mu_estimate"] == pytest.approx(10 / SIGMA, abs=4 * record["mu_estimate_stderr"])


def test_votes_ten_times_too_large_are_detected(embeddings, monkeypatch):
    scale_votes(monkeypatch, lambda m: 10.0)
    record = run(embeddings, seed=2)
    assert record["shift_norm"] == pytest.approx(10.0)
    assert not record["passed"]


def test_missing_one_over_sqrt_m_is_detected_where_correct_code_passes(embeddings, correct_at_sigma_2, monkeypatch):
    assert correct_at_sigma_2["passed"]
    scale_votes(monkeypatch, math.sqrt)
    buggy = run(embeddings, sigma=2.0, num_neighbours=16, seed=3)
    assert buggy["shift_norm"] == pytest.approx(4.0)
    assert not buggy["passed"]


def test_mu_estimate_matches_one_over_sigma(correct_at_sigma_2):
    record = correct_at_sigma_2
    assert record["mu_accounted"] == 0.5
    assert record["mu_estimate"] == pytest.approx(0.5, abs=4 * record["mu_estimate_stderr"])


def test_every_trial_runs_the_mechanism(embeddings, monkeypatch):
    calls = []
    real = histogram.dp_nn_histogram

    def counting(*args, **kwargs):
        calls.append(kwargs["noise_multiplier"])
        return real(*args, **kwargs)

    monkeypatch.setattr(histogram, "dp_nn_histogram", counting)
    run(embeddings, num_trials=10, noise_scale=0.5, seed=0)
    # Two noiseless runs measure the shift; then D and D' once per trial at the scaled noise.
    assert calls == [0.0, 0.0] + [SIGMA * 0.5] * 20


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
    private, candidates = embeddings
    canary, target = audit.choose_canary(private, candidates, num_neighbours=1, backend="auto")
    votes = histogram.clean_votes(private, candidates)
    assert votes[target] == votes.min()
    assert canary.shape == (1, 64) and canary.dtype == np.float32
    np.testing.assert_array_equal(histogram.clean_votes(canary, candidates), np.eye(len(candidates))[target])


def test_subsample_is_deterministic_and_bounded(embeddings):
    private, _ = embeddings
    first = audit.subsample_private(private, max_private=100, selection_seed=4)
    np.testing.assert_array_equal(first, audit.subsample_private(private, max_private=100, selection_seed=4))
    assert len(first) == 100
    assert audit.subsample_private(private, max_private=1000, selection_seed=4) is private
