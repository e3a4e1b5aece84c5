"""The text_to_image API over a tiny random Stable Diffusion pipeline on CPU: shapes, byte-identical reruns, the
(class, prompt) state and its prompt kept through img2img, degrees, folder and prompt-map errors, describe()."""

import numpy as np
import pytest

from privevo.apis import APIS, carries_state
from privevo.apis.diffusion import ModelFolderError
from privevo.apis.text_to_image import (CLASS_COLUMN, PROMPT_COLUMN, TextToImageAPI, check_prompts,
                                        load_text_to_image_pipeline)
from privevo.core.errors import ParamsError
from privevo.pe import loop as pe

from tiny_text_to_image import TINY_RESOLUTION, build_tiny_pipeline

CLASS_NAMES = ["shirt", "trouser"]
PROMPTS = {"shirt": ["a shirt", "a t-shirt on a hanger"]}  # trouser keeps its name as its one prompt
STEPS = 3


def make_params(**pe_overrides) -> dict:
    params = {
        "device": "cpu",
        "data": {"labelled": True},
        "model": {"resize_method": "torch_bicubic", "mixed_precision": "fp32"},
        "pe": {"prompts": PROMPTS, "prompt": None, "num_inference_steps": STEPS, "batch_size": 4},
        "text_to_image": {"guidance_scale": 2.0, "resolution": None},
    }
    params["pe"].update(pe_overrides)
    return params


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory):
    return build_tiny_pipeline(tmp_path_factory.mktemp("tiny_sd"))


@pytest.fixture(scope="module")
def api(pipeline_dir):
    """Grey 28x28 private images, as Fashion-MNIST's: the pipeline's 16x16 RGB is resized and averaged."""
    return TextToImageAPI.from_params(make_params(), model_dir=pipeline_dir, image_shape=(28, 28, 1),
                                      class_names=CLASS_NAMES)


@pytest.fixture(scope="module")
def drawn(api):
    return api.random_with_state(6, class_index=0, seed=5)


def test_random_is_uint8_of_the_private_shape_and_reruns_to_the_same_bytes(api, drawn):
    images, state = drawn
    assert images.shape == (6, 28, 28, 1) and images.dtype == np.uint8
    assert state.shape == (6, 2) and state.dtype == np.int64
    again, again_state = api.random_with_state(6, class_index=0, seed=5)
    assert images.tobytes() == again.tobytes() and np.array_equal(state, again_state)
    assert not np.array_equal(images, api.random_with_state(6, class_index=0, seed=6)[0])


def test_rgb_private_shape_at_a_set_resolution(pipeline_dir):
    params = make_params()
    params["text_to_image"]["resolution"] = 8
    rgb = TextToImageAPI.from_params(params, model_dir=pipeline_dir, image_shape=(12, 12, 3), class_names=CLASS_NAMES)
    images, _ = rgb.random_with_state(2, class_index=1, seed=0)
    assert images.shape == (2, 12, 12, 3) and images.dtype == np.uint8
    assert rgb.describe()["model_image_shape"] == [8, 8, 3]


def test_resolution_and_guidance_are_checked(pipeline_dir):
    params = make_params()
    params["text_to_image"]["resolution"] = 9  # the tiny VAE halves the side: 9 has no latent grid
    with pytest.raises(ParamsError, match="text_to_image.resolution"):
        TextToImageAPI.from_params(params, model_dir=pipeline_dir, image_shape=(28, 28, 1), class_names=CLASS_NAMES)
    params["text_to_image"] = {"guidance_scale": -1.0, "resolution": None}
    with pytest.raises(ParamsError, match="text_to_image.guidance_scale"):
        TextToImageAPI.from_params(params, model_dir=pipeline_dir, image_shape=(28, 28, 1), class_names=CLASS_NAMES)


def test_state_rows_carry_the_class_and_a_drawn_prompt(api, drawn):
    _, state = drawn
    assert (state[:, CLASS_COLUMN] == 0).all()
    assert set(state[:, PROMPT_COLUMN]) == {0, 1}  # both of shirt's prompts, for this seed
    _, trouser_state = api.random_with_state(3, class_index=1, seed=5)
    assert (trouser_state == [1, 0]).all()


def test_variation_is_img2img_with_each_candidates_own_prompt(api, drawn, monkeypatch):
    images, state = drawn
    prompts_seen = []
    real = api.image_pipeline

    def spy(**kwargs):
        prompts_seen.extend(kwargs["prompt"])
        return real(**kwargs)

    monkeypatch.setattr(api, "image_pipeline", spy)
    varied, varied_state = api.variation_with_state(images, state, degree=2 / 3, seed=1)
    assert varied.shape == images.shape and varied.dtype == np.uint8
    assert np.array_equal(varied_state, state)
    assert prompts_seen == [PROMPTS["shirt"][p] for p in state[:, PROMPT_COLUMN]]
    assert not np.array_equal(varied, images)
    again, _ = api.variation_with_state(images, state, degree=2 / 3, seed=1)
    assert varied.tobytes() == again.tobytes()


