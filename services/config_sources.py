"""Where deployment settings come from: pydantic-settings sources whose values remember their origin.

Each source gives `{"deployments": {name: {field: Given(...)}}}`. pydantic-settings merges the sources field by field
in the order `services.config.Settings` lists them; a `Given` is a leaf to that merge (so the higher source's value
wins), while an `extra_headers` table of Givens merges header by header. `services.config` then builds each Deployment
and names the origin of a bad value in its ConfigError.

A deployment's name is spelled by the first source that reads it (the deployments file is read first); the others
find it case-insensitively, `-` and `_` alike (`DeploymentNames`).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic.fields import FieldInfo
from pydantic_settings import (
    EnvSettingsSource,
    NestedSecretsSettingsSource,
    PydanticBaseSettingsSource,
    TomlConfigSettingsSource,
)
from pydantic_settings.exceptions import SettingsError

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings

KeySource = Literal["file", "key_file", "secrets", "secrets_dir", "environment", "session", "none"]

LOCAL_API_VERSION = "2024-05-01-preview"
# The embedded endpoint's deployments (docs/DEVELOPING.md); served at {base}/{name}.
LOCAL_DEPLOYMENTS = (
    "smollm2-135m-instruct",
    "all-minilm-l6-v2",
    "paraphrase-minilm-l3-v2",
    "image-descriptor",
)
# A key file is a key, not a document: anything longer is a wrong path (and /dev/zero must not hang the loader).
KEY_FILE_MAX_BYTES = 64 * 1024


class ConfigError(Exception):
    """A configuration problem; the message names the file (or variable), the deployment and the field."""

    def __init__(self, message: str, *, source: str, deployment: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.source = source
        self.deployment = deployment
        self.field = field


def normalise(name: str) -> str:
    """The form in which names match: case-insensitive, `-` and `_` alike."""
    return name.strip().lower().replace("-", "_")


@dataclass(frozen=True, repr=False)
class Given:
    """One value as one source gave it. `origin` is what messages name (a file path, `environment variable X`);
    `key_source` is what a key from there reports."""

    value: Any
    origin: str
    key_source: KeySource

    def __repr__(self) -> str:
        # pydantic-settings logs every source's state when PYDANTIC_SETTINGS_DEBUG is set: never show the value.
        return f"Given(origin={self.origin!r})"


def has_key(value: Any) -> bool:
    """Whether a key value will be sent: a blank string is no key (the Deployment validator makes it None)."""
    return value is not None and not (isinstance(value, str) and not value.strip())


class DeploymentNames:
    """The spelling of each deployment's name across sources (one instance per load)."""

    def __init__(self) -> None:
        self._spelling: dict[str, str] = {}

    def __contains__(self, name: str) -> bool:
        return normalise(name) in self._spelling

    def claim(self, name: str) -> tuple[str, bool]:
        """The name as first spelled, and whether this call is the first to name it."""
        key = normalise(name)
        if key in self._spelling:
            return self._spelling[key], False
        self._spelling[key] = name
        return name, True


