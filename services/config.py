"""Deployments from a TOML file and the environment.

Sources, later ones winning field by field:
1. the TOML file (`PLAYGROUND_CONFIG`, default `deployments.toml` at the repository root) with `[deployments.<name>]`;
2. `.streamlit/secrets.toml` (path in `PLAYGROUND_SECRETS`), whose `[deployments.<name>]` tables add or override
   fields, typically only `key` and `extra_headers` (merged header by header), so secrets stay out of the shared file;
3. the embedded endpoint's three deployments when `PLAYGROUND_LOCAL_ENDPOINT` is set (only names not yet defined);
4. the seed variables `AZUREAI_ENDPOINT_URL` (+ `AZUREAI_ENDPOINT_KEY`) as a deployment `default` (if not defined);
5. `PLAYGROUND_DEPLOYMENTS__<NAME>__<FIELD>` variables (name and field case-insensitive, `-` and `_` alike).
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ApiKind = Literal["azure-inference", "azure-openai", "openai", "github"]
KeySource = Literal["file", "secrets", "environment", "session", "none"]

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO_ROOT / "deployments.toml"
DEFAULT_SECRETS = REPO_ROOT / ".streamlit" / "secrets.toml"
ENV_PREFIX = "PLAYGROUND_DEPLOYMENTS__"
LOCAL_API_VERSION = "2024-05-01-preview"
# The embedded endpoint's deployments (docs/DEVELOPING.md); served at {base}/{name}.
LOCAL_DEPLOYMENTS = ("smollm2-135m-instruct", "all-minilm-l6-v2", "image-descriptor")


class Deployment(BaseModel):
    """One model deployment the playground can talk to.

    The key and every extra header value are SecretStr: they never show in repr, str or model_dump_json; read them
    with `get_secret_value()` (or `header_values()`) only where a request is built.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    endpoint: str
    key: SecretStr | None = None
    api: ApiKind = "azure-inference"
    model: str | None = None
    api_version: str | None = None
    auth: Literal["key", "entra"] = "key"
    extra_headers: dict[str, SecretStr] = Field(default_factory=dict)
    azureml_deployment: str | None = None
    price_per_1k_input: float | None = Field(default=None, ge=0)
    price_per_1k_output: float | None = Field(default=None, ge=0)
    connect_timeout: float = Field(default=10.0, gt=0)
    read_timeout: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=3, ge=0, le=10)
    key_source: KeySource = "none"

    def __hash__(self) -> int:
        # The default frozen hash fails on the extra_headers dict. Secrets show masked in the JSON, so they are never
        # hashed; deployments differing only in a secret share a hash, and equality still tells them apart.
        return hash(self.model_dump_json())

    def header_values(self) -> dict[str, str]:
        """The extra headers with their values unwrapped, for the request itself (never for display or storage)."""
        return {name: value.get_secret_value() for name, value in self.extra_headers.items()}

    def secret_values(self) -> list[str]:
        """Every secret this deployment holds (key and header values), for redaction and fingerprints."""
        secrets = [self.key.get_secret_value()] if self.key is not None else []
        return secrets + list(self.header_values().values())

    @field_validator("endpoint")
    @classmethod
    def _endpoint_is_http_url(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith(("http://", "https://")) or len(value) <= len("https://"):
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value.rstrip("/")

    @field_validator("key", mode="before")
    @classmethod
    def _blank_key_is_none(cls, value: Any) -> Any:
        # An empty key would send an empty Bearer header, which the API rejects.
        if isinstance(value, str) and not value.strip():
            return None
        return value


class ConfigError(Exception):
    """A configuration problem; the message names the file (or variable), the deployment and the field."""

    def __init__(self, message: str, *, source: str, deployment: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.source = source
        self.deployment = deployment
        self.field = field


class Settings(BaseSettings):
    """All configured deployments keyed by name. Build it with `load_settings`, which merges the sources."""

    # load_settings merges file and environment itself (case-insensitive names, key_source), so only init values count.
    model_config = SettingsConfigDict(extra="forbid")

    deployments: dict[str, Deployment] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def _normalise(name: str) -> str:
    return name.strip().lower().replace("-", "_")


_FIELDS = {_normalise(name): name for name in Deployment.model_fields if name not in ("name", "key_source")}


def _describe(error: dict[str, Any]) -> tuple[str, str]:
    """The field path and a readable reason for one pydantic error."""
    loc = [str(part) for part in error.get("loc", ())]
    field = ".".join(loc) if loc else "(deployment)"
    if error.get("type") == "extra_forbidden":
        return field, f"unknown field (known: {', '.join(sorted(_FIELDS.values()))})"
    if error.get("type") == "missing":
        return field, "required field is missing"
    reason = str(error.get("msg", "invalid value"))
    # Secrets are never echoed back: a wrong key or header value still shows only its field.
    secret = loc[:1] in (["key"], ["extra_headers"])
    if "input" in error and error.get("type") != "value_error" and not secret:
        reason += f" (got {error['input']!r})"
    return field, reason


def _build(name: str, values: dict[str, Any], source: str, origins: Mapping[str, str] | None = None) -> Deployment:
    try:
        return Deployment(name=name, **values)
    except ValidationError as exc:
        field, reason = _describe(exc.errors(include_url=False)[0])
        where = (origins or {}).get(field.split(".")[0], source)
        raise ConfigError(
            f"{where}: deployment {name!r}, field {field!r}: {reason}", source=where, deployment=name, field=field
        ) from None


def _file_exists(path: Path) -> bool:
    """Whether `path` exists; a path the system cannot look up at all (e.g. a name too long) is a ConfigError."""
    try:
        return path.exists()
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}", source=str(path)) from None


def _has_key(value: Any) -> bool:
    """Whether a key value will be sent: a blank string is no key (the Deployment validator makes it None)."""
    return value is not None and not (isinstance(value, str) and not value.strip())


def _deployment_tables(path: Path, *, other_tables_allowed: bool) -> dict[str, dict[str, Any]]:
    """The `[deployments.<name>]` tables of a TOML file, checked for shape; {} when the file does not exist."""
    if not _file_exists(path):
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        # The parser's message gives line and column only, never the offending text, so no secret leaks here.
        raise ConfigError(f"{path}: not valid TOML: {exc}", source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}", source=str(path)) from None
    unknown = sorted(set(data) - {"deployments"})
    if unknown and not other_tables_allowed:
        raise ConfigError(
            f"{path}: unknown top-level table {unknown[0]!r} (expected [deployments.<name>])",
            source=str(path),
            field=unknown[0],
        )
    tables = data.get("deployments", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"{path}: 'deployments' must be a table", source=str(path), field="deployments")
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise ConfigError(
                f"{path}: deployment {name!r} must be a table [deployments.{name}]", source=str(path), deployment=name
            )
        for field in ("name", "key_source"):
            if field in table:
                raise ConfigError(
                    f"{path}: deployment {name!r}, field {field!r}: set by the loader, remove it from the file",
                    source=str(path),
                    deployment=name,
                    field=field,
                )
    return tables


def _read_file(path: Path, explicit: bool) -> dict[str, dict[str, Any]]:
    if explicit and not _file_exists(path):
        raise ConfigError(f"{path}: configuration file not found", source=str(path))
    result: dict[str, dict[str, Any]] = {}
    for name, table in _deployment_tables(path, other_tables_allowed=False).items():
        values = dict(table)
        values["key_source"] = "file" if _has_key(values.get("key")) else "none"
        _build(name, values, str(path))  # validates now so the error names the file
        result[name] = values
    return result


def _read_secrets(path: Path) -> dict[str, dict[str, Any]]:
    """The `[deployments.<name>]` tables of the Streamlit secrets file; other tables hold other secrets."""
    return _deployment_tables(path, other_tables_allowed=True)


def _environment_overrides(environ: Mapping[str, str]) -> dict[str, dict[str, tuple[str, str]]]:
    """`{normalised name: {field: (value, variable)}}` from PLAYGROUND_DEPLOYMENTS__<NAME>__<FIELD>."""
    found: dict[str, dict[str, tuple[str, str]]] = {}
    for variable, value in environ.items():
        if not variable.upper().startswith(ENV_PREFIX):
            continue
        rest = variable[len(ENV_PREFIX) :]
        parts = rest.split("__")
        if len(parts) < 2 or not parts[0]:
            raise ConfigError(f"environment variable {variable}: expected {ENV_PREFIX}<NAME>__<FIELD>", source=variable)
        name, field = _normalise(parts[0]), _normalise(parts[1])
        if field == "extra_headers" and len(parts) == 3:
            field = f"extra_headers.{parts[2]}"
        elif field not in _FIELDS or len(parts) > 2:
            bad = "__".join(parts[1:]).lower()
            known = ", ".join(sorted(_FIELDS.values()))
            raise ConfigError(
                f"environment variable {variable}: deployment {name!r}, field {bad!r}: unknown field (known: {known})",
                source=variable,
                deployment=name,
                field=bad,
            )
        found.setdefault(name, {})[field] = (value, variable)
    return found


def _apply_overrides(
    name: str, values: dict[str, Any], overrides: Mapping[str, tuple[str, str]], origins: dict[str, str]
) -> None:
    for field, (raw, variable) in overrides.items():
        if field.startswith("extra_headers."):
            values["extra_headers"] = {**values.get("extra_headers", {}), field.split(".", 1)[1]: raw}
            origins["extra_headers"] = f"environment variable {variable}"
            continue
        value: Any = raw
        if _FIELDS[field] == "extra_headers":
            try:
                value = json.loads(raw)
            except json.JSONDecodeError:
                raise ConfigError(
                    f"environment variable {variable}: deployment {name!r}, field 'extra_headers': "
                    'expected a JSON object such as {"x-header": "value"}',
                    source=variable,
                    deployment=name,
                    field="extra_headers",
                ) from None
        values[_FIELDS[field]] = value
        origins[_FIELDS[field]] = f"environment variable {variable}"
        if _FIELDS[field] == "key":
            values["key_source"] = "environment" if raw.strip() else "none"


def load_settings(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the deployments from the TOML file and the environment; raise ConfigError for anything invalid."""
    env = os.environ if environ is None else environ
    explicit = path is not None or bool(env.get("PLAYGROUND_CONFIG"))
    config_path = Path(path if path is not None else env.get("PLAYGROUND_CONFIG") or DEFAULT_CONFIG)
    raw = _read_file(config_path, explicit)
    sources = {name: str(config_path) for name in raw}

    secrets_path = Path(env.get("PLAYGROUND_SECRETS") or DEFAULT_SECRETS)
    secret_origins: dict[str, dict[str, str]] = {}
    by_normalised_file = {_normalise(name): name for name in raw}
    for secret_name, fields in _read_secrets(secrets_path).items():
        name = by_normalised_file.get(_normalise(secret_name), secret_name)
        if name not in raw:
            raw[name] = {}
            sources[name] = str(secrets_path)
        for field, value in fields.items():
            current = raw[name].get(field)
            if field == "extra_headers" and isinstance(current, dict) and isinstance(value, dict):
                # Header values are secrets too: the shared file may name headers, the secrets file adds their values.
                raw[name][field] = {**current, **value}
            else:
                raw[name][field] = value
        if "key" in fields:
            raw[name]["key_source"] = "secrets" if _has_key(fields["key"]) else "none"
        secret_origins[name] = dict.fromkeys(fields, str(secrets_path))

    local_base = env.get("PLAYGROUND_LOCAL_ENDPOINT", "").strip().rstrip("/")
    if local_base:
        local_key = env.get("LOCAL_ENDPOINT_KEY") or None
        for name in LOCAL_DEPLOYMENTS:
            if name not in raw:
                raw[name] = {
                    "endpoint": f"{local_base}/{name}",
                    "api_version": LOCAL_API_VERSION,
                    "key": local_key,
                    "key_source": "environment" if _has_key(local_key) else "none",
                }
                sources[name] = "environment variable PLAYGROUND_LOCAL_ENDPOINT"

    seed_url = env.get("AZUREAI_ENDPOINT_URL", "").strip()
    if seed_url and "default" not in raw:
        seed_key = env.get("AZUREAI_ENDPOINT_KEY") or None
        raw["default"] = {
            "endpoint": seed_url,
            "key": seed_key,
            "key_source": "environment" if _has_key(seed_key) else "none",
        }
        sources["default"] = "environment variable AZUREAI_ENDPOINT_URL"

    by_normalised = {_normalise(name): name for name in raw}
    deployments: dict[str, Deployment] = {}
    overrides = _environment_overrides(env)
    for normalised, fields in overrides.items():
        if normalised not in by_normalised:
            raw[normalised] = {}
            by_normalised[normalised] = normalised
            sources[normalised] = f"environment variable {next(iter(fields.values()))[1]}"
    for name, values in raw.items():
        origins = dict(secret_origins.get(name, {}))
        values = dict(values)
        _apply_overrides(name, values, overrides.get(_normalise(name), {}), origins)
        deployments[name] = _build(name, values, sources[name], origins)
    return Settings(deployments=deployments)
