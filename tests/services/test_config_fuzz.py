"""Fuzzing load_settings with random TOML files and environments: a Settings or a ConfigError, never another error,
and never a key or header value in the error message."""

from __future__ import annotations

import json
import os
import shutil
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from services.config import ConfigError, Deployment, Settings, load_settings

FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow],
)
FIELDS = [name for name in Deployment.model_fields if name != "name"]
NAMES = ["gpt-4o", "Phi", "default", "smollm2-135m-instruct", "a b", "", "x.y", "é"]
# Secret-looking values; the test asserts none of them ever shows in an error message.
SECRET = "sk" + "-" + "FUZZSECRET"
secrets = st.text(alphabet=string.ascii_letters + string.digits, min_size=4, max_size=8).map(lambda s: SECRET + s)

urls = st.sampled_from(["https://a.models.ai.azure.com", "http://127.0.0.1:8800/x/", "http://", "ftp://x", " "])
scalars = st.one_of(
    st.text(max_size=12),
    urls,
    st.integers(-5, 10**20),
    st.floats(),
    st.booleans(),
    st.sampled_from(["azure-inference", "openai", "github", "entra", "key", "none", "file"]),
)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=6,
)


def toml_value(value: Any) -> str:
    """A TOML literal for `value` (floats include nan and inf, which TOML allows)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value:
            return "nan"
        return {float("inf"): "inf", -float("inf"): "-inf"}.get(value, repr(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)} = {toml_value(v)}" for k, v in value.items()) + "}"


header_maps = st.dictionaries(st.sampled_from(["x-api-key", "x-team", ""]), secrets | values, max_size=2)
valid_fields = st.fixed_dictionaries(
    {"endpoint": st.sampled_from(["https://a.models.ai.azure.com", "http://127.0.0.1:8800/x/", " https://b.example "])},
    optional={
        "api": st.sampled_from(["azure-inference", "azure-openai", "openai", "github"]),
        "model": st.text(max_size=8),
        "api_version": st.text(max_size=8),
        "auth": st.sampled_from(["key", "entra"]),
        "price_per_1k_input": st.floats(0, 1),
        "read_timeout": st.floats(0.1, 100),
        "max_retries": st.integers(0, 10),
        "azureml_deployment": st.text(max_size=8),
    },
)
# A valid table, or one with a field (known or not) set to any value.
plain_fields = st.one_of(
    valid_fields,
    st.tuples(valid_fields, st.sampled_from([f for f in FIELDS if f != "key"]) | st.text(max_size=6), values).map(
        lambda t: {**t[0], t[1]: t[2]}
    ),
    st.dictionaries(st.sampled_from([f for f in FIELDS if f != "key"]) | st.text(max_size=6), values, max_size=4),
)
# Secrets only go where secrets belong (key, header values); everything else gets plain values.
fields = st.tuples(
    plain_fields,
    st.dictionaries(
        st.sampled_from(["key", "extra_headers"]),
        secrets | header_maps | secrets.map(lambda s: [s]) | st.sampled_from(["", "  "]),
    ),
).map(lambda parts: {**parts[0], **parts[1]})
deployments = st.dictionaries(st.sampled_from(NAMES) | st.text(min_size=1, max_size=6), fields, max_size=3)


def toml_document(tables: dict[str, dict[str, Any]], other: dict[str, Any]) -> str:
    lines = [f"{json.dumps(k, ensure_ascii=False)} = {toml_value(v)}" for k, v in other.items()]
    for name, table in tables.items():
        lines.append(f"[deployments.{json.dumps(name, ensure_ascii=False)}]")
        lines += [f"{json.dumps(k, ensure_ascii=False)} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


# Now and then a top-level value besides the tables (refused in the config file, allowed in the secrets file).
top_level = st.just({}) | st.just({}) | st.dictionaries(st.sampled_from(["deployments", "other"]), values, max_size=1)
structured = st.builds(toml_document, deployments, top_level)
toml_texts = st.one_of(
    structured,
    structured,
    structured.flatmap(
        lambda doc: st.tuples(st.integers(0, len(doc)), st.text(max_size=4)).map(
            lambda cut: doc[: cut[0]] + cut[1] + doc[cut[0] :]
        )
    ),
    st.text(max_size=80),
)

plain_env_names = st.one_of(
    st.builds(
        lambda name, field: f"PLAYGROUND_DEPLOYMENTS__{name}__{field}",
        st.sampled_from([n.upper().replace("-", "_") for n in NAMES]) | st.text(max_size=5),
        st.sampled_from([f.upper() for f in FIELDS if f not in ("key", "extra_headers")] + ["KEY__X", ""])
        | st.text(max_size=5),
    ),
    st.sampled_from(
        ["PLAYGROUND_LOCAL_ENDPOINT", "AZUREAI_ENDPOINT_URL", "PLAYGROUND_CONFIG", "PLAYGROUND_DEPLOYMENTS__"]
    ),
    st.text(max_size=8),
)
secret_env_names = st.one_of(
    st.builds(
        lambda name, field: f"PLAYGROUND_DEPLOYMENTS__{name}__{field}",
        st.sampled_from([n.upper().replace("-", "_") for n in NAMES]),
        st.sampled_from(["KEY", "key", "EXTRA_HEADERS", "EXTRA_HEADERS__X_ONE"]),
    ),
    st.sampled_from(["AZUREAI_ENDPOINT_KEY", "LOCAL_ENDPOINT_KEY", "playground_deployments__phi__KEY"]),
)
plain_env_values = st.one_of(
    st.text(max_size=12), urls, st.sampled_from(["5", "-1", "nan", "{}", "[]", "azure-openai", "entra", " "])
)
secret_env_values = st.one_of(
    secrets,
    secrets.map(lambda s: json.dumps({"x-api-key": s})),
    secrets.map(lambda s: json.dumps({"x-api-key": [s]})),
    secrets.map(lambda s: json.dumps([s])),
    secrets.map(lambda s: s + '"{'),
    st.sampled_from(["", " "]),
)
environments = st.tuples(
    st.dictionaries(plain_env_names, plain_env_values, max_size=3),
    st.dictionaries(secret_env_names, secret_env_values, max_size=3),
).map(lambda parts: {**parts[0], **parts[1]})


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One directory for every example's files (hypothesis runs many examples per test call)."""
    yield tmp_path_factory.mktemp("config-fuzz")


