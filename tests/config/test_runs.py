"""Run identity: every path names what it depends on, and a sweep shares exactly the epsilon-free work."""

import pytest

from privevo.config.layout import Layout, settings_hash
from privevo.config.params import ParamsError, apply_override, load_params
from privevo.config.runs import Sweep

from conftest import ROOT, mutate, write_params


@pytest.fixture
def params():
    return load_params(ROOT / "config" / "smoke.yaml")


def sweep_of(params, epsilons, seeds, model_seeds=False):
    params = mutate(mutate(params, "sweep.epsilons", epsilons), "sweep.seeds", seeds)
    return Sweep(mutate(params, "sweep.model_seeds", model_seeds))


def test_epsilon_1_and_1_point_0_name_the_same_run(params):
    one = Layout(mutate(params, "privacy.epsilon", 1))
    one_point_zero = Layout(mutate(params, "privacy.epsilon", 1.0))
    assert one.run_dir == one_point_zero.run_dir and one.run_dir.endswith("/seed_0/eps_1")
    assert sweep_of(params, [1], [0]).runs[0].key == sweep_of(params, [1.0], [0]).runs[0].key


@pytest.mark.parametrize("key, value", [("pe.num_iterations", 3), ("pe.histogram_threshold", 1.5),
                                        ("pe.num_samples_per_class", 9), ("privacy.delta", 1e-6)])
def test_a_changed_run_setting_is_a_new_run_folder_and_keeps_the_shared_work(params, key, value):
    before, after = Layout(params), Layout(mutate(params, key, value))
    assert after.run_dir != before.run_dir
    assert after.model_dir == before.model_dir and after.private_embeddings == before.private_embeddings
    assert (after.base_dir == before.base_dir) == (key != "pe.num_samples_per_class")


def test_seed_and_epsilon_name_subfolders_of_one_run_hash(params):
    runs = sweep_of(params, [1, 10], [0, 1]).runs
    hashes = {run.key.split("/")[0] for run in runs}
    assert len(hashes) == 1 and hashes.pop().startswith("default-")
    assert sorted(run.key.split("/", 1)[1] for run in runs) == ["seed_0/eps_1", "seed_0/eps_10", "seed_1/eps_1",
                                                                 "seed_1/eps_10"]
    assert len({run.layout.run_dir for run in runs}) == 4


def test_sweep_shares_the_model_across_seeds_and_s0_across_epsilons(params):
    sweep = sweep_of(params, [1, 10], [0, 1, 2])
    assert len(sweep.runs) == 6
    assert len(sweep.keys("model")) == 1 and len(sweep.keys("data")) == 1 and len(sweep.keys("embedding")) == 1
    assert len(sweep.keys("base")) == 3 and len(sweep.keys("run")) == 6 and len(sweep.keys("dpsgd")) == 6
    for run in sweep.runs:
        assert run.params["seed"] == run.seed and run.model_params["seed"] == params["seed"]
        assert run.params["privacy"]["epsilon"] == run.epsilon


def test_model_seeds_pretrain_one_model_per_seed(params):
    sweep = sweep_of(params, [1], [0, 1], model_seeds=True)
    assert len(sweep.keys("model")) == 2 and len(sweep.keys("data")) == 2
    assert [run.model_params["seed"] for run in sweep.runs] == [0, 1]


def test_overrides_reproduce_the_runs_params(params, tmp_path):
    path = write_params(tmp_path / "params.yaml", mutate(mutate(params, "sweep.epsilons", [2, 10]), "sweep.seeds", [3]))
    for run in Sweep(load_params(path)).runs:
        assert load_params(path, run.overrides("run")) == run.params
        assert load_params(path, run.overrides("model")) == run.model_params
        assert "--set seed=3" in run.cli("run")


def test_overrides_name_a_bad_key(params):
    with pytest.raises(ParamsError, match="privacy.epsilom: unknown key"):
        apply_override(params, "privacy.epsilom=3")
    with pytest.raises(ParamsError, match="expected dotted.key=value"):
        apply_override(params, "privacy.epsilon")
    with pytest.raises(ParamsError, match="seed.x: seed is not a section"):
        apply_override(params, "seed.x=1")


def test_sweep_values_are_validated(params):
    with pytest.raises(ParamsError, match="sweep.epsilons"):
        Sweep(load_params_from(params, "sweep.epsilons", [1, 1.0]))
    with pytest.raises(ParamsError, match="sweep.seeds"):
        load_params_from(params, "sweep.seeds", [-1])


def load_params_from(params, key, value):
    from privevo.config.params import validate_params

    return validate_params(mutate(params, key, value))


def test_settings_hash_ignores_key_order_and_integer_floats():
    assert settings_hash({"a": 1, "b": [1.0, 2]}) == settings_hash({"b": [1, 2.0], "a": 1.0})
    assert settings_hash({"a": 1}) != settings_hash({"a": 2})


def test_histogram_tables_are_exactly_the_runs_iterations(params):
    layout = Layout(mutate(params, "pe.num_iterations", 3))
    assert [t.split("/")[-2] for t in layout.histogram_tables()] == ["iter_001", "iter_002", "iter_003"]


def test_compare_config_is_the_default_with_a_sweep():
    default, compare = load_params(ROOT / "params.yaml"), load_params(ROOT / "config" / "compare.yaml")
    assert compare["sweep"]["epsilons"] == [1, 10] and compare["sweep"]["seeds"] == [0, 1, 2]
    assert {**compare, "sweep": default["sweep"], "mixing": default["mixing"]} == default
    # PE + DP-SGD at 10 builds on the sweep's PE run at 1: no extra PE run.
    sweep = Sweep(compare)
    assert [m.pe.epsilon for m in sweep.mixes] == [1.0] * 3 and sweep.pe_runs == sweep.runs
    # The comparison's first run is the default run: they share every folder.
    assert Sweep(compare).primary.layout.run_dir == Layout(default).run_dir


def test_a_mix_shares_the_sweeps_pe_run_or_adds_one(params):
    shared = sweep_of(params, [1, 4], [0, 1])  # smoke: mixing at 4 with pe_fraction 0.25 -> PE part at 1
    assert [(m.total.epsilon, m.pe.epsilon, m.total.seed == m.pe.seed) for m in shared.mixes] == [(4.0, 1.0, True)] * 2
    assert all(m.pe.key in {r.key for r in shared.runs} for m in shared.mixes) and shared.pe_runs == shared.runs
    # 0.3 * 10 names eps_3, not eps_3.0000000000000004; a PE part outside the sweep is one more release.
    added = sweep_of(mutate(mutate(params, "mixing.epsilons", None), "mixing.pe_fraction", 0.3), [10], [0])
    assert added.mixes[0].pe.key.endswith("/seed_0/eps_3") and len(added.pe_runs) == 2
    assert added.run_for("run", added.mixes[0].pe.key) is added.mixes[0].pe
    # Mix folders differ by seed and epsilon only in their seed_/eps_ parts, like every other family.
    keys = [m.total.layout.keys["mix"] for m in shared.mixes]
    assert keys[0].split("/")[0] == keys[1].split("/")[0] and keys[0] != keys[1]
    assert shared.mix_for(keys[1]) is shared.mixes[1]


def test_mixing_off_or_without_epsilon_adds_nothing(params):
    assert sweep_of(mutate(params, "mixing.enabled", False), [1, 4], [0]).mixes == []
    assert sweep_of(params, [1, 2], [0]).mixes == []  # mixing.epsilons [4] is not in this sweep
