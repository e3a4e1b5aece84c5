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

# A new embedder: a module with an Embedder subclass plus one line here.
EMBEDDERS = Registry("embedder", {
    "lite0": "privevo.embedders.lite0:Lite0Embedder",
    "pixels": "privevo.embedders.pixels:PixelEmbedder",
    "inception": "privevo.embedders.inception:InceptionEmbedder",
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

__all__ = ["EMBEDDERS", "make_embedder", *_EXPORTS]


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
