import numpy as np
import pytest

from privevo.config.params import ParamsError
from privevo.apis.diffusion import DiffusionAPI, ModelFolderError
from privevo.models.ddpm import build_unet


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    from diffusers import DDPMScheduler

    folder = tmp_path_factory.mktemp("model")
    build_unet(image_size=28, channels=1, block_out_channels=[8, 16], layers_per_block=1, attention=False) \
        .save_pretrained(folder / "unet")
    DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2").save_pretrained(folder / "scheduler")
    return DiffusionAPI.from_pretrained(folder, num_inference_steps=10, batch_size=4, device="cpu")


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    images = np.zeros((6, 28, 28, 1), np.uint8)
    images[:, 6:22, 8:20] = rng.integers(120, 255, size=(6, 16, 12, 1))
    return images


def test_random_shapes_dtype_and_seeding(api):
    a = api.random(5, seed=1)
    assert a.shape == (5, 28, 28, 1) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, api.random(5, seed=1))
    assert not np.array_equal(a, api.random(5, seed=2))


def test_degree_zero_returns_the_image(api, images):
    np.testing.assert_array_equal(api.variation(images, degree=0.0, seed=3), images)


def test_small_degree_stays_close_large_degree_moves_away(api, images):
    def distance(x):
        return np.abs(x.astype(float) - images.astype(float)).mean()

    small = distance(api.variation(images, degree=0.1, seed=3))
    large = distance(api.variation(images, degree=0.9, seed=3))
    assert small < 20 < large


def test_maximum_degree_is_a_fresh_sample(api, images):
    np.testing.assert_array_equal(api.variation(images, degree=1.0, seed=7), api.random(len(images), seed=7))


def test_variation_shapes_and_batch_independence(api, images):
    out = api.variation(images, degree=0.5, seed=11)
    assert out.shape == images.shape and out.dtype == np.uint8
    api.batch_size, old = 6, api.batch_size
    try:
        again = api.variation(images, degree=0.5, seed=11)
    finally:
        api.batch_size = old
    assert np.abs(out.astype(int) - again.astype(int)).max() <= 1


@pytest.mark.parametrize("degree", [1.5, -0.1, 0.04])
def test_bad_degree_is_rejected(api, images, degree):
    with pytest.raises(ParamsError, match="degree"):
        api.variation(images, degree=degree, seed=0)


def test_missing_model_folder_names_what_to_place(tmp_path):
    with pytest.raises(ModelFolderError, match="config.json.*model.local_path"):
        DiffusionAPI.from_pretrained(tmp_path / "nope", num_inference_steps=5)


@pytest.mark.gpu
def test_cuda_and_cpu_variations_agree(tmp_path, images):
    """On a GPU the same seeded call gives (nearly) the same images: noise is drawn on the CPU."""
    from diffusers import DDPMScheduler

    build_unet(image_size=28, channels=1, block_out_channels=[8, 16], layers_per_block=1, attention=False) \
        .save_pretrained(tmp_path / "unet")
    DDPMScheduler(num_train_timesteps=1000).save_pretrained(tmp_path / "scheduler")
    cpu = DiffusionAPI.from_pretrained(tmp_path, num_inference_steps=10, device="cpu")
    gpu = DiffusionAPI.from_pretrained(tmp_path, num_inference_steps=10, device="cuda")
    diff = np.abs(cpu.variation(images, degree=0.5, seed=1).astype(int) - gpu.variation(images, degree=0.5, seed=1))
    assert diff.mean() < 2


@pytest.mark.parametrize("method", ["torch_bicubic", "pil_bicubic"])
def test_a_model_at_another_resolution_serves_the_private_shape(tmp_path, images, method):
    from real_mode import write_tiny_model

    write_tiny_model(tmp_path, size=32, channels=3)
    api = DiffusionAPI.from_pretrained(tmp_path, num_inference_steps=4, batch_size=4, device="cpu",
                                       image_shape=(28, 28, 1), resize_method=method)
    samples = api.random(3, seed=0)
    assert samples.shape == (3, 28, 28, 1) and samples.dtype == np.uint8
    varied = api.variation(images, degree=0.5, seed=1)
    assert varied.shape == images.shape and varied.dtype == np.uint8
    np.testing.assert_array_equal(varied, api.variation(images, degree=0.5, seed=1))
    record = api.describe()
    assert record["model_image_shape"] == [32, 32, 3] and record["image_shape"] == [28, 28, 1]
    assert record["resize_method"] == method and record["channels"] == "RGB averaged to grey"


def test_same_resolution_reports_no_resize(api):
    assert api.describe()["resize"] == "none (same resolution)" and api.describe()["resize_method"] is None


