"""The privacy ledger composes every release in one PLD accountant."""

import pytest

from privevo.accountants.gdp import calibrate
from privevo.reports.ledger import ledger_markdown, privacy_ledger


def pe_release(epsilon, seed, num_iterations=4, delta=1e-5):
    sigma = calibrate(epsilon=epsilon, delta=delta, num_iterations=num_iterations, cross_check=False)["noise_multiplier"]
    return {"name": f"run/seed_{seed}/eps_{epsilon}", "method": "PE", "epsilon": epsilon, "delta": delta,
            "accountant": "gdp", "seed": seed,
            "events": [{"kind": "gaussian", "noise_multiplier": sigma, "count": num_iterations}]}


def test_one_release_composes_to_its_own_epsilon():
    ledger = privacy_ledger([pe_release(1.0, 0)])
    assert ledger["composed_epsilon_all"] == pytest.approx(1.0, rel=0.01)


def test_seeds_compose_below_the_sum_and_above_each():
    releases = [pe_release(1.0, seed) for seed in range(3)]
    ledger = privacy_ledger(releases)
    assert 1.0 < ledger["composed_epsilon_all"] < ledger["sum_of_epsilons"] == pytest.approx(3.0)
    # Three identical Gaussian mechanisms are one with sqrt(3) times the mu: compare with the exact GDP value.
    exact = calibrate(noise_multiplier=releases[0]["events"][0]["noise_multiplier"], delta=1e-5,
                      num_iterations=12, cross_check=False)["epsilon"]
    assert ledger["composed_epsilon_all"] == pytest.approx(exact, rel=0.01)
    assert "3 releases" in ledger_markdown(ledger) and "seed" in ledger_markdown(ledger)


def test_releases_at_different_deltas_are_refused():
    with pytest.raises(ValueError, match="different deltas"):
        privacy_ledger([pe_release(1.0, 0), pe_release(1.0, 1, delta=1e-6)])


def mix_release(pe, total_epsilon, sgd_sigma=2.0):
    return {"name": f"mix/seed_{pe['seed']}/eps_{total_epsilon}", "method": "PE + DP-SGD", "epsilon": total_epsilon,
            "delta": pe["delta"], "accountant": "pld", "seed": pe["seed"],
            "events": [{"kind": "poisson_gaussian", "sample_rate": 0.01, "noise_multiplier": sgd_sigma, "count": 100}],
            "inherited_events": {"from": pe["name"], "events": pe["events"]}}


def test_a_mix_shares_its_pe_release_events_once():
    from privevo.accountants.analysis.pld import compose_epsilon

    pe = pe_release(1.0, 0)
    mix = mix_release(pe, 4.0)
    by_hand = compose_epsilon(pe["events"] + mix["events"], delta=1e-5)
    # Published together, the PE synthetic set and the fine-tuned model cost what the mix alone costs.
    assert privacy_ledger([pe, mix])["composed_epsilon_all"] == pytest.approx(by_hand, rel=1e-9)
    # The mix's own cost includes the PE release it builds on, even without that release in the ledger.
    alone = privacy_ledger([mix])
    assert alone["composed_epsilon_per_method"]["PE + DP-SGD"] == pytest.approx(by_hand, rel=1e-9)
    assert alone["releases"][0]["builds_on"] == pe["name"]
    # Two PE seeds with a mix each: each PE release counted once.
    pe1 = pe_release(1.0, 1)
    four = privacy_ledger([pe, pe1, mix, mix_release(pe1, 4.0)])
    expected = compose_epsilon(pe["events"] + pe1["events"] + 2 * mix["events"], delta=1e-5)
    assert four["composed_epsilon_all"] == pytest.approx(expected, rel=1e-9)
