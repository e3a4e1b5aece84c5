"""The accountant registry: each accountant declared at its registry line with what it computes.

An accountant is a function ``(event, *, delta) -> epsilon`` (an upper bound at ``delta``) of one self-composed
mechanism, an event dict of :data:`~privevo.accountants.validation.EVENT_KEYS`:

- ``{"kind": "gaussian", "noise_multiplier": s, "count": T}``: T Gaussian releases with L2 sensitivity 1
  (PE's histograms, continuous noise);
- ``{"kind": "discrete_gaussian", "noise_multiplier": s, "count": T, "votes_per_sample": m}``: T releases of integer
  votes (m per private sample) plus discrete Gaussian noise of scale s * sqrt(m) (PE's exact histograms);
- ``{"kind": "poisson_gaussian", "sample_rate": q, "noise_multiplier": s, "count": steps}``: DP-SGD steps.

Its traits (:class:`privevo.core.registry.Registry`): ``computes``, the kinds it accounts; ``description``,
what the records' ``accountant_description`` says; optionally ``exact_inverse``, ``"module:function"`` giving
the noise multiplier of Gaussian releases for an epsilon ``(*, epsilon, delta, num_iterations)`` exactly
(calibration otherwise searches for it).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable

from privevo.accountants.validation import UnknownAccountantError
from privevo.core.registry import Registry, UnknownNameError

KINDS = {
    "gaussian": "Gaussian releases (PE's histograms, continuous noise)",
    "discrete_gaussian": "exact discrete Gaussian releases of integer votes (PE's histograms, the default)",
    "poisson_gaussian": "Poisson-subsampled Gaussian steps (DP-SGD)",
}


def _resolve(target: str) -> Callable:
    module, attribute = target.split(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class Accountant:
    """One registered accountant, resolved on use (so a monkeypatched function is the one called)."""

    name: str
    target: str
    traits: Mapping[str, Any]

    @property
    def computes(self) -> tuple[str, ...]:
        return tuple(self.traits["computes"])

    @property
    def description(self) -> str:
        return self.traits["description"]

    def epsilon(self, event: dict, *, delta: float) -> float:
        """The epsilon at ``delta`` of one event (a validated event dict of a kind it computes)."""
        return float(_resolve(self.target)(event, delta=delta))

    def inverse(self) -> Callable | None:
        """The exact noise multiplier of Gaussian releases for an epsilon, where declared."""
        target = self.traits.get("exact_inverse")
        return None if target is None else _resolve(target)

    def __call__(self, **kwargs) -> dict:
        """PE's calibration by this accountant (:func:`privevo.accountants.gdp.calibrate`): the registry's contract
        ``ACCOUNTANTS.get(name)(delta=..., num_iterations=..., epsilon=...)`` returns its record."""
        from privevo.accountants.gdp import calibrate

        return calibrate(accountant=self.name, **kwargs)


class AccountantRegistry(Registry):
    """:class:`~privevo.core.registry.Registry` of accountants; :meth:`check` and :meth:`get` also take
    ``computes``, a kind, and refuse in one line an accountant that does not compute it, naming those that do."""

    def __init__(self, entries: dict[str, Any] | None = None):
        super().__init__("accountant", entries, traits=("computes", "description"))

    def add(self, name: str, target: str, **traits: Any) -> None:
        computes = tuple(traits.get("computes") or ())
        unknown = [kind for kind in computes if kind not in KINDS]
        if "computes" in traits and (not computes or unknown or isinstance(traits["computes"], str)):
            raise ValueError(f"accountant {name!r}: computes must be a non-empty tuple of {', '.join(KINDS)}, "
                             f"got {traits['computes']!r}")
        if traits.get("exact_inverse") is not None and "gaussian" not in computes:
            raise ValueError(f"accountant {name!r}: an exact_inverse needs computes to include 'gaussian'")
        super().add(name, target, **{**traits, **({"computes": computes} if "computes" in traits else {})})

    def computing(self, kind: str) -> list[str]:
        """The names of the accountants that compute ``kind``."""
        return [name for name in self.names() if kind in self._traits[name]["computes"]]

    def describe(self, name: str) -> str:
        return self.trait(name, "description")

    def check(self, name: str, *, key: str | None = None, computes: str | None = None) -> str:
        """``name`` if registered (and computing ``computes``), else one error line naming the choices."""
        if computes is None:
            try:
                return super().check(name, key=key)
            except UnknownNameError as err:
                raise UnknownAccountantError(str(err)) from None
        where = f"params key {key}: " if key else ""
        choices = ", ".join(self.computing(computes))
        if name not in self:
            raise UnknownAccountantError(f"{where}unknown {self.kind} {name!r}; choose from {choices}")
        if computes not in self._traits[name]["computes"]:
            raise UnknownAccountantError(f"{where}{self.kind} {name!r} does not compute {KINDS[computes]}; choose from "
                                         f"{choices}")
        return name

    def get(self, name: str, *, key: str | None = None, computes: str | None = None) -> Accountant:
        name = self.check(name, key=key, computes=computes)
        return Accountant(name, self._targets[name], self._traits[name])
