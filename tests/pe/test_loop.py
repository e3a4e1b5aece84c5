"""PE's population steps with tiny fakes: the per-class split, the degree used at each t, and which
streams are seeded (everything but the DP noise)."""

import json

import numpy as np
import pytest

from privevo.steps import common as steps_common
from privevo.cli import main
from privevo.pe import loop as pe
from privevo.pe.lookahead import lookahead_embeddings
from privevo.core import seeding
from privevo.io.artifacts import load_npz, save_images
from privevo.config.params import load_params
from privevo.config.schedule import variation_degrees
from privevo.pe.noise import DiscreteGaussianNoise, EntropyNoise, ReproducibleNoise
from privevo.config.triggers import rule_settings

from pe_helpers import write_tiny_params


class FakeAPI:
    """RANDOM_API / VARIATION_API that record their calls; a variation adds the degree to every pixel."""

    def __init__(self):
        self.calls = []

    def random(self, n, *, seed, desc=""):
        self.calls.append(("random", None, seed, n))
        return np.random.default_rng(seed).integers(0, 255, size=(n, 4, 4, 1), dtype=np.uint8)

    def variation(self, images, *, degree, seed, desc=""):
        self.calls.append(("variation", degree, seed, len(images)))
        return np.clip(images.astype(int) + int(100 * degree), 0, 255).astype(np.uint8)


class FakeEmbedder:
    def embed(self, images, batch_size=128, progress=True):
        return images.reshape(len(images), -1).astype(np.float32)


def test_class_c_private_samples_vote_only_for_class_c_candidates():
    # Class 1's private samples sit exactly on class 0's candidate 0, yet may only vote within class 1.
    candidates = np.array([[0.0, 0.0], [10.0, 10.0], [5.0, 5.0], [20.0, 20.0]], np.float32)
    candidate_labels = np.array([0, 0, 1, 1])
    private = np.array([[0.0, 0.0]] * 3 + [[10.0, 10.0]] * 2, np.float32)
    private_labels = np.array([1, 1, 1, 0, 0])
    zero = type("Zero", (), {"gaussian": staticmethod(lambda sigma, size: np.zeros(size))})
    noisy = pe.noisy_histograms(private, private_labels, candidates, candidate_labels, noise_multiplier=1.0,
                                num_neighbours=1, noise_for_class=lambda c: zero())
    np.testing.assert_array_equal(noisy.counts, [0.0, 2.0, 3.0, 0.0])
    assert noisy.votes is None  # continuous noise: no integer output


def test_noise_is_fresh_but_selection_is_seeded():
    rng = np.random.default_rng(0)
    candidates, private = rng.normal(size=(20, 3)).astype(np.float32), rng.normal(size=(200, 3)).astype(np.float32)
    labels, private_labels = np.repeat([0, 1], 10), rng.integers(0, 2, 200)
    args = dict(noise_multiplier=2.0, num_neighbours=1)
    first = pe.noisy_histograms(private, private_labels, candidates, labels, noise_for_class=lambda c: EntropyNoise(),
                                **args).counts
    second = pe.noisy_histograms(private, private_labels, candidates, labels, noise_for_class=lambda c: EntropyNoise(),
                                 **args).counts
    assert not np.array_equal(first, second)
    exact = [pe.noisy_histograms(private, private_labels, candidates, labels,
                                 noise_for_class=lambda c: DiscreteGaussianNoise(), **args) for _ in range(2)]
    assert not np.array_equal(exact[0].votes, exact[1].votes)
    debug = [pe.noisy_histograms(private, private_labels, candidates, labels, **args,
                                 noise_for_class=lambda c: ReproducibleNoise(3, class_index=c, iteration=1)).counts
             for _ in range(2)]
    np.testing.assert_array_equal(*debug)
    select = dict(noise_multiplier=2.0, threshold=0.0, selection="sample", num_samples_per_class=10, iteration=1, seed=4)
    _, a = pe.select_parents(np.abs(first), labels, **select)
    _, b = pe.select_parents(np.abs(first), labels, **select)
    np.testing.assert_array_equal(a, b)
    _, c = pe.select_parents(np.abs(first), labels, **{**select, "seed": 5})
    assert not np.array_equal(a, c)


