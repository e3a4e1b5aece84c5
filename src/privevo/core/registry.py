"""A named registry of interchangeable parts that owns their traits, resolved lazily so that listing names or
reading traits imports nothing heavy."""

from __future__ import annotations

import importlib
from types import MappingProxyType
from typing import Any, Mapping


class UnknownNameError(ValueError):
    """A name that no registry entry has; the message lists the choices."""


class Registry:
    """Maps a name (as written in params.yaml) to ``"module:attribute"``, imported on first use, and to the
    traits the rest of privevo asks about (dimensions, resolution, the params it reads, whether it needs a GPU...).

    Adding an implementation is one line: ``REGISTRY.add("name", "privevo.apis.mine:MyAPI", needs_gpu=False, ...)``.
    A registry names the traits every entry must declare (``traits``), so a new part cannot forget one.
    """

    def __init__(self, kind: str, entries: dict[str, Any] | None = None, *, traits: tuple[str, ...] = ()):
        self.kind = kind
        self.required_traits = tuple(traits)
        self._targets: dict[str, str] = {}
        self._traits: dict[str, Mapping[str, Any]] = {}
        for name, entry in (entries or {}).items():
            target, declared = (entry, {}) if isinstance(entry, str) else entry
            self.add(name, target, **declared)

    def add(self, name: str, target: str, **traits: Any) -> None:
        if name in self._targets:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        if ":" not in target:
            raise ValueError(f"{self.kind} {name!r}: target must look like 'package.module:attribute', got {target!r}")
        missing = [t for t in self.required_traits if t not in traits]
        if missing:
            raise ValueError(f"{self.kind} {name!r} must declare its trait(s) {', '.join(missing)}")
        self._targets[name] = target
        self._traits[name] = MappingProxyType(dict(traits))

    def remove(self, name: str) -> None:
        """Unregister ``name`` (tests that register a fake take it out again)."""
        self.check(name)
        del self._targets[name], self._traits[name]

    def names(self) -> list[str]:
        return list(self._targets)

    def names_where(self, trait: str, value: Any = True) -> list[str]:
        """The names whose ``trait`` equals ``value``."""
        return [name for name, traits in self._traits.items() if traits.get(trait) == value]

    def check(self, name: str, *, key: str | None = None) -> str:
        """``name`` if registered, else an error naming the params key and the choices."""
        try:
            known = name in self._targets
        except TypeError:  # an unhashable name, e.g. a list from a malformed params file
            known = False
        if not known:
            where = f"params key {key}: " if key else ""
            raise UnknownNameError(f"{where}unknown {self.kind} {name!r}; choose from {', '.join(self._targets)}")
        return name

    def traits(self, name: str, *, key: str | None = None) -> Mapping[str, Any]:
        """What ``name`` declared when it was registered (read-only), without importing it."""
        return self._traits[self.check(name, key=key)]

    def trait(self, name: str, trait: str, *, key: str | None = None) -> Any:
        traits = self.traits(name, key=key)
        if trait not in traits:
            raise KeyError(f"{self.kind} {name!r} declares no trait {trait!r} (it declares {', '.join(traits)})")
        return traits[trait]

    def get(self, name: str, *, key: str | None = None) -> Any:
        module, attribute = self._targets[self.check(name, key=key)].split(":")
        return getattr(importlib.import_module(module), attribute)

    def __contains__(self, name: object) -> bool:
        try:
            return name in self._targets
        except TypeError:
            return False
