"""Bad input gets one clear line naming what is wrong (exit status 2), never a traceback."""

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

from privevo.config.params import ParamsError, load_params, validate_params
from privevo.config.memory import check_memory
from privevo.config.schedule import population_sizes

from conftest import ROOT, mutate


@pytest.fixture
def params():
    return load_params(ROOT / "params.yaml")




def privevo(*args):
    return subprocess.run([sys.executable, "-m", "privevo", *args], capture_output=True, text=True)


def assert_one_clear_line(proc, *needles):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1, proc.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]


def test_more_nearest_neighbours_than_samples_per_class(params):
    per_class = min(population_sizes(params)[:-1])  # the smallest population voted on (the default's schedule: 200)
    with pytest.raises(ParamsError, match=rf"pe\.num_nearest_neighbours.*only pe\.num_samples_per_class "
                                          rf"\(with pe\.api_schedule\) = {per_class}"):
        validate_params(mutate(params, "pe.num_nearest_neighbours", per_class + 1))
    validate_params(mutate(params, "pe.num_nearest_neighbours", per_class))


def test_lookahead_that_would_not_fit_in_memory(params):
    with pytest.raises(ParamsError, match=r"pe\.lookahead_degree.*GiB"):
        validate_params(mutate(params, "pe.lookahead_degree", 10_000_000))
    with pytest.raises(ParamsError, match=r"pe\.num_samples_per_class.*GiB"):
        check_memory(mutate(params, "pe.num_samples_per_class", 10**6), available=2**30)
    check_memory(params, available=2**30)  # the default needs well under 1 GiB


@pytest.mark.parametrize("degrees,key", [
    ({"start": 1.5, "end": 0.4}, r"pe\.variation_degrees\.start"),
    ({"start": 0.8, "end": -0.1}, r"pe\.variation_degrees\.end"),
    ([0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 2.0, 0.1], r"pe\.variation_degrees\[6\] \(iteration 7\)"),
])
def test_degree_outside_unit_interval_names_the_key(params, degrees, key):
    with pytest.raises(ParamsError, match=key + r".*\[0, 1\]"):
        validate_params(mutate(params, "pe.variation_degrees", degrees))


def test_rank_selection_needs_a_top_below_the_population(params):
    with pytest.raises(ParamsError, match=r"pe\.rank_top"):
        validate_params(mutate(params, "pe.selection", "rank"))
    validate_params(mutate(mutate(params, "pe.selection", "rank"), "pe.rank_top", 25))


def test_params_file_error_is_one_line(tmp_path, params):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(mutate(params, "pe.variation_degrees", {"start": 1.5, "end": 0.4})))
    assert_one_clear_line(privevo("validate-params", "--params", str(path)), "pe.variation_degrees.start")


@pytest.mark.parametrize("content,needle", [
    ({"labels": np.array([0, 1, 12, 3])}, "labels must be in 0..9"),
    ({"labels": np.array([0, 1, -1, 3])}, "labels must be in 0..9"),
    ({"labels": np.array([0.0, 1.0, 2.0, 3.0])}, "labels must be integers"),
    ({"labels": np.array([0, 1, 2])}, "expected 4 labels"),
    ({"images": np.zeros((4, 28, 28, 1), np.float32)}, "uint8"),
])
def test_bad_npz_input_is_one_line(tmp_path, content, needle):
    arrays = {"images": np.zeros((4, 28, 28, 1), np.uint8), "labels": np.array([0, 1, 2, 3]), **content}
    np.savez(tmp_path / "bad.npz", **arrays)
    proc = privevo(
        "pe-variation", "--params", str(ROOT / "params.yaml"), "--model", str(tmp_path / "no-model"),
        "--selected", str(tmp_path / "bad.npz"), "--iteration", "1", "--out", str(tmp_path / "out.npz"))
    assert_one_clear_line(proc, "bad.npz", needle)