def test_variation_and_lookahead_streams_are_seeded_per_class_and_iteration():
    api, labels = FakeAPI(), np.repeat([0, 1], 3)
    images = np.zeros((6, 4, 4, 1), np.uint8)
    pe.variation_population(api, images, labels, degree=0.5, iteration=2, seed=9)
    lookahead_embeddings(api, FakeEmbedder(), images, labels, degree=0.5, lookahead_degree=2, iteration=2, seed=9)
    seeds = [call[2] for call in api.calls]
    assert seeds == [seeding.torch_seed(9, role=role, class_index=c, iteration=2)
                     for role in ("variation", "lookahead") for c in (0, 1)]
    assert len(set(seeds)) == 4


@pytest.fixture
def tiny_params(tmp_path):
    return write_tiny_params(tmp_path)


def test_iteration_t_uses_degree_t_for_the_lookahead_of_s_t_minus_1_and_the_variation_making_s_t(
        tiny_params, tmp_path, monkeypatch):
    params = load_params(tiny_params)
    degrees = variation_degrees(params)
    api = FakeAPI()
    monkeypatch.setattr(steps_common, "step_api", lambda params, *, model, public=None, iteration: api)
    monkeypatch.setattr(steps_common, "embedder", lambda params, name=None: FakeEmbedder())
    labels = np.repeat(np.arange(10), 3)
    save_images(tmp_path / "pop.npz", np.zeros((30, 4, 4, 1), np.uint8), labels, parent_ids=np.arange(30))
    for t in (1, 2, 3):
        # Iteration t: the lookahead of S_(t-1) (population index t - 1), then the variation that makes S_t.
        api.calls.clear()
        assert main(["pe-lookahead", "--params", str(tiny_params), "--model", "m", "--candidates",
                         str(tmp_path / "pop.npz"), "--iteration", str(t - 1), "--out", str(tmp_path / "la.npy")]) == 0
        assert {call[1] for call in api.calls} == {degrees[t - 1]}
        api.calls.clear()
        assert main(["pe-variation", "--params", str(tiny_params), "--model", "m", "--selected",
                         str(tmp_path / "pop.npz"), "--iteration", str(t), "--out", str(tmp_path / "v.npz")]) == 0
        assert {call[1] for call in api.calls} == {degrees[t - 1]}
    # Snakemake's per-rule settings name the same degrees, so a schedule change reruns the right jobs.
    assert rule_settings(params, "pe_lookahead_initial")["degree"] == degrees[0]
    assert [rule_settings(params, "pe_lookahead")(t)["degree"] for t in (1, 2)] == degrees[1:]
    assert [rule_settings(params, "pe_variation")(t)["degree"] for t in (1, 2, 3)] == degrees


def test_histogram_step_writes_noisy_counts_only_and_never_redraws_a_stored_draw(tiny_params, tmp_path):
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(10), 3)
    save_images(tmp_path / "candidates.npz", np.zeros((30, 4, 4, 1), np.uint8), labels)
    np.save(tmp_path / "lookahead.npy", rng.normal(size=(30, 5)).astype(np.float32))
    np.save(tmp_path / "private.npy", rng.normal(size=(300, 5)).astype(np.float32))
    np.save(tmp_path / "private_labels.npy", rng.integers(0, 10, 300))
    (tmp_path / "calibration.json").write_text(json.dumps({"noise_multiplier": 0.5, "mechanism": "discrete_gaussian"}))
    argv = ["pe-histogram", "--params", str(tiny_params), "--iteration", "1",
            "--private-embeddings", str(tmp_path / "private.npy"), "--private-labels", str(tmp_path / "private_labels.npy"),
            "--candidates", str(tmp_path / "candidates.npz"), "--lookahead", str(tmp_path / "lookahead.npy"),
            "--calibration", str(tmp_path / "calibration.json"), "--out-dir", str(tmp_path / "iter_001")]
    assert main(argv) == 0
    first = (tmp_path / "iter_001" / "histogram.npz").read_bytes()
    histogram = load_npz(tmp_path / "iter_001" / "histogram.npz")
    assert str(histogram["noise_source"]) == "discrete-gaussian-opendp"
    assert "clean" not in " ".join(histogram)
    # The exact mechanism's output is integers; the weighted counts are those integers over sqrt(m), nothing finer.
    m = load_params(tiny_params)["pe"]["num_nearest_neighbours"]
    assert histogram["noisy_votes"].dtype == np.int64
    np.testing.assert_array_equal(histogram["noisy_count"], histogram["noisy_votes"] / np.sqrt(m))
    # Snakemake deletes the outputs of a job it thinks incomplete; the stored draw survives and is reused.
    for name in ("histogram.npz", "histogram.csv", "selected.npz"):
        (tmp_path / "iter_001" / name).unlink()
    assert main(argv) == 0
    assert (tmp_path / "iter_001" / "histogram.npz").read_bytes() == first
    assert len(list((tmp_path / "iter_001" / "draws").glob("*.npz"))) == 1


