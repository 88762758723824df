"""The pydantic-settings sources of services.config: each alone, their precedence, nested variables, a secrets
directory laid out as Kubernetes mounts a Secret, and `key_file`. No key content in any error or repr."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from services.config import ConfigError, Settings, load_settings

KEY = "sk-" + "SOURCESECRET-4242"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def kubernetes_secret(mount: Path, items: dict[str, str]) -> Path:
    """A Secret volume as kubelet lays it out: the files in a timestamped directory, `..data` linking to it, and one
    link per key at the top (`KEY -> ..data/KEY`)."""
    mount.mkdir(parents=True)
    stamped = mount / "..2026_12_02_10_00_00.123456789"
    stamped.mkdir()
    for name, value in items.items():
        (stamped / name).write_text(value)
    (mount / "..data").symlink_to(stamped.name)
    for name in items:
        (mount / name).symlink_to(f"..data/{name}")
    return mount


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """An empty deployments file, a path with no secrets file, and a path for a secrets directory."""
    return {
        "config": write(tmp_path / "deployments.toml", ""),
        "secrets": tmp_path / "no-secrets.toml",
        "dir": tmp_path / "secret-mount",
    }


def env_for(files: dict[str, Path], **extra: str) -> dict[str, str]:
    return {"PLAYGROUND_CONFIG": str(files["config"]), "PLAYGROUND_SECRETS": str(files["secrets"]), **extra}


# --- each source alone ------------------------------------------------------------------------------------------


def test_the_deployments_file_alone(files: dict[str, Path]) -> None:
    write(files["config"], f'[deployments.gpt4o]\nendpoint = "https://a.example"\nkey = "{KEY}"\n')
    gpt = load_settings(environ=env_for(files)).deployments["gpt4o"]
    assert gpt.endpoint == "https://a.example" and gpt.key is not None and gpt.key.get_secret_value() == KEY
    assert gpt.key_source == "file"


def test_the_secrets_file_alone(files: dict[str, Path]) -> None:
    write(files["secrets"], f'[deployments.gpt4o]\nendpoint = "https://s.example"\nkey = "{KEY}"\n')
    gpt = load_settings(environ=env_for(files)).deployments["gpt4o"]
    assert gpt.endpoint == "https://s.example" and gpt.key_source == "secrets"


def test_the_environment_alone_with_nested_variables(files: dict[str, Path]) -> None:
    env = env_for(
        files,
        PLAYGROUND_DEPLOYMENTS__GPT4O__ENDPOINT="https://e.example",
        PLAYGROUND_DEPLOYMENTS__GPT4O__KEY=KEY,
        PLAYGROUND_DEPLOYMENTS__GPT4O__READ_TIMEOUT="7.5",
        PLAYGROUND_DEPLOYMENTS__GPT4O__EXTRA_HEADERS__X_Team="blue",
    )
    gpt = load_settings(environ=env).deployments["gpt4o"]
    assert gpt.endpoint == "https://e.example" and gpt.read_timeout == 7.5 and gpt.key_source == "environment"
    assert gpt.header_values() == {"X_Team": "blue"}  # a header keeps its spelling


def test_a_secrets_directory_alone_laid_out_like_a_kubernetes_secret(files: dict[str, Path]) -> None:
    kubernetes_secret(
        files["dir"],
        {
            "PLAYGROUND_DEPLOYMENTS__GPT4O__ENDPOINT": "https://k.example\n",
            "PLAYGROUND_DEPLOYMENTS__GPT4O__KEY": f"  {KEY}\n",
            "PLAYGROUND_DEPLOYMENTS__GPT4O__EXTRA_HEADERS__x-tenant": "t-1",
            "unrelated-token": "not ours",  # other keys of the same Secret are left alone
        },
    )
    gpt = load_settings(environ=env_for(files, PLAYGROUND_SECRETS_DIR=str(files["dir"]))).deployments["gpt4o"]
    assert gpt.endpoint == "https://k.example" and gpt.key is not None and gpt.key.get_secret_value() == KEY
    assert gpt.key_source == "secrets_dir" and gpt.header_values() == {"x-tenant": "t-1"}


def test_a_secrets_directory_of_plain_files_works_too(files: dict[str, Path]) -> None:
    write(files["config"], '[deployments.gpt-4o]\nendpoint = "https://a.example"\n')
    write(files["dir"] / "playground_deployments__GPT_4O__key", KEY)
    gpt = load_settings(environ=env_for(files, PLAYGROUND_SECRETS_DIR=str(files["dir"]))).deployments["gpt-4o"]
    assert gpt.key is not None and gpt.key.get_secret_value() == KEY and gpt.key_source == "secrets_dir"


@pytest.fixture
def process_env(files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """os.environ with our files and none of the variables that would add deployments."""
    for name in list(os.environ):
        if name.upper().startswith(("PLAYGROUND_DEPLOYMENTS__", "AZUREAI_", "PLAYGROUND_LOCAL_", "LOCAL_ENDPOINT_")):
            monkeypatch.delenv(name)
    monkeypatch.delenv("PLAYGROUND_SECRETS_DIR", raising=False)
    for name, value in env_for(files).items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("process_env")
def test_settings_alone_reads_the_process_environment(files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAYGROUND_DEPLOYMENTS__ONLY__ENDPOINT", "https://only.example")
    assert Settings().deployments["only"].endpoint == "https://only.example"
    assert load_settings().deployments == Settings().deployments


@pytest.mark.usefixtures("process_env")
def test_the_library_secrets_dir_argument_is_the_fallback_for_the_variable(files: dict[str, Path]) -> None:
    write(files["dir"] / "PLAYGROUND_DEPLOYMENTS__A__ENDPOINT", "https://arg.example")
    assert Settings(_secrets_dir=files["dir"]).deployments["a"].endpoint == "https://arg.example"


# --- precedence ---------------------------------------------------------------------------------------------------


def test_precedence_environment_then_secrets_directory_then_secrets_file_then_deployments_file(
    files: dict[str, Path],
) -> None:
    fields = ("api_version", "model", "azureml_deployment", "max_retries")
    write(
        files["config"],
        "[deployments.Phi]\n"
        + 'endpoint = "https://f.example"\n'
        + "".join(f'{f} = "file"\n' for f in fields[:3])
        + "max_retries = 1\n",
    )
    write(
        files["secrets"],
        '[deployments.PHI]\napi_version = "secrets"\nmodel = "secrets"\nazureml_deployment = "secrets"\n',
    )
    write(files["dir"] / "PLAYGROUND_DEPLOYMENTS__PHI__API_VERSION", "dir")
    write(files["dir"] / "PLAYGROUND_DEPLOYMENTS__PHI__MODEL", "dir")
    env = env_for(files, PLAYGROUND_SECRETS_DIR=str(files["dir"]), PLAYGROUND_DEPLOYMENTS__phi__api_version="env")
    phi = load_settings(environ=env).deployments["Phi"]  # the deployments file spells the name
    assert (phi.api_version, phi.model, phi.azureml_deployment, phi.max_retries) == ("env", "dir", "secrets", 1)
    assert phi.endpoint == "https://f.example"


@pytest.mark.parametrize(
    ("where", "key_source"),
    [("config", "file"), ("secrets", "secrets"), ("dir", "secrets_dir"), ("env", "environment")],
)
def test_the_key_comes_from_the_highest_source_that_gives_one(
    files: dict[str, Path], where: str, key_source: str
) -> None:
    order = ["config", "secrets", "dir", "env"]
    write(files["config"], '[deployments.a]\nendpoint = "https://a.example"\nkey = "key-config"\n')
    env = env_for(files)
    if order.index(where) >= 1:
        write(files["secrets"], '[deployments.a]\nkey = "key-secrets"\n')
    if order.index(where) >= 2:
        write(files["dir"] / "PLAYGROUND_DEPLOYMENTS__A__KEY", "key-dir")
        env["PLAYGROUND_SECRETS_DIR"] = str(files["dir"])
    if where == "env":
        env["PLAYGROUND_DEPLOYMENTS__A__KEY"] = "key-env"
    a = load_settings(environ=env).deployments["a"]
    assert a.key is not None and a.key.get_secret_value() == f"key-{where}" and a.key_source == key_source


def test_headers_merge_header_by_header_across_all_four_sources(files: dict[str, Path]) -> None:
    write(
        files["config"],
        '[deployments.a]\nendpoint = "https://a.example"\nextra_headers = { "x-1" = "f", "x-2" = "f" }\n',
    )
    write(files["secrets"], '[deployments.a]\nextra_headers = { "x-2" = "s", "x-3" = "s" }\n')
    write(files["dir"] / "PLAYGROUND_DEPLOYMENTS__A__EXTRA_HEADERS__x-3", "d")
    write(files["dir"] / "PLAYGROUND_DEPLOYMENTS__A__EXTRA_HEADERS__x-4", "d")
    env = env_for(files, PLAYGROUND_SECRETS_DIR=str(files["dir"]))
    env["PLAYGROUND_DEPLOYMENTS__A__EXTRA_HEADERS__x-4"] = "e"
    headers = load_settings(environ=env).deployments["a"].header_values()
    assert headers == {"x-1": "f", "x-2": "s", "x-3": "d", "x-4": "e"}


def test_a_json_header_table_in_the_environment_replaces_the_lower_ones(files: dict[str, Path]) -> None:
    write(files["config"], '[deployments.a]\nendpoint = "https://a.example"\nextra_headers = { "x-1" = "f" }\n')
    env = env_for(files, PLAYGROUND_DEPLOYMENTS__A__EXTRA_HEADERS='{"x-2": "e"}')
    assert load_settings(environ=env).deployments["a"].header_values() == {"x-2": "e"}


def test_the_embedded_endpoint_and_seed_only_fill_names_no_file_or_secret_gives(files: dict[str, Path]) -> None:
    write(files["config"], '[deployments.SmolLM2-135M-Instruct]\nendpoint = "https://mine.example"\n')
    write(files["dir"] / "PLAYGROUND_DEPLOYMENTS__DEFAULT__ENDPOINT", "https://default-from-dir.example")
    env = env_for(
        files,
        PLAYGROUND_SECRETS_DIR=str(files["dir"]),
        PLAYGROUND_LOCAL_ENDPOINT="http://127.0.0.1:8800",
        AZUREAI_ENDPOINT_URL="https://seed.example",
        PLAYGROUND_DEPLOYMENTS__ALL_MINILM_L6_V2__READ_TIMEOUT="9",
    )
    deployments = load_settings(environ=env).deployments
    assert deployments["SmolLM2-135M-Instruct"].endpoint == "https://mine.example"
    assert "smollm2-135m-instruct" not in deployments
    assert deployments["default"].endpoint == "https://default-from-dir.example"
    # A variable alone does not take a name: it sets a field of the embedded deployment.
    minilm = deployments["all-minilm-l6-v2"]
    assert minilm.endpoint == "http://127.0.0.1:8800/all-minilm-l6-v2" and minilm.read_timeout == 9.0


def test_two_spellings_of_one_name_in_one_file_are_an_error(files: dict[str, Path]) -> None:
    write(
        files["config"],
        '[deployments.gpt-4o]\nendpoint = "https://a.example"\n[deployments.GPT_4O]\nendpoint = "https://b.example"\n',
    )
    with pytest.raises(ConfigError, match=r"deployment 'GPT_4O': the same name as 'gpt-4o'") as caught:
        load_settings(environ=env_for(files))
    assert caught.value.source == str(files["config"]) and caught.value.deployment == "GPT_4O"


# --- errors name the source -----------------------------------------------------------------------------------------


def test_a_bad_value_in_the_secrets_directory_names_its_file_and_hides_the_key(files: dict[str, Path]) -> None:
    write(files["dir"] / "PLAYGROUND_DEPLOYMENTS__A__ENDPOINT", "https://a.example")
    write(files["dir"] / "PLAYGROUND_DEPLOYMENTS__A__KEY", KEY)
    write(files["dir"] / "PLAYGROUND_DEPLOYMENTS__A__MAX_RETRIES", "many")
    with pytest.raises(ConfigError) as caught:
        load_settings(environ=env_for(files, PLAYGROUND_SECRETS_DIR=str(files["dir"])))
    message = str(caught.value)
    assert str(files["dir"] / "PLAYGROUND_DEPLOYMENTS__A__MAX_RETRIES") in message and "'a'" in message
    assert (caught.value.deployment, caught.value.field) == ("a", "max_retries") and KEY not in message


def test_an_unknown_field_in_the_secrets_directory_names_the_file(files: dict[str, Path]) -> None:
    write(files["dir"] / "PLAYGROUND_DEPLOYMENTS__A__COLOUR", "red")
    with pytest.raises(
        ConfigError, match=r"PLAYGROUND_DEPLOYMENTS__A__COLOUR: deployment 'a', field 'colour'"
    ) as caught:
        load_settings(environ=env_for(files, PLAYGROUND_SECRETS_DIR=str(files["dir"])))
    assert caught.value.source == str(files["dir"] / "PLAYGROUND_DEPLOYMENTS__A__COLOUR")


@pytest.mark.parametrize("problem", ["missing", "a file"])
def test_a_secrets_directory_that_is_not_one_is_an_error_naming_it(files: dict[str, Path], problem: str) -> None:
    if problem == "a file":
        write(files["dir"], "not a directory")
    with pytest.raises(ConfigError, match="secrets directory") as caught:
        load_settings(environ=env_for(files, PLAYGROUND_SECRETS_DIR=str(files["dir"])))
    assert caught.value.source == str(files["dir"]) and str(files["dir"]) in str(caught.value)


def test_a_nested_variable_error_names_the_variable_and_hides_the_key(files: dict[str, Path]) -> None:
    env = env_for(
        files,
        PLAYGROUND_DEPLOYMENTS__A__ENDPOINT="https://a.example",
        PLAYGROUND_DEPLOYMENTS__A__KEY=KEY,
        PLAYGROUND_DEPLOYMENTS__A__CONNECT_TIMEOUT="-1",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(environ=env)
    message = str(caught.value)
    assert message.startswith("environment variable PLAYGROUND_DEPLOYMENTS__A__CONNECT_TIMEOUT: deployment 'a'")
    assert caught.value.field == "connect_timeout" and KEY not in message


def test_a_missing_endpoint_names_the_source_that_first_named_the_deployment(files: dict[str, Path]) -> None:
    write(files["secrets"], f'[deployments.lonely]\nkey = "{KEY}"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(environ=env_for(files, PLAYGROUND_DEPLOYMENTS__LONELY__MODEL="m"))
    assert str(caught.value).startswith(f"{files['secrets']}: deployment 'lonely', field 'endpoint'")
    assert KEY not in str(caught.value)


def test_no_key_shows_in_the_settings_repr_or_in_a_debug_log(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    write(files["config"], f'[deployments.a]\nendpoint = "https://a.example"\nextra_headers = {{ "x" = "{KEY}-h" }}\n')
    write(files["dir"] / "PLAYGROUND_DEPLOYMENTS__A__KEY", KEY)
    # pydantic-settings logs every source's state at DEBUG when this is set.
    monkeypatch.setenv("PYDANTIC_SETTINGS_DEBUG", "1")
    with caplog.at_level(logging.DEBUG, logger="pydantic_settings"):
        settings = load_settings(environ=env_for(files, PLAYGROUND_SECRETS_DIR=str(files["dir"])))
    assert settings.deployments["a"].key is not None
    assert "Resolving settings" in caplog.text  # the log ran, so the check below means something
    for text in (repr(settings), str(settings), settings.model_dump_json(), caplog.text):
        assert KEY not in text


# --- key_file -------------------------------------------------------------------------------------------------------


def test_key_file_is_read_trimmed_and_reported_as_key_file(tmp_path: Path, files: dict[str, Path]) -> None:
    key_path = write(tmp_path / "keys" / "gpt4o-key", f"\n  {KEY}  \n")
    write(files["config"], f'[deployments.gpt4o]\nendpoint = "https://a.example"\nkey_file = "{key_path}"\n')
    gpt = load_settings(environ=env_for(files)).deployments["gpt4o"]
    assert gpt.key is not None and gpt.key.get_secret_value() == KEY and gpt.key_source == "key_file"
    assert KEY not in repr(gpt) + str(gpt) + gpt.model_dump_json()


def test_key_file_into_a_kubernetes_secret_mount(tmp_path: Path, files: dict[str, Path]) -> None:
    mount = kubernetes_secret(tmp_path / "run" / "secrets" / "playground", {"gpt4o-key": KEY + "\n"})
    env = env_for(
        files,
        PLAYGROUND_DEPLOYMENTS__GPT4O__ENDPOINT="https://a.example",
        PLAYGROUND_DEPLOYMENTS__GPT4O__KEY_FILE=str(mount / "gpt4o-key"),
    )
    gpt = load_settings(environ=env).deployments["gpt4o"]
    assert gpt.key is not None and gpt.key.get_secret_value() == KEY and gpt.key_source == "key_file"


def _key_file_error(files: dict[str, Path], key_path: Path) -> ConfigError:
    write(files["config"], f'[deployments.gpt4o]\nendpoint = "https://a.example"\nkey_file = "{key_path}"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(environ=env_for(files))
    error = caught.value
    assert (error.deployment, error.field, error.source) == ("gpt4o", "key_file", str(files["config"]))
    message = str(error)
    assert str(key_path) in message and "'gpt4o'" in message and "'key_file'" in message and "\n" not in message
    return error


def test_a_missing_key_file_names_the_deployment_the_field_and_the_path(tmp_path: Path, files: dict[str, Path]) -> None:
    assert "file not found" in str(_key_file_error(files, tmp_path / "absent-key"))


def test_an_empty_key_file_is_an_error(tmp_path: Path, files: dict[str, Path]) -> None:
    assert "empty" in str(_key_file_error(files, write(tmp_path / "blank-key", " \n\t\n")))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_key_file_is_an_error_without_its_content(tmp_path: Path, files: dict[str, Path]) -> None:
    key_path = write(tmp_path / "locked-key", KEY)
    key_path.chmod(0)
    try:
        error = _key_file_error(files, key_path)
    finally:
        key_path.chmod(0o600)
    assert "cannot be read" in str(error) and KEY not in str(error) + repr(error)


def test_a_key_file_behind_a_link_loop_cannot_be_read(tmp_path: Path, files: dict[str, Path]) -> None:
    # Unreadable even for root (the permission test above is skipped there).
    (tmp_path / "loop-a").symlink_to(tmp_path / "loop-b")
    (tmp_path / "loop-b").symlink_to(tmp_path / "loop-a")
    assert "cannot be read" in str(_key_file_error(files, tmp_path / "loop-a"))


def test_a_key_file_that_is_a_directory_or_not_text_is_an_error_without_its_content(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    assert "cannot be read" in str(_key_file_error(files, tmp_path))
    binary = tmp_path / "binary-key"
    binary.write_bytes(b"\xff\xfe" + KEY.encode())
    error = _key_file_error(files, binary)
    assert "not UTF-8" in str(error) and KEY not in str(error) and "0xff" not in str(error)


def test_key_and_key_file_together_are_an_error_naming_both(tmp_path: Path, files: dict[str, Path]) -> None:
    key_path = write(tmp_path / "key", KEY)
    write(files["config"], f'[deployments.a]\nendpoint = "https://a.example"\nkey_file = "{key_path}"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(environ=env_for(files, PLAYGROUND_DEPLOYMENTS__A__KEY="other-" + KEY))
    message = str(caught.value)
    assert caught.value.field == "key_file" and "'key'" in message and "PLAYGROUND_DEPLOYMENTS__A__KEY" in message
    assert KEY not in message


def test_key_and_key_file_in_one_table_are_an_error(tmp_path: Path, files: dict[str, Path]) -> None:
    key_path = write(tmp_path / "key", KEY)
    write(files["config"], f'[deployments.a]\nendpoint = "https://a.example"\nkey = "k"\nkey_file = "{key_path}"\n')
    with pytest.raises(ConfigError, match=r"deployment 'a', field 'key_file': set together with 'key'"):
        load_settings(environ=env_for(files))


def test_a_blank_key_does_not_conflict_with_key_file(tmp_path: Path, files: dict[str, Path]) -> None:
    key_path = write(tmp_path / "key", KEY)
    write(files["config"], f'[deployments.a]\nendpoint = "https://a.example"\nkey_file = "{key_path}"\n')
    a = load_settings(environ=env_for(files, PLAYGROUND_DEPLOYMENTS__A__KEY="")).deployments["a"]
    assert a.key is not None and a.key.get_secret_value() == KEY and a.key_source == "key_file"


def test_a_key_file_that_is_not_a_path_is_an_error(files: dict[str, Path]) -> None:
    write(files["config"], '[deployments.a]\nendpoint = "https://a.example"\nkey_file = 42\n')
    with pytest.raises(ConfigError, match=r"field 'key_file': must be a path"):
        load_settings(environ=env_for(files))
