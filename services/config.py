"""Deployments from a TOML file, a secrets file, a secrets directory and the environment, through pydantic-settings.

Sources, from the highest precedence down; a higher one wins field by field (`extra_headers` header by header):
1. `PLAYGROUND_DEPLOYMENTS__<NAME>__<FIELD>` environment variables (`env_prefix` + `env_nested_delimiter`; name and
   field case-insensitive, `-` and `_` alike; `..__EXTRA_HEADERS__<HEADER>` sets one header);
2. a secrets directory (`PLAYGROUND_SECRETS_DIR`, as Kubernetes mounts a Secret): one file per value, named like the
   variable in 1 (`PLAYGROUND_DEPLOYMENTS__GPT4O__KEY`), its content trimmed;
3. `.streamlit/secrets.toml` (path in `PLAYGROUND_SECRETS`), whose `[deployments.<name>]` tables add or override
   fields, typically only `key` and `extra_headers`, so secrets stay out of the shared file;
4. the deployments file (`PLAYGROUND_CONFIG`, default `deployments.toml` at the repository root);
5. the embedded endpoint's deployments when `PLAYGROUND_LOCAL_ENDPOINT` is set, and `default` from the seed
   variables `AZUREAI_ENDPOINT_URL` (+ `AZUREAI_ENDPOINT_KEY`): each only when no source in 2-4 names it.

A deployment's `key_file` names a file holding its key (a mounted Secret): read at load, trimmed, never shown; it
cannot be combined with `key`. `key_source` says where the key came from: file (the deployments file or a key_file),
secrets (the secrets file or directory), environment, or none. Every problem is a ConfigError naming the file or
variable, the deployment and the field, never a key or header value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from services.config_sources import (
    LOCAL_API_VERSION,
    LOCAL_DEPLOYMENTS,
    AddedDeployments,
    ConfigError,
    DeploymentNames,
    DeploymentSecretFiles,
    DeploymentsToml,
    DeploymentVariables,
    Given,
    KeySource,
    has_key,
    local_endpoint_deployments,
    normalise,
    read_key_file,
    seed_deployment,
)

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_SECRETS",
    "LOCAL_API_VERSION",
    "LOCAL_DEPLOYMENTS",
    "REPO_ROOT",
    "ApiKind",
    "ConfigError",
    "Deployment",
    "KeySource",
    "Settings",
    "load_settings",
]

ApiKind = Literal["azure-inference", "azure-openai", "openai", "github"]

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO_ROOT / "deployments.toml"
DEFAULT_SECRETS = REPO_ROOT / ".streamlit" / "secrets.toml"


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


# Fields a source may set, by their normalised name: the Deployment's own, less what the loader sets, plus key_file
# (which the loader turns into `key`).
_FIELDS = {
    normalise(name): name for name in [*Deployment.model_fields, "key_file"] if name not in ("name", "key_source")
}
_ARGUMENTS = "Settings(deployments=...)"


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


def _unwrap(given: Any, home: str) -> tuple[Any, str, KeySource]:
    if isinstance(given, Given):
        return given.value, given.origin, given.key_source
    return given, home, "none"  # a value passed to Settings(...) itself


def _deployment(name: str, fields: Any) -> Any:
    """One merged deployment: its Givens unwrapped, key_file read, key_source set, validated; a ConfigError names the
    origin of the bad value (or, for a missing field, the source that first named the deployment)."""
    if isinstance(fields, Deployment) or not isinstance(fields, Mapping):
        return fields
    home = fields["name"].origin if isinstance(fields.get("name"), Given) else _ARGUMENTS
    values: dict[str, Any] = {}
    origins: dict[tuple[str, ...], str] = {}
    key_source: KeySource = "none"
    for field, given in fields.items():
        if field == "name":
            continue
        if field == "extra_headers" and isinstance(given, dict):
            values[field] = {}
            for header, item in given.items():
                values[field][header], origins[(field, str(header))], _ = _unwrap(item, home)
                origins[(field,)] = origins[(field, str(header))]
            continue
        values[field], origins[(field,)], source = _unwrap(given, home)
        if field == "key":
            key_source = source

    def fail(field: str, reason: str) -> ConfigError:
        where = origins.get(tuple(field.split(".", 1)), origins.get((field.split(".")[0],), home))
        return ConfigError(
            f"{where}: deployment {name!r}, field {field!r}: {reason}", source=where, deployment=name, field=field
        )

    key_file = values.pop("key_file", None)
    if isinstance(key_file, str) and key_file.strip():
        if has_key(values.get("key")):
            raise fail("key_file", f"set together with 'key' (from {origins[('key',)]}): give only one of them")
        try:
            values["key"] = read_key_file(key_file.strip())
        except ValueError as exc:
            raise fail("key_file", str(exc)) from None
        key_source = "key_file"
    elif key_file is not None and not isinstance(key_file, str):
        raise fail("key_file", "must be a path (a string)")
    if "key_source" not in values:  # only Settings(...) arguments may carry their own
        values["key_source"] = key_source if has_key(values.get("key")) else "none"
    try:
        return Deployment(name=name, **values)
    except ValidationError as exc:
        raise fail(*_describe(exc.errors(include_url=False)[0])) from None


@dataclass(frozen=True)
class _Inputs:
    """What one `load_settings` call reads: an explicit deployments file and the environment."""

    path: Path | None
    environ: Mapping[str, str]


# Set by load_settings for the duration of one Settings(); Settings() alone reads os.environ and the default paths.
_INPUTS: ContextVar[_Inputs | None] = ContextVar("playground_config_inputs", default=None)


class Settings(BaseSettings):
    """All configured deployments keyed by name. `Settings()` reads every source (see the module docstring) and
    raises ConfigError for anything invalid; `load_settings` does the same for a given file and environment."""

    model_config = SettingsConfigDict(
        env_prefix="PLAYGROUND_", env_nested_delimiter="__", case_sensitive=False, extra="forbid"
    )

    deployments: dict[str, Deployment] = Field(default_factory=dict)

    @field_validator("deployments", mode="before")
    @classmethod
    def _build_deployments(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        return {name: _deployment(name, fields) for name, fields in value.items()}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        inputs = _INPUTS.get() or _Inputs(path=None, environ=os.environ)
        env = inputs.environ
        explicit = inputs.path is not None or bool(env.get("PLAYGROUND_CONFIG"))
        config_path = Path(inputs.path if inputs.path is not None else env.get("PLAYGROUND_CONFIG") or DEFAULT_CONFIG)
        secrets_path = Path(env.get("PLAYGROUND_SECRETS") or DEFAULT_SECRETS)
        secrets_dir = env.get("PLAYGROUND_SECRETS_DIR") or getattr(file_secret_settings, "secrets_dir", None)

        # Read from the lowest precedence up, so the deployments file spells the names the others match.
        names = DeploymentNames()
        config_file = DeploymentsToml(settings_cls, config_path, names=names, key_source="file", required=explicit)
        secrets_file = DeploymentsToml(
            settings_cls, secrets_path, names=names, key_source="secrets", other_tables_allowed=True
        )
        secret_files = (
            DeploymentSecretFiles(file_secret_settings, Path(secrets_dir), fields=_FIELDS, names=names)
            if secrets_dir
            else None
        )
        local = AddedDeployments(settings_cls, local_endpoint_deployments(env, names))
        seed = AddedDeployments(settings_cls, seed_deployment(env, names))
        variables = DeploymentVariables(settings_cls, env, fields=_FIELDS, names=names)
        # Highest precedence first, as pydantic-settings merges them.
        ordered = (init_settings, variables, secret_files, secrets_file, config_file, local, seed)
        return tuple(source for source in ordered if source is not None)


def load_settings(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the deployments from every source, with `path` as the deployments file and `environ` as the environment
    (default: PLAYGROUND_CONFIG or deployments.toml, and os.environ); raise ConfigError for anything invalid."""
    token = _INPUTS.set(
        _Inputs(path=Path(path) if path is not None else None, environ=os.environ if environ is None else environ)
    )
    try:
        return Settings()
    finally:
        _INPUTS.reset(token)
