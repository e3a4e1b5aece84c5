import subprocess
import sys

import pytest
import yaml

from privevo.config.params import ParamsError, load_params, privacy_tag, validate_params
from privevo.config.schedule import degree_of_iteration, population_sizes, variation_degrees

from conftest import ROOT, mutate


@pytest.fixture
def params():
    return load_params(ROOT / "params.yaml")


def test_shipped_params_validate():
    for name in ("params.yaml", "config/smoke.yaml"):
        assert load_params(ROOT / name)["privacy"]["delta"] == pytest.approx(1e-5)


def test_default_run_is_offline_fmnist_at_epsilon_1(params):
    assert params["privacy"]["epsilon"] == 1.0 and params["privacy"]["noise_multiplier"] is None
    assert params["model"]["source"] == "pretrain"
    # Votes on the raw pixels (chosen on the validation split, issue 11); features for the FD from Lite0.
    assert params["embedding"]["name"] == "pixels" and params["evaluation"]["fd_embedding"] == "lite0"
    # The simulator draws S_0..S_5, 1,000 per class until iteration 5's votes keep 200; the DDPM pretrained on
    # public data varies them from iteration 6 (lever 3 with the pop1000 lever's sizes).
    assert params["pe"]["api"] == "simulator"
    assert params["pe"]["api_schedule"] == [{"from_iteration": 5, "api": "simulator", "num_samples_per_class": 200},
                                            {"from_iteration": 6, "api": "diffusion"}]
    assert population_sizes(params) == [1000] * 5 + [200] * 4


def test_default_schedule_after_t_is_refused_with_the_key(params):
    with pytest.raises(ParamsError, match=r"pe\.api_schedule: from_iteration 6 is after the last iteration"):
        validate_params(mutate(params, "pe.num_iterations", 4))




@pytest.mark.parametrize("dotted,value", [
    ("pe.num_iterations", 0),
    ("pe.lookahead_degree", -1),
    ("pe.selection", "best"),
    ("privacy.delta", 2.0),
    ("model.block_out_channels", "wide"),
    ("embedding.name", "clip"),
])
def test_bad_value_names_the_key(params, dotted, value):
    with pytest.raises(ParamsError, match=dotted.replace(".", r"\.")):
        validate_params(mutate(params, dotted, value))


def test_unknown_key_is_named(params):
    bad = mutate(params, "pe.lookahead", 3)
    with pytest.raises(ParamsError, match=r"unknown key.*pe\.lookahead"):
        validate_params(bad)


def test_exactly_one_privacy_target(params):
    with pytest.raises(ParamsError, match="exactly one"):
        validate_params(mutate(params, "privacy.noise_multiplier", 3.0))
    fixed = mutate(mutate(params, "privacy.noise_multiplier", 3.0), "privacy.epsilon", None)
    assert privacy_tag(validate_params(fixed)) == "sigma_3"


def test_degree_schedule_has_one_degree_per_iteration(params):
    degrees = variation_degrees(params)
    assert len(degrees) == params["pe"]["num_iterations"]
    assert degrees[0] == 0.8 and degrees[-1] == 0.4  # {start, end} spans iterations 1..T
    assert degree_of_iteration(params, 1) == degrees[0] and degree_of_iteration(params, 8) == degrees[7]
    with pytest.raises(ValueError):
        degree_of_iteration(params, 0)
    with pytest.raises(ParamsError, match=r"pe\.variation_degrees.*num_iterations = 8"):
        validate_params(mutate(params, "pe.variation_degrees", [0.5, 0.4]))
    steps = params["pe"]["num_inference_steps"]
    with pytest.raises(ParamsError, match=rf"variation_degrees\[1\] \(iteration 2\).*0 of {steps} steps"):
        validate_params(mutate(params, "pe.variation_degrees", [0.5] + [0.01] * 7))


def test_single_iteration_linear_schedule_uses_start(params):
    one = mutate(mutate(params, "pe.num_iterations", 1), "pe.variation_degrees", {"start": 0.6, "end": 0.2})
    one = mutate(one, "pe.api_schedule", [])  # the default's switches at iterations 5 and 6 would be after T = 1
    one = mutate(one, "pe.num_samples_per_class", 200)  # and its 1,000 per class would exceed the release of 500
    assert variation_degrees(validate_params(one)) == [0.6]


def test_scientific_notation_without_dot_is_a_float(tmp_path, params):
    text = (ROOT / "params.yaml").read_text().replace("delta: 1.0e-5", "delta: 1e-5")
    path = tmp_path / "params.yaml"
    path.write_text(text)
    assert load_params(path)["privacy"]["delta"] == 1e-5