def _entry(names: DeploymentNames, name: str, origin: str, deployments: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The fields dict for `name` in one source's result; the first source to name a deployment records its origin
    under "name", which is where an error about a missing field points."""
    spelled, first = names.claim(name)
    fields = deployments.setdefault(spelled, {})
    if first:
        fields["name"] = Given(spelled, origin, "none")
    return fields


def _tag(table: Mapping[str, Any], origin: str, key_source: KeySource) -> dict[str, Any]:
    tagged: dict[str, Any] = {}
    for field, value in table.items():
        if field == "extra_headers" and isinstance(value, dict):
            # Header by header, so the secrets file can give the values of headers the shared file names.
            tagged[field] = {header: Given(item, origin, key_source) for header, item in value.items()}
        else:
            tagged[field] = Given(value, origin, key_source)
    return tagged


def file_exists(path: Path) -> bool:
    """Whether `path` exists; a path the system cannot look up at all (e.g. a name too long) is a ConfigError."""
    try:
        return path.exists()
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}", source=str(path)) from None


class DeploymentsToml(TomlConfigSettingsSource):
    """The `[deployments.<name>]` tables of a TOML file: the deployments file, or Streamlit's secrets file (whose
    other tables hold other secrets)."""

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        path: Path,
        *,
        names: DeploymentNames,
        key_source: KeySource,
        required: bool = False,
        other_tables_allowed: bool = False,
    ) -> None:
        exists = file_exists(path)
        if required and not exists:
            raise ConfigError(f"{path}: configuration file not found", source=str(path))
        if exists and path.is_dir():
            raise ConfigError(f"{path}: cannot be read: it is a directory", source=str(path))
        try:
            super().__init__(settings_cls, toml_file=path)
        except tomllib.TOMLDecodeError as exc:
            # The parser's message gives line and column only, never the offending text, so no secret leaks here.
            raise ConfigError(f"{path}: not valid TOML: {exc}", source=str(path)) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot be read: {exc}", source=str(path)) from None
        self.deployments: dict[str, dict[str, Any]] = {}
        seen: dict[str, str] = {}
        for name, table in self._tables(path, other_tables_allowed).items():
            if normalise(name) in seen:
                raise ConfigError(
                    f"{path}: deployment {name!r}: the same name as {seen[normalise(name)]!r} "
                    "(names match case-insensitively, '-' and '_' alike)",
                    source=str(path),
                    deployment=name,
                )
            seen[normalise(name)] = name
            _entry(names, name, str(path), self.deployments).update(_tag(table, str(path), key_source))

    def _tables(self, path: Path, other_tables_allowed: bool) -> dict[str, dict[str, Any]]:
        """The deployment tables, checked for shape."""
        unknown = sorted(set(self.toml_data) - {"deployments"})
        if unknown and not other_tables_allowed:
            raise ConfigError(
                f"{path}: unknown top-level table {unknown[0]!r} (expected [deployments.<name>])",
                source=str(path),
                field=unknown[0],
            )
        tables = self.toml_data.get("deployments", {})
        if not isinstance(tables, dict):
            raise ConfigError(f"{path}: 'deployments' must be a table", source=str(path), field="deployments")
        for name, table in tables.items():
            if not isinstance(table, dict):
                raise ConfigError(
                    f"{path}: deployment {name!r} must be a table [deployments.{name}]",
                    source=str(path),
                    deployment=name,
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

    def __call__(self) -> dict[str, Any]:
        return {"deployments": self.deployments} if self.deployments else {}


def _nested_entries(
    source: EnvSettingsSource,
    entries: Mapping[str, str | None],
    *,
    label: Callable[[str], tuple[str, str]],
    fields: Mapping[str, str],
    names: DeploymentNames,
    key_source: KeySource,
) -> dict[str, dict[str, Any]]:
    """`<prefix>DEPLOYMENTS__<NAME>__<FIELD>[__<HEADER>]` entries (environment variables or secret files) as tagged
    deployments; `label` gives an entry's name in messages and its ConfigError source. Names and fields match
    case-insensitively, `-` and `_` alike; a header keeps its spelling.

    The library's own nested-delimiter parsing folds the whole name to lower case (so `EXTRA_HEADERS__X_ONE` would send
    `x_one`), does not match `GPT_4O` to a file's `gpt-4o` and cannot say which variable held a bad value, hence this.
    """
    delimiter = source.env_nested_delimiter or "__"
    prefix = f"{source.env_prefix}DEPLOYMENTS{delimiter}"
    fold = (lambda text: text) if source.case_sensitive else str.upper
    deployments: dict[str, dict[str, Any]] = {}
    for entry, value in entries.items():
        if value is None or not fold(entry).startswith(fold(prefix)):
            continue
        where, source_name = label(entry)
        parts = entry[len(prefix) :].split(delimiter)
        if len(parts) < 2 or not parts[0]:
            raise ConfigError(f"{where}: expected {prefix}<NAME>{delimiter}<FIELD>", source=source_name)
        name, field = normalise(parts[0]), normalise(parts[1])
        if field == "extra_headers" and len(parts) == 3:
            headers = _entry(names, name, where, deployments).setdefault("extra_headers", {})
            if isinstance(headers, dict):
                headers[parts[2]] = Given(value, where, key_source)
            continue
        if field not in fields or len(parts) > 2:
            bad = delimiter.join(parts[1:]).lower()
            known = ", ".join(sorted(fields.values()))
            raise ConfigError(
                f"{where}: deployment {name!r}, field {bad!r}: unknown field (known: {known})",
                source=source_name,
                deployment=name,
                field=bad,
            )
        parsed: Any = value
        if fields[field] == "extra_headers":
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError:
                raise ConfigError(
                    f"{where}: deployment {name!r}, field 'extra_headers': "
                    'expected a JSON object such as {"x-header": "value"}',
                    source=source_name,
                    deployment=name,
                    field="extra_headers",
                ) from None
        _entry(names, name, where, deployments)[fields[field]] = Given(parsed, where, key_source)
    return deployments


class DeploymentVariables(EnvSettingsSource):
    """`PLAYGROUND_DEPLOYMENTS__<NAME>__<FIELD>` environment variables (prefix and delimiter from the model config)."""

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        environ: Mapping[str, str],
        *,
        fields: Mapping[str, str],
        names: DeploymentNames,
    ) -> None:
        self._environ = environ
        super().__init__(settings_cls)
        self.deployments = _nested_entries(
            self,
            self.env_vars,
            label=lambda variable: (f"environment variable {variable}", variable),
            fields=fields,
            names=names,
            key_source="environment",
        )

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # As spelled: errors quote the variable and header names keep their case (the library would fold them).
        return dict(self._environ)

    def __call__(self) -> dict[str, Any]:
        return {"deployments": self.deployments} if self.deployments else {}


class DeploymentSecretFiles(NestedSecretsSettingsSource):
    """A secrets directory as Kubernetes mounts a Secret: one file per value, named like the environment variable
    (`PLAYGROUND_DEPLOYMENTS__GPT4O__KEY`), its content whitespace-trimmed. Other files are left alone; the library
    skips kubelet's hidden `..data` entries and follows the file links into them, staying inside the directory."""

    def __init__(
        self,
        file_secret_settings: PydanticBaseSettingsSource,
        directory: Path,
        *,
        fields: Mapping[str, str],
        names: DeploymentNames,
    ) -> None:
        self._directory = directory
        try:
            super().__init__(file_secret_settings, secrets_dir=directory, secrets_dir_missing="error")
        except SettingsError as exc:
            raise ConfigError(f"secrets directory {directory}: {exc}", source=str(directory)) from None
        except OSError as exc:
            raise ConfigError(
                f"secrets directory {directory}: {exc.filename or directory}: cannot be read: {exc.strerror}",
                source=str(directory),
            ) from None
        except UnicodeDecodeError:
            raise ConfigError(
                f"secrets directory {directory}: a file is not UTF-8 text", source=str(directory)
            ) from None
        self.deployments = _nested_entries(
            self,
            self.env_vars,
            label=lambda name: (str(directory / name), str(directory / name)),
            fields=fields,
            names=names,
            key_source="secrets_dir",
        )

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # File names as spelled, for the same reasons as DeploymentVariables.
        found: dict[str, str | None] = {}
        for path in self.secrets_paths:
            found.update(self.load_secrets(path))
        return found

    def __call__(self) -> dict[str, Any]:
        return {"deployments": self.deployments} if self.deployments else {}


