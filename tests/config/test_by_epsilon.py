"""pe.by_epsilon: pe settings for the runs at one epsilon, resolved per run, never leaking into other epsilons."""

import pytest

from privevo.config.layout import Layout
from privevo.config.triggers import rule_settings
from privevo.config.params import ParamsError, load_params, settings_at_epsilon, validate_params
from privevo.config.runs import Sweep

from conftest import ROOT, mutate, write_params


@pytest.fixture
def params():
    smoke = load_params(ROOT / "config" / "smoke.yaml")
    return mutate(mutate(smoke, "sweep.epsilons", [1, 10]), "sweep.seeds", [0, 1])


def with_entries(params, entries):
    return validate_params(mutate(params, "pe.by_epsilon", entries))


def by_epsilon(sweep):
    return {(run.epsilon, run.seed): run for run in sweep.runs}


def test_an_entry_changes_only_the_runs_at_its_epsilon(params):
    base_t = params["pe"]["num_iterations"]
    plain = by_epsilon(Sweep(params))
    tuned = by_epsilon(Sweep(with_entries(params, [{"epsilon": 10, "num_iterations": base_t + 2}])))
    for seed in (0, 1):
        assert tuned[(10.0, seed)].params["pe"]["num_iterations"] == base_t + 2
        assert tuned[(10.0, seed)].layout.num_iterations == base_t + 2
        assert len(tuned[(10.0, seed)].layout.histogram_tables()) == base_t + 2
        assert tuned[(1.0, seed)].params["pe"]["num_iterations"] == base_t
        # The entry does not move the other epsilon's folders, and its own runs get a folder of their own.
        assert tuned[(1.0, seed)].layout.run_dir == plain[(1.0, seed)].layout.run_dir
        assert tuned[(10.0, seed)].layout.run_dir != plain[(10.0, seed)].layout.run_dir
        assert tuned[(10.0, seed)].layout.run_dir.endswith(f"/seed_{seed}/eps_10")
        # T is part of the calibration: sigma is solved for the entry's T.
        assert rule_settings(tuned[(10.0, seed)].params, "calibrate")["num_iterations"] == base_t + 2


def test_an_entry_at_the_files_own_epsilon_does_not_leak_into_the_sweeps_others(params):
    base_t = params["pe"]["num_iterations"]
    params = mutate(params, "privacy.epsilon", 10)
    runs = by_epsilon(Sweep(with_entries(params, [{"epsilon": 10, "num_iterations": base_t + 1}])))
    assert runs[(1.0, 0)].params["pe"]["num_iterations"] == base_t
    assert runs[(10.0, 0)].params["pe"]["num_iterations"] == base_t + 1
    # Resolving is idempotent at the same epsilon (a step's params and its layout agree).
    resolved = runs[(10.0, 0)].params
    assert settings_at_epsilon(resolved) == resolved and Layout(resolved).run_dir == runs[(10.0, 0)].layout.run_dir


def test_each_step_sees_its_runs_settings_through_the_overrides(params, tmp_path):
    entries = [{"epsilon": 10, "num_samples_per_class": params["pe"]["num_samples_per_class"] + 4,
                "histogram_threshold": 0.5}]
    path = write_params(tmp_path / "params.yaml", with_entries(params, entries))
    sweep = Sweep(load_params(path))
    for run in sweep.runs:
        # The CLI resolves its --set epsilon the same way the sweep did (what `privevo <step>` sees).
        assert load_params(path, run.overrides("run"), at_epsilon=True) == run.params
        base_view = load_params(path, run.overrides("base"), at_epsilon=True)
        assert base_view["pe"]["num_samples_per_class"] == run.params["pe"]["num_samples_per_class"]
    runs = by_epsilon(sweep)
    # A larger population at epsilon 10 is a different S_0; epsilon 1 keeps the file's.
    assert runs[(10.0, 0)].layout.base_dir != runs[(1.0, 0)].layout.base_dir
    assert len(sweep.keys("base")) == 4


