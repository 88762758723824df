"""load_settings: the TOML file, environment overrides, seed variables, the embedded endpoint, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.config import LOCAL_DEPLOYMENTS, REPO_ROOT, ConfigError, Deployment, load_settings

GOOD = """
[deployments.gpt-4o]
endpoint = "https://res.openai.azure.com/openai/deployments/gpt-4o/"
key = "file-key-123"
api = "azure-openai"
api_version = "2024-10-21"
extra_headers = { "x-team" = "blue" }
price_per_1k_input = 0.005
price_per_1k_output = 0.015

[deployments.Phi]
endpoint = "https://phi.eastus.models.ai.azure.com"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "deployments.toml"
    path.write_text(text)
    return path


def test_file_deployments_are_loaded_with_key_source_file(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, GOOD), environ={})
    gpt = settings.deployments["gpt-4o"]
    assert gpt.endpoint == "https://res.openai.azure.com/openai/deployments/gpt-4o"  # trailing slash dropped
    assert gpt.api == "azure-openai" and gpt.header_values() == {"x-team": "blue"} and gpt.price_per_1k_output == 0.015
    assert gpt.key is not None and gpt.key.get_secret_value() == "file-key-123" and gpt.key_source == "file"
    phi = settings.deployments["Phi"]
    assert phi.key is None and phi.key_source == "none" and phi.api == "azure-inference"


def test_key_never_shows_in_repr_or_str(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, GOOD), environ={})
    assert "file-key-123" not in repr(settings) and "file-key-123" not in str(settings.deployments["gpt-4o"])


def test_environment_key_overrides_file_by_case_insensitive_name(tmp_path: Path) -> None:
    env = {"PLAYGROUND_DEPLOYMENTS__GPT_4O__KEY": "env-key", "playground_deployments__phi__read_timeout": "5"}
    settings = load_settings(write(tmp_path, GOOD), environ=env)
    gpt = settings.deployments["gpt-4o"]
    assert gpt.key is not None and gpt.key.get_secret_value() == "env-key" and gpt.key_source == "environment"
    assert settings.deployments["Phi"].read_timeout == 5.0 and settings.deployments["Phi"].key_source == "none"


def test_deployment_only_in_environment_is_created(tmp_path: Path) -> None:
    env = {
        "PLAYGROUND_DEPLOYMENTS__MISTRAL__ENDPOINT": "https://m.models.ai.azure.com",
        "PLAYGROUND_DEPLOYMENTS__MISTRAL__KEY": "k",
        "PLAYGROUND_DEPLOYMENTS__MISTRAL__EXTRA_HEADERS__X_ONE": "1",
        "PLAYGROUND_DEPLOYMENTS__MISTRAL__AZUREML_DEPLOYMENT": "blue",
    }
    settings = load_settings(write(tmp_path, ""), environ=env)
    mistral = settings.deployments["mistral"]
    assert mistral.endpoint == "https://m.models.ai.azure.com" and mistral.key_source == "environment"
    assert mistral.header_values() == {"X_ONE": "1"} and mistral.azureml_deployment == "blue"


def test_extra_headers_as_json_in_environment(tmp_path: Path) -> None:
    env = {"PLAYGROUND_DEPLOYMENTS__PHI__EXTRA_HEADERS": '{"x-a": "b"}'}
    assert load_settings(write(tmp_path, GOOD), environ=env).deployments["Phi"].header_values() == {"x-a": "b"}


def test_seed_variables_alone_give_default_deployment(tmp_path: Path) -> None:
    env = {"PLAYGROUND_CONFIG": str(write(tmp_path, "")), "AZUREAI_ENDPOINT_URL": "https://s.models.ai.azure.com"}
    env["AZUREAI_ENDPOINT_KEY"] = "seed-key"
    settings = load_settings(environ=env)
    assert list(settings.deployments) == ["default"]
    default = settings.deployments["default"]
    assert default.key is not None and default.key.get_secret_value() == "seed-key"
    assert default.key_source == "environment" and default.api == "azure-inference"


def test_playground_config_variable_picks_the_file(tmp_path: Path) -> None:
    settings = load_settings(environ={"PLAYGROUND_CONFIG": str(write(tmp_path, GOOD))})
    assert set(settings.deployments) == {"gpt-4o", "Phi"}