def test_degree_zero_returns_a_copy_and_bad_degrees_are_params_errors(api, drawn):
    images, state = drawn
    same, same_state = api.variation_with_state(images, state, degree=0.0, seed=1)
    assert np.array_equal(same, images) and same is not images and np.array_equal(same_state, state)
    with pytest.raises(ParamsError, match="variation degree"):
        api.variation_with_state(images, state, degree=1.5, seed=1)
    with pytest.raises(ParamsError, match="0 of 3 steps"):
        api.variation_with_state(images, state, degree=0.1, seed=1)


def test_strength_reruns_check_degrees_number_of_steps_in_diffusers_count():
    # diffusers' img2img runs int(num_inference_steps * strength) steps.
    for steps_total in range(1, 60):
        api_like = type("A", (), {"num_inference_steps": steps_total})()
        for steps in range(1, steps_total + 1):
            assert int(steps_total * TextToImageAPI._strength(api_like, steps)) == steps


def test_variation_needs_matching_state(api, drawn):
    images, state = drawn
    with pytest.raises(ValueError, match="api_state"):
        api.variation_with_state(images, None, degree=0.5, seed=1)
    with pytest.raises(ValueError, match="names no prompt"):
        api.variation_with_state(images, np.array([[1, 1]] * len(images)), degree=0.5, seed=1)


def test_a_folder_that_is_no_pipeline_is_a_one_line_model_folder_error(tmp_path):
    with pytest.raises(ModelFolderError) as empty:
        load_text_to_image_pipeline(tmp_path)
    (tmp_path / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", '
                                               '"UNet2DConditionModel"]}')
    with pytest.raises(ModelFolderError) as broken:
        load_text_to_image_pipeline(tmp_path)
    for error in (empty, broken):
        message = str(error.value)
        assert "\n" not in message and str(tmp_path) in message and "text-to-image pipeline" in message


def test_prompt_maps_must_name_existing_classes(pipeline_dir):
    check_prompts(None, CLASS_NAMES)
    check_prompts({"trouser": ["jeans"]}, CLASS_NAMES)
    with pytest.raises(ParamsError, match=r"pe\.prompts.*'sandal'.*its classes are 'shirt', 'trouser'"):
        check_prompts({"sandal": ["a sandal"], "shirt": ["a shirt"]}, CLASS_NAMES)
    with pytest.raises(ParamsError, match="'sandal'"):
        TextToImageAPI.from_params(make_params(prompts={"sandal": ["a sandal"]}), model_dir=pipeline_dir,
                                   image_shape=(28, 28, 1), class_names=CLASS_NAMES)


def test_unlabelled_data_draws_one_population_with_pe_prompt(pipeline_dir):
    params = make_params(prompts=None, prompt="a photo")
    params["data"]["labelled"] = False
    unlabelled = TextToImageAPI.from_params(params, model_dir=pipeline_dir, image_shape=(28, 28, 1))
    assert unlabelled.describe()["prompts"] == {"all images": ["a photo"]}
    params["pe"]["prompt"] = None
    assert TextToImageAPI.from_params(params, model_dir=pipeline_dir, image_shape=(28, 28, 1)).prompts == [[""]]


def test_describe_names_resize_prompts_guidance_scheduler_and_weights(api, pipeline_dir):
    record = api.describe()
    assert record["model_image_shape"] == [TINY_RESOLUTION, TINY_RESOLUTION, 3]
    assert record["image_shape"] == [28, 28, 1] and record["channels"] == "RGB averaged to grey"
    assert record["resize_method"] == "torch_bicubic"
    assert record["prompts"] == {"shirt": PROMPTS["shirt"], "trouser": ["trouser"]}
    assert record["guidance_scale"] == 2.0 and record["scheduler"] == "DDIMScheduler"
    assert len(record["weights_sha256"]) == 64
    assert record["weights_sha256"] == TextToImageAPI.from_params(
        make_params(), model_dir=pipeline_dir, image_shape=(28, 28, 1), class_names=CLASS_NAMES
    ).describe()["weights_sha256"]


def test_registered_as_a_stateful_api():
    assert APIS.get("text_to_image") is TextToImageAPI and carries_state("text_to_image")


def test_pe_keeps_images_and_prompts_aligned(api):
    images, labels, state = pe.initial_population_with_state(api, classes=[0, 1], num_samples_per_class=2, seed=0)
    assert images.shape == (4, 28, 28, 1) and list(labels) == [0, 0, 1, 1]
    assert list(state[:, CLASS_COLUMN]) == [0, 0, 1, 1]
    varied, varied_state = pe.variation_population_with_state(api, images, labels, degree=2 / 3, iteration=1, seed=0,
                                                              state=state)
    assert varied.shape == images.shape and np.array_equal(varied_state, state)


def test_one_image_step_is_measured_before_a_run_and_a_long_cpu_run_is_warned_in_one_line(api):
    from privevo.config.plan import cpu_time_warning

    seconds = api.measure_seconds_per_image_step()
    assert 0 < seconds < 5  # the tiny UNet, one latent pair (guidance 2: two passes)
    plan = {"totals": {"image_steps": 145_000}}
    assert cpu_time_warning(plan, 1e-3, api="text_to_image") is None  # 145 s: fits
    line = cpu_time_warning(plan, 8.0, api="text_to_image")
    assert "145,000 image-steps at 8 s" in line and "322.22 h" in line and "\n" not in line