def test_the_s0_step_gets_the_epsilon_only_where_an_entry_changes_s0(params):
    assert [run.overrides("base") for run in Sweep(params).runs][:2] == [["seed=0"], ["seed=1"]]
    # T does not change S_0: its jobs keep their commands (Snakemake would rerun them on a changed command).
    runs = by_epsilon(Sweep(with_entries(params, [{"epsilon": 10, "num_iterations": 2}])))
    assert runs[(10.0, 0)].overrides("base") == ["seed=0"]
    runs = by_epsilon(Sweep(with_entries(params, [{"epsilon": 10, "lookahead_degree": 3}])))
    assert runs[(10.0, 0)].overrides("base") == ["seed=0", "privacy.epsilon=10"]
    assert runs[(1.0, 0)].overrides("base") == ["seed=0"]


def test_a_mix_names_the_pe_run_at_its_own_epsilons_settings(params):
    # smoke: "PE + DP-SGD" at 4 fine-tunes on the PE run at 0.25 * 4 = 1.
    params = mutate(params, "sweep.epsilons", [1, 4])
    plain = Sweep(params)
    tuned = Sweep(with_entries(params, [{"epsilon": 4, "num_iterations": params["pe"]["num_iterations"] + 1}]))
    for sweep in (plain, tuned):
        assert [mix.pe.epsilon for mix in sweep.mixes] == [1.0, 1.0]
        assert all(mix.pe.key in {run.key for run in sweep.runs} for mix in sweep.mixes)
    # The PE part (epsilon 1) has no entry, so its folder, and the mix built on it, are those of the plain sweep.
    assert [m.pe.key for m in tuned.mixes] == [m.pe.key for m in plain.mixes]
    assert [m.total.layout.keys["mix"] for m in tuned.mixes] == [m.total.layout.keys["mix"] for m in plain.mixes]
    # The total run at 4 is its own PE run with the entry's T, in a folder of its own.
    assert tuned.mixes[0].total.key.split("/")[0] != tuned.mixes[0].pe.key.split("/")[0]


@pytest.mark.parametrize("entries, message", [
    ([{"epsilon": 10, "num_iterations": 2}, {"epsilon": 10.0, "num_iterations": 3}],
     "pe.by_epsilon: epsilon 10 has more than one entry"),
    ([{"epsilon": 10}], r"pe.by_epsilon\[0\]: sets no pe setting for epsilon 10"),
    ([{"epsilon": 10, "api": "diffusion"}], "unknown key.*pe.by_epsilon.0.api"),
    ([{"epsilon": 10, "num_iterations": 0}], "pe.by_epsilon.0.num_iterations"),
    ([{"num_iterations": 3}], "pe.by_epsilon.0.*epsilon"),
    ([{"epsilon": 10, "num_nearest_neighbours": 10_000}],
     r"at epsilon 10 \(pe.by_epsilon\[0\]\): params key pe.num_nearest_neighbours"),
])
def test_a_bad_entry_is_one_line_naming_it(params, entries, message):
    with pytest.raises(ParamsError, match=message):
        with_entries(params, entries)


def test_entries_need_a_target_epsilon(params):
    fixed_sigma = mutate(mutate(mutate(params, "sweep.epsilons", None), "privacy.epsilon", None),
                         "privacy.noise_multiplier", 5.0)
    with pytest.raises(ParamsError, match="pe.by_epsilon: its entries apply at a target epsilon"):
        with_entries(fixed_sigma, [{"epsilon": 10, "num_iterations": 2}])


def test_the_schema_and_the_code_allow_the_same_entry_keys():
    import yaml

    from privevo.config.params import EPSILON_SETTINGS, SCHEMA_PATH

    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    entry = schema["properties"]["pe"]["properties"]["by_epsilon"]["items"]["properties"]
    assert set(entry) - {"epsilon"} == set(EPSILON_SETTINGS)
    assert all(entry[key] == {"$ref": f"#/properties/pe/properties/{key}"} for key in EPSILON_SETTINGS)