def _secret_values(document: str, environ: dict[str, str]) -> list[str]:
    text = document + "\n".join(environ.values())
    found = []
    start = text.find(SECRET)
    while start != -1:
        end = start + len(SECRET)
        while end < len(text) and text[end] in string.ascii_letters + string.digits:
            end += 1
        found.append(text[start:end])
        start = text.find(SECRET, end)
    return found


@FUZZ
@given(config=toml_texts, secrets_file=st.none() | toml_texts, environ=environments, explicit=st.booleans())
def test_load_settings_gives_settings_or_a_config_error_without_secrets(
    fuzz_dir: Path, config: str, secrets_file: str | None, environ: dict[str, str], explicit: bool
) -> None:
    config_path = fuzz_dir / "deployments.toml"
    config_path.write_text(config, encoding="utf-8", errors="surrogatepass")
    secrets_path = fuzz_dir / "secrets.toml"
    secrets_path.unlink(missing_ok=True)
    if secrets_file is not None:
        secrets_path.write_text(secrets_file, encoding="utf-8", errors="surrogatepass")
    # The developer's own secrets file must never be read here.
    env = {**environ, "PLAYGROUND_SECRETS": str(secrets_path)}
    if not explicit:
        env.setdefault("PLAYGROUND_CONFIG", str(config_path))
    try:
        loaded = load_settings(config_path if explicit else None, environ=env)
    except ConfigError as exc:
        event("ConfigError")
        message = str(exc)
        assert message and exc.source
        for secret in _secret_values(config + (secrets_file or ""), env):
            assert secret not in message, f"{secret!r} shows in {message!r}"
        return
    assert isinstance(loaded, Settings)
    event(f"Settings with {min(len(loaded.deployments), 2)} or more deployments")
    for name, deployment in loaded.deployments.items():
        assert deployment.name == name and deployment.endpoint.startswith(("http://", "https://"))
        # A 401 message names where the key came from, so "none" must mean no key is sent, and only then.
        assert (deployment.key is None) == (deployment.key_source == "none"), deployment


def test_a_blank_key_in_the_file_or_secrets_counts_as_no_key(fuzz_dir: Path) -> None:
    path = fuzz_dir / "blank.toml"
    path.write_text('[deployments.a]\nendpoint = "https://a.example"\nkey = "   "\n')
    secrets_path = fuzz_dir / "blank-secrets.toml"
    secrets_path.write_text('[deployments.b]\nendpoint = "https://b.example"\nkey = " "\n')
    loaded = load_settings(path, environ={"PLAYGROUND_SECRETS": str(secrets_path)})
    assert loaded.deployments["a"].key is None and loaded.deployments["a"].key_source == "none"
    assert loaded.deployments["b"].key is None and loaded.deployments["b"].key_source == "none"


def test_a_malformed_header_map_is_refused_without_showing_its_values(fuzz_dir: Path) -> None:
    empty = fuzz_dir / "empty.toml"
    empty.write_text("")
    env = {
        "PLAYGROUND_SECRETS": str(fuzz_dir / "none.toml"),
        "PLAYGROUND_DEPLOYMENTS__A__ENDPOINT": "https://a.example",
        "PLAYGROUND_DEPLOYMENTS__A__EXTRA_HEADERS": json.dumps(["sk-header-value-123"]),
    }
    with pytest.raises(ConfigError, match="extra_headers") as caught:
        load_settings(empty, environ=env)
    assert "sk-header-value-123" not in str(caught.value)