def test_local_endpoint_variable_adds_the_three_embedded_deployments(tmp_path: Path) -> None:
    env = {"PLAYGROUND_LOCAL_ENDPOINT": "http://127.0.0.1:8800/", "PLAYGROUND_CONFIG": str(write(tmp_path, GOOD))}
    settings = load_settings(environ=env)
    for name in LOCAL_DEPLOYMENTS:
        deployment = settings.deployments[name]
        assert deployment.endpoint == f"http://127.0.0.1:8800/{name}" and deployment.key is None
    assert "gpt-4o" in settings.deployments


def test_local_endpoint_key_is_used_when_the_endpoint_requires_one() -> None:
    env = {
        "PLAYGROUND_LOCAL_ENDPOINT": "http://127.0.0.1:1",
        "LOCAL_ENDPOINT_KEY": "lk",
        "PLAYGROUND_CONFIG": "/dev/null",
    }
    deployment = load_settings(environ=env).deployments["all-minilm-l6-v2"]
    assert deployment.key is not None and deployment.key.get_secret_value() == "lk"


def test_default_file_missing_is_no_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("services.config.DEFAULT_CONFIG", tmp_path / "nothing.toml")
    assert load_settings(environ={}).deployments == {}


def test_explicit_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"absent\.toml: configuration file not found"):
        load_settings(tmp_path / "absent.toml", environ={})


def test_invalid_toml_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[deployments.a]\nendpoint = "https://x\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert str(path) in str(info.value) and "line 2" in str(info.value)


@pytest.mark.parametrize(
    ("table", "field"),
    [
        ('endpoint = "https://x.y"\napi = "bedrock"', "api"),
        ('endpoint = "ftp://x.y"', "endpoint"),
        ('key = "k"', "endpoint"),
        ('endpoint = "https://x.y"\ntemprature = 1', "temprature"),
        ('endpoint = "https://x.y"\nmax_retries = "many"', "max_retries"),
        ('endpoint = "https://x.y"\nauth = "password"', "auth"),
    ],
)
def test_bad_field_error_names_file_deployment_and_field(tmp_path: Path, table: str, field: str) -> None:
    path = write(tmp_path, f"[deployments.broken]\n{table}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    message = str(info.value)
    assert str(path) in message and "'broken'" in message and f"'{field}'" in message and "\n" not in message
    assert (info.value.deployment, info.value.field) == ("broken", field)


def test_bad_key_type_does_not_echo_the_value(tmp_path: Path) -> None:
    path = write(tmp_path, '[deployments.a]\nendpoint = "https://x.y"\nkey = 123456789\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert "123456789" not in str(info.value) and info.value.field == "key"


def test_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    env = {"PLAYGROUND_DEPLOYMENTS__PHI__API": "nope"}
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, GOOD), environ=env)
    assert "PLAYGROUND_DEPLOYMENTS__PHI__API" in str(info.value) and "'Phi'" in str(info.value)
    assert info.value.field == "api"


def test_unknown_environment_field_is_an_error() -> None:
    with pytest.raises(ConfigError, match="field 'colour'"):
        load_settings(environ={"PLAYGROUND_CONFIG": "/dev/null", "PLAYGROUND_DEPLOYMENTS__X__COLOUR": "red"})


def test_environment_only_deployment_without_endpoint_names_the_field() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"PLAYGROUND_CONFIG": "/dev/null", "PLAYGROUND_DEPLOYMENTS__LONELY__KEY": "k"})
    assert "'lonely'" in str(info.value) and info.value.field == "endpoint"


def test_deployment_is_frozen_and_hashable() -> None:
    deployment = Deployment(name="a", endpoint="https://x.y", extra_headers={"x": "1"})
    assert {deployment: 1}[Deployment(name="a", endpoint="https://x.y", extra_headers={"x": "1"})] == 1
    with pytest.raises(ValueError):
        deployment.endpoint = "https://z"  # type: ignore[misc]


def test_committed_example_file_is_valid() -> None:
    settings = load_settings(REPO_ROOT / "deployments.example.toml", environ={})
    assert {"phi-4", "gpt-4o", "ollama"} <= set(settings.deployments)
    assert all(deployment.key is None for deployment in settings.deployments.values())
