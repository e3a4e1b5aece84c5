"""Finding installed Python packages (and so their data files) without importing them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from privevo.data.checks import DataSourceError


def _find_spec(package: str):
    try:
        return importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None


def has_package(package: str) -> bool:
    """Whether ``package`` is installed (it is not imported)."""
    return _find_spec(package) is not None


def package_dir(package: str, install_hint: str) -> Path:
    """The directory of an installed package; :class:`DataSourceError` with ``install_hint`` if it is missing."""
    spec = _find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataSourceError(f"Python package {package!r} is not installed. Install it with: {install_hint}")
    return Path(list(spec.submodule_search_locations)[0])
