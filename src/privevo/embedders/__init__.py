"""Image embedders (uint8 NHWC images -> float32 features) behind one registry; build one with make_embedder."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from privevo.core.registry import Registry, UnknownNameError

if TYPE_CHECKING:
    from privevo.embedders.base import Embedder
    from privevo.embedders.inception import (
        INCEPTION_ENV_VAR,
        INCEPTION_FILENAME,
        INCEPTION_URL,
        InceptionEmbedder,
        find_inception_weights,
    )
    from privevo.embedders.lite0 import Lite0Embedder
    from privevo.embedders.pixels import PixelEmbedder

# A new embedder: a module with an Embedder subclass plus one line here, declaring its traits:
#   dim          the feature length (None: it depends on the images, as for raw pixels)
#   resolution   the params key of the side it resizes images to (None: it keeps theirs)
#   reads        its constructor's options and the params keys they come from
#   uses_device  it takes the run's device (torch)
#   needs_gpu    it is impractical on a CPU
#   fd_metric    the name of a Frechet distance in its feature space (only Inception's is an FID)
EMBEDDERS = Registry("embedder", traits=("dim", "resolution", "reads", "uses_device", "needs_gpu", "fd_metric"),
                     entries={
    "lite0": ("privevo.embedders.lite0:Lite0Embedder",
              dict(dim=1280, resolution="embedding.resolution", reads={"resolution": "embedding.resolution"},
                   uses_device=True, needs_gpu=False, fd_metric="FD-Lite0")),
    "pixels": ("privevo.embedders.pixels:PixelEmbedder",
               dict(dim=None, resolution=None, reads={}, uses_device=False, needs_gpu=False, fd_metric="FD-pixels")),
    "inception": ("privevo.embedders.inception:InceptionEmbedder",
                  dict(dim=2048, resolution=None, reads={"weights_path": "embedding.inception_path"},
                       uses_device=True, needs_gpu=False, fd_metric="FID")),
})

# Re-exported names, imported on first access so that checking a name against EMBEDDERS imports no torch.
_EXPORTS = {
    "Embedder": "base",
    "Lite0Embedder": "lite0",
    "PixelEmbedder": "pixels",
    "InceptionEmbedder": "inception",
    "find_inception_weights": "inception",
    "INCEPTION_FILENAME": "inception",
    "INCEPTION_URL": "inception",
    "INCEPTION_ENV_VAR": "inception",
}

__all__ = ["EMBEDDERS", "make_embedder", "embedder_from_params", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


def make_embedder(name: str, **options: Any) -> Embedder:
    """Build the embedder registered as ``name`` in :data:`EMBEDDERS` with keyword ``options``.

    An unknown name raises :class:`~privevo.core.registry.UnknownNameError` (a ValueError) listing the
    registered names; options the embedder does not take raise ValueError.
    """
    try:
        factory = EMBEDDERS.get(name)
    except TypeError:  # an unhashable name, e.g. a list from a malformed params file
        raise UnknownNameError(f"unknown embedder {name!r}; choose from {', '.join(EMBEDDERS.names())}") from None
    try:
        return factory(**options)
    except TypeError as exc:
        raise ValueError(f"bad options {sorted(options)} for embedder {name!r}: {exc}") from exc


def _params_value(params: dict, dotted: str) -> Any:
    node = params
    for key in dotted.split("."):
        node = node[key]
    return node


def embedder_from_params(params: dict, name: str | None = None, *, key: str = "embedding.name") -> Embedder:
    """The embedder ``name`` (default: embedding.name, the votes' space) built from the params keys it declares it
    reads; an unknown name is one line naming ``key`` and the registered names."""
    name = name if name is not None else params["embedding"]["name"]
    traits = EMBEDDERS.traits(name, key=key)
    options = {option: _params_value(params, dotted) for option, dotted in traits["reads"].items()}
    if traits["uses_device"]:
        options["device"] = params["device"]
    return make_embedder(name, **options)
