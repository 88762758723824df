"""`.streamlit/secrets.toml`: keys kept out of the shared deployments file, overridden in turn by the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.config import ConfigError, load_settings

FILE = """
[deployments.phi]
endpoint = "https://phi.eastus.models.ai.azure.com"
"""


def _paths(tmp_path: Path, secrets: str) -> tuple[Path, dict[str, str]]:
    config = tmp_path / "deployments.toml"
    config.write_text(FILE)
    secrets_path = tmp_path / "secrets.toml"
    secrets_path.write_text(secrets)
    return config, {"PLAYGROUND_SECRETS": str(secrets_path)}


def test_secrets_file_supplies_the_key_of_a_file_deployment(tmp_path: Path) -> None:
    config, env = _paths(tmp_path, '[deployments.PHI]\nkey = "secret-from-secrets"\n')
    phi = load_settings(config, environ=env).deployments["phi"]
    assert phi.key is not None and phi.key.get_secret_value() == "secret-from-secrets"
    assert phi.key_source == "secrets" and phi.endpoint == "https://phi.eastus.models.ai.azure.com"


def test_environment_key_wins_over_secrets_file(tmp_path: Path) -> None:
    config, env = _paths(tmp_path, '[deployments.phi]\nkey = "secret-from-secrets"\n')
    env["PLAYGROUND_DEPLOYMENTS__PHI__KEY"] = "from-env"
    phi = load_settings(config, environ=env).deployments["phi"]
    assert phi.key is not None and phi.key.get_secret_value() == "from-env" and phi.key_source == "environment"


def test_secrets_file_may_define_a_whole_deployment_and_other_tables(tmp_path: Path) -> None:
    secrets = (
        '[other]\ntoken = "x"\n[deployments.gh]\nendpoint = "https://models.github.ai/inference"\napi = "github"\n'
    )
    config, env = _paths(tmp_path, secrets)
    gh = load_settings(config, environ=env).deployments["gh"]
    assert gh.api == "github" and gh.key is None


def test_bad_field_in_secrets_file_names_that_file_and_hides_the_key(tmp_path: Path) -> None:
    config, env = _paths(tmp_path, '[deployments.phi]\nkey = "hush-123"\napi = "nonsense"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(config, environ=env)
    message = str(caught.value)
    assert "secrets.toml" in message and "'phi'" in message and "'api'" in message and "hush-123" not in message


def test_invalid_secrets_toml_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    config, env = _paths(tmp_path, '[deployments.phi]\nkey = "unterminated\n')
    with pytest.raises(ConfigError, match=r"secrets\.toml: not valid TOML") as caught:
        load_settings(config, environ=env)
    assert "unterminated" not in str(caught.value)