def test_histogram_records_the_voted_population_so_inspect_finds_s0(tiny_params, tmp_path):
    """S_0 lives in a base folder outside the run: iteration 1's histogram names it (relative path)."""
    rng = np.random.default_rng(2)
    labels = np.repeat(np.arange(10), 3)
    base, run = tmp_path / "base" / "iter_000", tmp_path / "runs" / "r" / "eps_1" / "iter_001"
    base.mkdir(parents=True)
    save_images(base / "candidates.npz", rng.integers(0, 255, (30, 8, 8, 1), dtype=np.uint8), labels)
    np.save(base / "lookahead.npy", rng.normal(size=(30, 5)).astype(np.float32))
    np.save(tmp_path / "private.npy", rng.normal(size=(300, 5)).astype(np.float32))
    np.save(tmp_path / "private_labels.npy", rng.integers(0, 10, 300))
    (tmp_path / "calibration.json").write_text(json.dumps({"noise_multiplier": 0.5, "mechanism": "discrete_gaussian"}))
    assert main(["pe-histogram", "--params", str(tiny_params), "--iteration", "1",
                 "--private-embeddings", str(tmp_path / "private.npy"),
                 "--private-labels", str(tmp_path / "private_labels.npy"),
                 "--candidates", str(base / "candidates.npz"), "--lookahead", str(base / "lookahead.npy"),
                 "--calibration", str(tmp_path / "calibration.json"), "--out-dir", str(run)]) == 0
    assert str(load_npz(run / "histogram.npz")["voted_candidates"]) == "../../../../base/iter_000/candidates.npz"
    assert main(["inspect", str(run), "--grid", str(tmp_path / "grid.png")]) == 0
    assert (tmp_path / "grid.png").stat().st_size > 1000


def test_draw_key_is_not_a_function_of_the_private_bytes(tmp_path):
    """The draws are released; their key must not be a hash of the private embeddings."""
    import os

    from privevo.pe.draws import histogram_draw_fingerprint

    path = tmp_path / "private.npy"
    np.save(path, np.zeros((5, 3), np.float32))
    stamp = os.stat(path).st_mtime_ns
    args = dict(iteration=1, noise_multiplier=2.0, num_neighbours=1, noise_source="os-entropy",
                private_embeddings_path=path, private_settings={"data": {"seed": 0}})
    candidates, labels = np.ones((4, 3), np.float32), np.array([0, 0, 1, 1])
    before = histogram_draw_fingerprint(candidates, labels, **args)
    np.save(path, np.ones((5, 3), np.float32))
    os.utime(path, ns=(stamp, stamp))
    assert histogram_draw_fingerprint(candidates, labels, **args) == before
    # A re-embedding (new mtime), new candidates or another sigma is a new draw.
    os.utime(path, ns=(stamp + 10**9, stamp + 10**9))
    assert histogram_draw_fingerprint(candidates, labels, **args) != before
    os.utime(path, ns=(stamp, stamp))
    assert histogram_draw_fingerprint(candidates + 1, labels, **args) != before
    assert histogram_draw_fingerprint(candidates, labels, **{**args, "noise_multiplier": 3.0}) != before