class AddedDeployments(PydanticBaseSettingsSource):
    """Deployments the environment adds when nothing else names them: the embedded endpoint's and the seed one."""

    def __init__(self, settings_cls: type[BaseSettings], deployments: dict[str, dict[str, Any]]) -> None:
        super().__init__(settings_cls)
        self.deployments = deployments

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return {"deployments": self.deployments} if self.deployments else {}


def local_endpoint_deployments(environ: Mapping[str, str], names: DeploymentNames) -> dict[str, dict[str, Any]]:
    """The embedded endpoint's deployments when PLAYGROUND_LOCAL_ENDPOINT is set, for names not yet taken."""
    base = environ.get("PLAYGROUND_LOCAL_ENDPOINT", "").strip().rstrip("/")
    if not base:
        return {}
    origin = "environment variable PLAYGROUND_LOCAL_ENDPOINT"
    key = environ.get("LOCAL_ENDPOINT_KEY")
    deployments: dict[str, dict[str, Any]] = {}
    for name in LOCAL_DEPLOYMENTS:
        if name in names:
            continue
        fields = _entry(names, name, origin, deployments)
        fields["endpoint"] = Given(f"{base}/{name}", origin, "environment")
        fields["api_version"] = Given(LOCAL_API_VERSION, origin, "environment")
        if key:
            fields["key"] = Given(key, "environment variable LOCAL_ENDPOINT_KEY", "environment")
    return deployments


def seed_deployment(environ: Mapping[str, str], names: DeploymentNames) -> dict[str, dict[str, Any]]:
    """`default` from AZUREAI_ENDPOINT_URL (+ AZUREAI_ENDPOINT_KEY) when no source names a `default`."""
    url = environ.get("AZUREAI_ENDPOINT_URL", "").strip()
    if not url or "default" in names:
        return {}
    deployments: dict[str, dict[str, Any]] = {}
    fields = _entry(names, "default", "environment variable AZUREAI_ENDPOINT_URL", deployments)
    fields["endpoint"] = Given(url, "environment variable AZUREAI_ENDPOINT_URL", "environment")
    if key := environ.get("AZUREAI_ENDPOINT_KEY"):
        fields["key"] = Given(key, "environment variable AZUREAI_ENDPOINT_KEY", "environment")
    return deployments


def read_key_file(path_text: str) -> str:
    """The key in a file (a Kubernetes Secret mounted as files, say), whitespace-trimmed. A ValueError's message says
    what is wrong with the file and never holds any of its content."""
    path = Path(path_text).expanduser()
    try:
        with path.open("rb") as handle:
            data = handle.read(KEY_FILE_MAX_BYTES + 1)
    except FileNotFoundError:
        raise ValueError(f"{path}: file not found") from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read: {exc.strerror or type(exc).__name__}") from None
    if len(data) > KEY_FILE_MAX_BYTES:
        raise ValueError(f"{path}: larger than {KEY_FILE_MAX_BYTES // 1024} KiB, not a key")
    try:
        key = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        # The codec's message quotes the offending byte: a piece of the key, so it is not passed on.
        raise ValueError(f"{path}: not UTF-8 text") from None
    if not key:
        raise ValueError(f"{path}: the file is empty")
    return key
