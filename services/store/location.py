"""Where stored state lives: the data directory for SQLite files, or the PostgreSQL URL from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR_ENV = "PLAYGROUND_DATA_DIR"
DATABASE_URL_ENV = "PLAYGROUND_DATABASE_URL"
_POSTGRES_SCHEMES = ("postgresql", "postgres")


class StoreConfigError(ValueError):
    """PLAYGROUND_DATABASE_URL is not a URL the stores can use; the message names the variable, never a password."""


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The directory for local state: `PLAYGROUND_DATA_DIR` when set, else `.data/` at the repository root."""
    env = os.environ if environ is None else environ
    configured = env.get(DATA_DIR_ENV, "").strip()
    return Path(configured).expanduser() if configured else REPO_ROOT / ".data"


def redact_url(url: str) -> str:
    """The URL without its password or query (which may carry one): safe for a message or a log."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable URL>"
    user = f"{parts.username}@" if parts.username else ""
    host = f"[{host}]" if ":" in host else host
    return urlunsplit((parts.scheme, f"{user}{host}{port}", parts.path, "", ""))


def url_password(url: str) -> str | None:
    """The password in the URL (to mask it in driver messages), if any."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None


@dataclass(frozen=True)
class Location:
    """Either a directory of SQLite files (`directory`) or one PostgreSQL database (`url`)."""

    directory: Path | None = None
    url: str | None = None


def location_from_env(environ: Mapping[str, str] | None = None) -> Location:
    """PLAYGROUND_DATABASE_URL read now: empty -> SQLite files in the data directory; `postgresql://...` ->
    PostgreSQL; `sqlite://` -> the data directory, `sqlite:///dir` -> SQLite files in `dir`; anything else raises
    StoreConfigError naming the variable."""
    env = os.environ if environ is None else environ
    raw = env.get(DATABASE_URL_ENV, "").strip()
    if not raw:
        return Location(directory=data_dir(env))
    return parse_location(raw, environ=env)


def parse_location(raw: str, *, environ: Mapping[str, str] | None = None) -> Location:
    """A database URL as a Location (see `location_from_env`)."""
    scheme = raw.split(":", 1)[0].lower() if ":" in raw else ""
    if scheme in _POSTGRES_SCHEMES:
        try:
            parts = urlsplit(raw)
            parts.port  # noqa: B018 - a bad port raises here, not in the driver
        except ValueError as exc:
            raise StoreConfigError(f"{DATABASE_URL_ENV} is not a valid URL ({redact_url(raw)}): {exc}") from None
        if not parts.hostname and "host=" not in parts.query:
            raise StoreConfigError(f"{DATABASE_URL_ENV} names no host: {redact_url(raw)}")
        return Location(url=raw)
    if scheme == "sqlite":
        path = urlsplit(raw).path
        return Location(directory=Path(path) if path not in ("", "/") else data_dir(environ))
    # Only a scheme://... value can be shown without its password; anything else is not repeated.
    shown = redact_url(raw) if "://" in raw else "a value that is not a URL"
    raise StoreConfigError(
        f"{DATABASE_URL_ENV} must be empty (SQLite files in the data directory), a postgresql:// URL or a sqlite://"
        f" URL, not {shown}."
    )