def test_cli_rejects_bad_params_before_work(tmp_path, params):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(mutate(params, "pe.histogram_threshold", -1)))
    proc = subprocess.run([sys.executable, "-m", "privevo", "validate-params", "--params", str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "pe.histogram_threshold" in proc.stderr


def test_yaml_12_scalars_as_dvc_writes_them(tmp_path):
    text = (ROOT / "params.yaml").read_text().replace("mixed_precision: auto", "mixed_precision: no")
    path = tmp_path / "params.yaml"
    path.write_text(text)
    # 'no' stays a string (YAML 1.2), so the schema names the key instead of seeing a boolean.
    with pytest.raises(ParamsError, match=r"model\.mixed_precision: 'no' is not one of"):
        load_params(path)
    assert load_params(ROOT / "params.yaml")["model"]["attention"] is False


def test_validation_split_needs_held_out_images():
    from privevo.config.layout import Layout

    params = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    params["evaluation"]["split"] = "validation"
    with pytest.raises(ParamsError, match="data.validation_fraction"):
        validate_params(params)
    params["data"]["validation_fraction"] = 0.05
    layout = Layout(validate_params(params))
    assert layout.evaluation_set.endswith("private_validation.npz")
    params["evaluation"]["split"] = "test"
    other = Layout(validate_params(params))
    assert other.evaluation_set.endswith("private_test.npz") and other.eval_dir != layout.eval_dir
    assert other.dpsgd_dir != layout.dpsgd_dir and other.real_downstream != layout.real_downstream


def test_default_threshold_in_votes_is_two_sigma_at_epsilon_one():
    # params.yaml states H = 21 votes is 2 sigma at epsilon 1; it holds at every epsilon, so epsilon 10 keeps
    # epsilon 1's selection pressure with less noise (README, issue 11's ablation).
    from privevo.accountants.gdp import noise_multiplier_for_epsilon
    from privevo.config.privacy import base_histogram_threshold as histogram_threshold

    params = load_params(ROOT / "params.yaml")
    assert params["pe"]["histogram_threshold_unit"] == "count" and params["privacy"]["epsilon"] == 1.0
    sigma = noise_multiplier_for_epsilon(epsilon=1.0, delta=params["privacy"]["delta"],
                                         num_iterations=params["pe"]["num_iterations"])
    assert sigma == pytest.approx(10.55, abs=0.01)
    assert histogram_threshold(params, sigma) == pytest.approx(2 * sigma, rel=0.01)
    assert histogram_threshold(params, sigma / 7.5) == histogram_threshold(params, sigma) == 21.0


@pytest.mark.parametrize("section, key, instead", [("data", "validation_size", "data.validation_fraction"),
                                                   ("data", "max_private_samples", "data.private_fraction"),
                                                   ("dpsgd", "max_samples", "dpsgd.private_fraction")])
def test_a_retired_count_key_is_refused_in_one_line_with_why_and_what_instead(tmp_path, section, key, instead):
    params = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    params[section][key] = 2000
    with pytest.raises(ParamsError) as caught:
        validate_params(params)
    message = str(caught.value)
    assert message.startswith(f"params key {section}.{key}: ") and "\n" not in message
    assert "positions" in message and instead in message
    # as an override too (`--set`), where an unknown key would otherwise only be "unknown"
    with pytest.raises(ParamsError, match=f"{section}.{key}: no longer accepted.*{instead}"):
        load_params(ROOT / "config" / "smoke.yaml", [f"{section}.{key}=2000"])


@pytest.mark.parametrize("dotted, value", [("data.validation_fraction", 1), ("data.validation_fraction", -0.1),
                                           ("data.private_fraction", 0), ("data.private_fraction", 1.5),
                                           ("dpsgd.private_fraction", 0), ("dpsgd.private_fraction", "all")])
def test_a_bad_fraction_is_refused_naming_its_key(dotted, value):
    params = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    with pytest.raises(ParamsError, match=f"params key {dotted}: "):
        validate_params(mutate(params, dotted, value))
    for good in (None, 1) if dotted.endswith("private_fraction") else (None, 0, 0.5):
        validate_params(mutate(params, dotted, good))


def test_a_one_image_class_passes_the_data_check_and_nothing_prints_a_count(tmp_path, capsys, caplog):
    """pe.num_nearest_neighbours counts candidates, not private images: a class of one image is valid (issue 40)."""
    from real_mode import write_image_folder

    write_image_folder(tmp_path / "private", per_class={"train": 1, "test": 1}, shape=(28, 28, 1),
                       class_names=["bags", "boots", "trousers"])
    params = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    params["data"].update(private_set="image_folder", private_dir=str(tmp_path / "private"), private_fraction=None)
    params["pe"].update(api="diffusion", api_schedule=[], num_nearest_neighbours=3)
    assert params["pe"]["num_samples_per_class"] >= 3
    caplog.set_level("DEBUG", logger="privevo")
    validate_params(params, check_data=True)
    out = capsys.readouterr()
    assert out.out == out.err == "" and caplog.text == ""
    with pytest.raises(ParamsError, match="pe.num_nearest_neighbours"):  # the public check stays
        validate_params(mutate(params, "pe.num_nearest_neighbours", params["pe"]["num_samples_per_class"] + 1))

