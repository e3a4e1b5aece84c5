"""A named registry of interchangeable parts, resolved lazily so that listing names imports nothing heavy."""

from __future__ import annotations

import importlib
from typing import Any


class UnknownNameError(ValueError):
    """A name that no registry entry has; the message lists the choices."""


class Registry:
    """Maps a name (as written in params.yaml) to ``"module:attribute"``, imported on first use.

    Adding an implementation is one line: ``REGISTRY.add("name", "privevo.apis.mine:MyAPI")``.
    """

    def __init__(self, kind: str, entries: dict[str, str] | None = None):
        self.kind = kind
        self._targets: dict[str, str] = {}
        for name, target in (entries or {}).items():
            self.add(name, target)

    def add(self, name: str, target: str) -> None:
        if name in self._targets:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        if ":" not in target:
            raise ValueError(f"{self.kind} {name!r}: target must look like 'package.module:attribute', got {target!r}")
        self._targets[name] = target

    def names(self) -> list[str]:
        return list(self._targets)

    def check(self, name: str, *, key: str | None = None) -> str:
        """``name`` if registered, else an error naming the params key and the choices."""
        if name not in self._targets:
            where = f"params key {key}: " if key else ""
            raise UnknownNameError(f"{where}unknown {self.kind} {name!r}; choose from {', '.join(self._targets)}")
        return name

    def get(self, name: str, *, key: str | None = None) -> Any:
        module, attribute = self._targets[self.check(name, key=key)].split(":")
        return getattr(importlib.import_module(module), attribute)

    def __contains__(self, name: object) -> bool:
        return name in self._targets