@pytest.mark.parametrize("bad_path", ["with\x00nul.toml", "x" * 5000 + ".toml"])
def test_an_unusable_config_path_is_a_config_error(fuzz_dir: Path, bad_path: str) -> None:
    env = {"PLAYGROUND_SECRETS": str(fuzz_dir / "none.toml"), "PLAYGROUND_CONFIG": bad_path}
    with pytest.raises(ConfigError):
        load_settings(None, environ=env)


# --- a secrets directory and key files ----------------------------------------------------------------------------

deployment_names = st.sampled_from(["GPT_4O", "phi", "Default", "A-B"]) | st.text(
    string.ascii_letters + "-_", max_size=4
)
plain_file_names = st.one_of(
    st.builds(
        lambda name, field: f"PLAYGROUND_DEPLOYMENTS__{name}__{field}",
        deployment_names,
        st.sampled_from(["ENDPOINT", "key_file", "API", "MAX_RETRIES", "EXTRA_HEADERS__X__Y"])
        | st.text(string.ascii_letters + "_", max_size=5),
    ),
    st.sampled_from(["PLAYGROUND_DEPLOYMENTS__", "PLAYGROUND_DEPLOYMENTS__X", "token", "PLAYGROUND_CONFIG"]),
)
secret_file_names = st.builds(
    lambda name, field: f"PLAYGROUND_DEPLOYMENTS__{name}__{field}",
    deployment_names,
    st.sampled_from(["KEY", "key", "EXTRA_HEADERS", "EXTRA_HEADERS__X"]),
)
# Plain values go where plain values belong; "KEYFILE" becomes the path of a file holding a key.
plain_file_values = plain_env_values.filter(lambda v: "\x00" not in v) | st.just("KEYFILE")
secret_files_in_dir = st.tuples(
    st.dictionaries(plain_file_names, plain_file_values, max_size=3),
    st.dictionaries(secret_file_names, secret_env_values, max_size=2),
).map(lambda parts: {**parts[0], **parts[1]})
key_files = st.sampled_from(["good", "missing", "empty", "directory", "blank"])


@FUZZ
@given(
    secret_files=secret_files_in_dir,
    config=structured,
    key_file=st.none() | key_files,
    key_file_in_env=st.booleans(),
    kubernetes_layout=st.booleans(),
)
def test_a_secrets_directory_and_key_files_give_settings_or_an_error_without_secrets(
    fuzz_dir: Path,
    secret_files: dict[str, str],
    config: str,
    key_file: str | None,
    key_file_in_env: bool,
    kubernetes_layout: bool,
) -> None:
    key_paths = {
        "good": fuzz_dir / "key-good",
        "missing": fuzz_dir / "key-missing",
        "empty": fuzz_dir / "key-empty",
        "directory": fuzz_dir,
        "blank": None,
    }
    file_key = SECRET + "KEYFILECONTENT"
    key_paths["good"].write_text(f"  {file_key}\n")  # type: ignore[union-attr]
    key_paths["empty"].write_text("\n")  # type: ignore[union-attr]
    mount = fuzz_dir / "mount"
    shutil.rmtree(mount, ignore_errors=True)
    data = mount / "..2026_12_02_10_00_00.1" if kubernetes_layout else mount
    data.mkdir(parents=True)
    for name, value in secret_files.items():
        chosen = str(key_paths["good"]) if value == "KEYFILE" else value
        (data / name).write_text(chosen, encoding="utf-8", errors="surrogatepass")
        if kubernetes_layout:
            (mount / name).symlink_to(f"..data/{name}")
    if kubernetes_layout:
        (mount / "..data").symlink_to(data.name)
    config_path = fuzz_dir / "sources.toml"
    config_path.write_text(config, encoding="utf-8", errors="surrogatepass")
    env = {"PLAYGROUND_SECRETS": str(fuzz_dir / "none.toml"), "PLAYGROUND_SECRETS_DIR": str(mount)}
    if key_file is not None:
        value = "" if key_paths[key_file] is None else str(key_paths[key_file])
        if key_file_in_env:
            env["PLAYGROUND_DEPLOYMENTS__GPT_4O__KEY_FILE"] = value
        else:
            config_path.write_text(f'[deployments.gpt-4o]\nendpoint = "https://a.example"\nkey_file = "{value}"\n')
    try:
        loaded = load_settings(config_path, environ=env)
    except ConfigError as exc:
        event("ConfigError")
        message = str(exc)
        assert message and exc.source and "\n" not in message
        for secret in [file_key, *_secret_values(config, secret_files)]:
            assert secret not in message, f"{secret!r} shows in {message!r}"
        return
    event("Settings")
    for name, deployment in loaded.deployments.items():
        assert deployment.name == name and (deployment.key is None) == (deployment.key_source == "none")
        assert file_key not in repr(deployment) + deployment.model_dump_json()