def test_a_class_conditional_model_draws_the_class_it_is_told(tmp_path, images):
    import torch
    from diffusers import DDPMScheduler, UNet2DModel

    from privevo.core import seeding
    from privevo.pe.loop import initial_population, variation_population

    torch.manual_seed(0)
    UNet2DModel(sample_size=28, in_channels=1, out_channels=1, layers_per_block=1, block_out_channels=(8, 16),
                down_block_types=("DownBlock2D",) * 2, up_block_types=("UpBlock2D",) * 2, norm_num_groups=4,
                num_class_embeds=12).save_pretrained(tmp_path / "unet")
    DDPMScheduler(num_train_timesteps=1000).save_pretrained(tmp_path / "scheduler")
    api = DiffusionAPI.from_pretrained(tmp_path, num_inference_steps=3, batch_size=4, device="cpu",
                                       class_labels=[11 - c for c in range(10)])
    assert api.class_conditional and api.class_labels[0] == 11
    # The same noise drawn for two classes gives two images: the class embedding is used.
    assert not np.array_equal(api.random(2, seed=0, class_index=0), api.random(2, seed=0, class_index=1))
    with pytest.raises(ValueError, match="class_index"):
        api.random(2, seed=0)
    # PE's loop tells it the class of every call.
    s0, labels = initial_population(api, classes=[0, 1], num_samples_per_class=2, seed=0)
    stream = seeding.torch_seed(0, role="random", class_index=0, iteration=0)
    np.testing.assert_array_equal(s0[:2], api.random(2, seed=stream, class_index=0))
    assert variation_population(api, s0, labels, degree=0.5, iteration=1, seed=0).shape == s0.shape


def test_class_labels_for_an_unconditional_model_name_the_key(tmp_path):
    from real_mode import write_tiny_model

    write_tiny_model(tmp_path, size=32, channels=3)
    with pytest.raises(ParamsError, match="model.class_labels"):
        DiffusionAPI.from_pretrained(tmp_path, num_inference_steps=3, device="cpu", class_labels=list(range(10)))


def test_dpm_solver_sampler_draws_and_varies_deterministically(tmp_path, images):
    from diffusers import DDPMScheduler

    build_unet(image_size=28, channels=1, block_out_channels=[8, 16], layers_per_block=1, attention=False) \
        .save_pretrained(tmp_path / "unet")
    DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2").save_pretrained(tmp_path / "scheduler")
    api = DiffusionAPI.from_pretrained(tmp_path, num_inference_steps=6, batch_size=4, device="cpu",
                                       sampler="dpm_solver")
    samples = api.random(6, seed=1)  # two batches: each starts from a fresh solver history
    assert samples.shape == (6, 28, 28, 1)
    np.testing.assert_array_equal(samples[4:], api.random(6, seed=1)[4:])
    np.testing.assert_array_equal(api.variation(images, degree=0.5, seed=2), api.variation(images, degree=0.5, seed=2))
    near = np.abs(api.variation(images, degree=1 / 6, seed=2).astype(int) - images).mean()
    far = np.abs(api.variation(images, degree=1.0, seed=2).astype(int) - images).mean()
    assert near < far
    with pytest.raises(ParamsError, match="pe.sampler"):
        DiffusionAPI.from_pretrained(tmp_path, num_inference_steps=6, device="cpu", sampler="euler")


@pytest.mark.parametrize("sampler", ["ddim", "dpm_solver"])
def test_the_first_step_from_pure_noise_stays_in_the_noised_datas_range(sampler):
    """At t = 999 of the cosine schedule alpha_bar is 2.4e-9, so a clean-image prediction from a noise predictor
    10% off is about 2,000 wide unless it is clipped. DDIM clips it (the model's clip_sample); DPM-Solver++ must
    too: unclipped, the next sample is hundreds wide, far outside anything the UNet was trained on, and every pixel
    of a fresh sample saturated (the old DDPM run's S_0)."""
    import torch
    from diffusers import DDPMScheduler

    from privevo.apis.diffusion import make_sampler

    config = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2").config
    scheduler = make_sampler(sampler, config)
    scheduler.set_timesteps(10)
    t = scheduler.timesteps[0]
    alpha, sigma = scheduler.alphas_cumprod[t].sqrt(), (1 - scheduler.alphas_cumprod[t]).sqrt()
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(64, 1, 8, 8, generator=generator)
    eps = (x - alpha * 0.5) / sigma + 0.1 * torch.randn(x.shape, generator=generator)  # data: the constant 0.5
    after = scheduler.step(eps, t, x).prev_sample
    assert after.abs().max() < 5
