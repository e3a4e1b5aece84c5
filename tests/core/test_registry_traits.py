"""Interchangeable parts own their traits: a new one is a module plus one registry line, declaring what the rest of
privevo asks about; an unknown name is one line listing the known ones."""

import numpy as np
import pytest

from privevo.apis import APIS, carries_state, make_api, uses_foundation_model
from privevo.core.registry import Registry, UnknownNameError
from privevo.embedders import EMBEDDERS, embedder_from_params
from privevo.pe.neighbours import NN_BACKENDS, nearest_neighbours


class FakeAPI:
    """A test-only API: grey squares of the class index's brightness."""

    def __init__(self, image_shape):
        self.image_shape = image_shape

    @classmethod
    def from_params(cls, params, *, model_dir, image_shape):
        return cls(image_shape)

    def random(self, num_images, *, seed, class_index=0, desc=""):
        return np.full((num_images, *self.image_shape), 10 * class_index, np.uint8)


class FakeEmbedder:
    def __init__(self, *, scale):
        self.scale = scale

    def embed(self, images, batch_size=64):
        return images.reshape(len(images), -1).astype(np.float32)[:, :2] * self.scale


def fake_search(queries, database, k):
    return np.zeros((len(queries), k), np.int64)


def test_a_registered_fake_api_is_built_and_its_traits_are_read_without_importing_it():
    APIS.add("fake", f"{__name__}:FakeAPI", foundation_model=False, stateful=False, public_pool=False,
             params_section=None, needs_gpu=False, reads=())
    try:
        assert uses_foundation_model("fake") is False and carries_state("fake") is False
        api = make_api({"pe": {"api": "fake"}}, "unused", image_shape=(4, 4, 1))
        assert api.random(2, seed=0, class_index=3).tolist() == np.full((2, 4, 4, 1), 30).tolist()
    finally:
        APIS.remove("fake")
    assert "fake" not in APIS


def test_a_registered_fake_embedder_is_built_from_the_params_it_declares_it_reads():
    EMBEDDERS.add("fake", f"{__name__}:FakeEmbedder", dim=2, resolution=None, reads={"scale": "embedding.scale"},
                  uses_device=False, needs_gpu=False, fd_metric="FD-fake")
    try:
        embedder = embedder_from_params({"device": "cpu", "embedding": {"name": "fake", "scale": 3.0}})
        assert embedder.scale == 3.0
        assert EMBEDDERS.trait("fake", "dim") == 2
    finally:
        EMBEDDERS.remove("fake")


def test_a_registered_fake_nn_backend_is_searched():
    NN_BACKENDS.add("fake", f"{__name__}:fake_search", exact=False, needs_gpu=False)
    try:
        assert nearest_neighbours(np.ones((3, 2), np.float32), np.ones((5, 2), np.float32), 2,
                                  backend="fake").shape == (3, 2)
    finally:
        NN_BACKENDS.remove("fake")


@pytest.mark.parametrize("registry", [APIS, EMBEDDERS, NN_BACKENDS])
def test_every_entry_declares_every_trait_its_registry_asks_for(registry):
    for name in registry.names():
        assert set(registry.required_traits) <= set(registry.traits(name)), name


def test_an_entry_missing_a_trait_is_refused_and_an_unknown_name_lists_the_known_ones():
    registry = Registry("widget", traits=("dim",))
    with pytest.raises(ValueError, match="must declare its trait"):
        registry.add("round", "x.y:Z")
    registry.add("round", "x.y:Z", dim=3)
    with pytest.raises(UnknownNameError, match=r"^params key widget\.name: unknown widget 'square'; choose from round$"):
        registry.check("square", key="widget.name")
    with pytest.raises(UnknownNameError):
        registry.check(["a", "list"])


def test_an_unknown_embedder_is_an_error_naming_the_key_not_a_silent_fallback():
    with pytest.raises(UnknownNameError, match=r"params key embedding\.name: unknown embedder 'clip'; choose from "
                                               r"lite0, pixels, inception"):
        embedder_from_params({"device": "cpu", "embedding": {"name": "clip"}})


def test_noise_sources_are_registered_with_their_traits_and_the_policy_picks_by_name():
    from privevo.pe.noise import NOISE_SOURCES, dp_noise_source, noise_record, noise_source

    assert set(NOISE_SOURCES.names()) == {"discrete-gaussian-opendp", "os-entropy", "secure",
                                          "reproducible-from-public-seed"}
    for name in NOISE_SOURCES.names():
        assert set(NOISE_SOURCES.required_traits) <= set(NOISE_SOURCES.traits(name))
    default = {"secure_noise": False, "reproducible_noise": False}
    assert (noise_source(default, seed=0, class_index=0, iteration=1).name == noise_record(default)["source"]
            == "discrete-gaussian-opendp")
    assert NOISE_SOURCES.trait("discrete-gaussian-opendp", "discrete") is True
    assert dp_noise_source(default).name == "os-entropy"  # DP-SGD's noise is continuous
    assert dp_noise_source({**default, "secure_noise": True}).name == "secure"
    debug = {**default, "reproducible_noise": True}
    assert noise_source(debug, seed=0, class_index=0, iteration=1).name == "reproducible-from-public-seed"
    assert dp_noise_source(debug).name == "os-entropy"  # DP-SGD never draws from a public seed
    assert NOISE_SOURCES.trait("reproducible-from-public-seed", "is_dp") is False
