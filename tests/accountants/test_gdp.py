import json
import math
import subprocess
import sys

import pytest

from privevo.accountants.analysis import gdp as accounting
from privevo.accountants.gdp import calibrate

# SPEC section 2: (sigma, T, delta) -> epsilon.
GOLDEN = [
    (5 * math.sqrt(2), 20, 1e-5, 2.594),
    (2 * math.sqrt(2), 29, 3e-6, 9.921),
    (2 * math.sqrt(2), 5, 1e-5, 3.341),
]


@pytest.mark.parametrize("sigma,num_iterations,delta,epsilon", GOLDEN)
def test_golden_epsilon(sigma, num_iterations, delta, epsilon):
    got = accounting.epsilon_for_noise_multiplier(noise_multiplier=sigma, delta=delta, num_iterations=num_iterations)
    assert got == pytest.approx(epsilon, abs=5e-4)


@pytest.mark.parametrize("sigma,num_iterations,delta,epsilon", GOLDEN)
def test_golden_noise_multiplier_round_trip(sigma, num_iterations, delta, epsilon):
    exact_eps = accounting.epsilon_for_noise_multiplier(noise_multiplier=sigma, delta=delta, num_iterations=num_iterations)
    got = accounting.noise_multiplier_for_epsilon(epsilon=exact_eps, delta=delta, num_iterations=num_iterations)
    assert got == pytest.approx(sigma, rel=1e-8)


@pytest.mark.parametrize("sigma,num_iterations,delta", [(s, t, d) for s, t, d, _ in GOLDEN] + [(10.55, 8, 1e-5), (1.0, 1, 1e-6)])
def test_cross_check_against_dp_accounting_pld(sigma, num_iterations, delta):
    ours = accounting.epsilon_for_noise_multiplier(noise_multiplier=sigma, delta=delta, num_iterations=num_iterations)
    pld = accounting.pld_epsilon(noise_multiplier=sigma, delta=delta, num_iterations=num_iterations)
    assert ours == pytest.approx(pld, rel=1e-3, abs=1e-3)


def test_delta_profile_is_decreasing_and_matches_formula():
    mu = accounting.gdp_mu(noise_multiplier=2.0, num_iterations=4)
    assert mu == pytest.approx(1.0)
    deltas = [accounting.delta_for_mu(eps, mu) for eps in (0.0, 0.5, 1.0, 2.0, 4.0)]
    assert all(a > b for a, b in zip(deltas, deltas[1:]))
    # delta(0) = Phi(mu/2) - Phi(-mu/2) = 2 Phi(0.5) - 1 for mu = 1.
    assert deltas[0] == pytest.approx(0.382924922548026, rel=1e-9)


def test_more_iterations_cost_more_epsilon():
    eps = [accounting.epsilon_for_noise_multiplier(noise_multiplier=5.0, delta=1e-5, num_iterations=t) for t in (1, 4, 16)]
    assert eps[0] < eps[1] < eps[2]


@pytest.mark.parametrize("kwargs", [
    dict(epsilon=-1, delta=1e-5, num_iterations=3),
    dict(epsilon=1, delta=0, num_iterations=3),
    dict(epsilon=1, delta=1e-5, num_iterations=0),
])
def test_bad_inputs_raise(kwargs):
    with pytest.raises(ValueError):
        accounting.noise_multiplier_for_epsilon(**kwargs)


def test_calibrate_needs_exactly_one_target():
    with pytest.raises(ValueError, match="exactly one"):
        calibrate(delta=1e-5, num_iterations=2, epsilon=1.0, noise_multiplier=3.0)


@pytest.mark.parametrize("args,solved", [
    (["--epsilon", "1", "--delta", "1e-5", "--num-iterations", "8"], "noise_multiplier"),
    (["--noise-multiplier", "7.0710678118654755", "--delta", "1e-5", "--num-iterations", "20"], "epsilon"),
])
def test_calibrate_cli_prints_json(args, solved):
    out = subprocess.run([sys.executable, "-m", "privevo", "calibrate", *args], check=True, capture_output=True, text=True)
    record = json.loads(out.stdout)
    for key in ("epsilon", "delta", "noise_multiplier", "num_iterations", "accountant"):
        assert key in record
    assert record["solved_for"] == solved
    if solved == "epsilon":
        assert record["epsilon"] == pytest.approx(2.594, abs=5e-4)
    assert record["cross_check"]["epsilon"] == pytest.approx(record["epsilon"], rel=1e-3)