def test_private_labels_out_of_range_stop_the_histogram(tmp_path):
    np.savez(tmp_path / "candidates.npz", images=np.zeros((4, 28, 28, 1), np.uint8), labels=np.array([0, 0, 1, 1]))
    np.save(tmp_path / "lookahead.npy", np.zeros((4, 8), np.float32))
    np.save(tmp_path / "private.npy", np.zeros((3, 8), np.float32))
    np.save(tmp_path / "private_labels.npy", np.array([0, 1, 10]))
    (tmp_path / "calibration.json").write_text('{"noise_multiplier": 1.0, "mechanism": "discrete_gaussian"}')
    proc = privevo("pe-histogram", "--params", str(ROOT / "params.yaml"), "--iteration", "1",
                   "--set", f"privacy.odometer_dir={tmp_path / 'odometer'}",
                   "--private-embeddings", str(tmp_path / "private.npy"),
                   "--private-labels", str(tmp_path / "private_labels.npy"),
                   "--candidates", str(tmp_path / "candidates.npz"), "--lookahead", str(tmp_path / "lookahead.npy"),
                   "--calibration", str(tmp_path / "calibration.json"), "--out-dir", str(tmp_path / "iter_001"))
    assert_one_clear_line(proc, "private_labels.npy", "labels must be in 0..9")
    assert not (tmp_path / "iter_001").exists()
    assert not (tmp_path / "odometer").exists()  # inputs are checked before anything is charged


@pytest.mark.parametrize("epsilon,needle", [("0", "epsilon must be a positive"), ("-1", "epsilon must be a positive"),
                                            ("5000", "above 1000")])
def test_calibrate_refuses_meaningless_epsilon(epsilon, needle):
    assert_one_clear_line(privevo("calibrate", "--epsilon", epsilon, "--delta", "1e-5", "--num-iterations", "8"), needle)


def test_calibrate_large_epsilon_coarsens_the_pld_grid_and_stays_an_upper_bound():
    # A fixed 1e-4 grid took 54 s at epsilon 1000 (benchmarks/ has the timing); the grid now scales with epsilon.
    proc = privevo("calibrate", "--epsilon", "1000", "--delta", "1e-5", "--num-iterations", "8")
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    assert record["cross_check"]["value_discretization_interval"] == pytest.approx(0.02)
    assert record["cross_check"]["epsilon"] == pytest.approx(1000, rel=2e-3)
    assert record["cross_check"]["epsilon"] >= 1000 * (1 - 1e-6)  # the PLD rounds pessimistically


def test_calibrate_noise_too_small_for_any_guarantee():
    assert_one_clear_line(privevo("calibrate", "--noise-multiplier", "0.001", "--delta", "1e-5", "--num-iterations", "8"),
                          "above 1000")


def test_a_bad_override_names_its_key():
    assert_one_clear_line(privevo("validate-params", "--set", "privacy.epsilom=3"), "privacy.epsilom", "unknown key")
    assert_one_clear_line(privevo("validate-params", "--set", "pe.num_iterations=two"), "pe.num_iterations")


def test_validate_params_lists_the_runs_of_the_sweep():
    proc = privevo("validate-params", "--params", str(ROOT / "config" / "smoke.yaml"), "--set", "sweep.epsilons=[1, 10]",
                   "--set", "sweep.seeds=[0, 1, 2]")
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    assert len(record["runs"]) == 6 and len(record["shared"]["model"]) == 1 and len(record["shared"]["base"]) == 3
    assert {run["folder"].rsplit("/", 2)[-2] for run in record["runs"]} == {"seed_0", "seed_1", "seed_2"}


def test_calibrate_round_trips_for_pe_and_for_dpsgd():
    def calibrate(*args):
        proc = privevo("calibrate", "--delta", "1e-5", *args)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    sigma = calibrate("--epsilon", "2", "--num-iterations", "8")["noise_multiplier"]
    assert calibrate("--noise-multiplier", str(sigma), "--num-iterations", "8")["epsilon"] == pytest.approx(2, rel=1e-6)
    sgd = calibrate("--epsilon", "2", "--sample-rate", "0.01", "--steps", "500")
    assert sgd["sampling"] == "poisson" and sgd["cross_check"]["accountant"] == "dp_accounting.pld.PLDAccountant"
    back = calibrate("--noise-multiplier", str(sgd["noise_multiplier"]), "--sample-rate", "0.01", "--steps", "500")
    assert back["epsilon"] == pytest.approx(sgd["epsilon"], rel=1e-3) and back["epsilon"] <= 2.0
    assert set(back) >= {"epsilon", "delta", "noise_multiplier", "solved_for", "accountant", "cross_check"}
