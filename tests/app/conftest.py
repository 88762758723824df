"""AppTest helpers: the app started from app/main.py with a test's own deployments file."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.fixtures.app_server import local_deployments_toml, toml_deployment

APP = str(Path(__file__).resolve().parents[2] / "app" / "main.py")
RUN_TIMEOUT_S = 90

__all__ = ["RUN_TIMEOUT_S", "all_text", "cap_tokens", "send", "toml_deployment"]


def all_text(at: AppTest) -> str:
    """Every markdown, caption, error and code text the app drew, joined (for "does X appear anywhere")."""
    parts: list[str] = []
    for kind in ("markdown", "caption", "error", "info", "warning", "success", "code", "title", "subheader"):
        parts += [str(element.value) for element in getattr(at, kind)]
    parts += [str(w.value) for w in at.text_input] + [str(w.value) for w in at.text_area]
    return "\n".join(parts)


def send(at: AppTest, text: str) -> None:
    """Type `text` into the chat box and run; the run must not raise."""
    at.chat_input[0].set_value(text).run()
    assert not at.exception, at.exception


def cap_tokens(at: AppTest, value: int = 4) -> None:
    """Switch max_tokens on at `value` (short answers keep the embedded model quick)."""
    at.checkbox(key="p_max_tokens_on").check().run()
    at.number_input(key="p_max_tokens").set_value(value).run()


@pytest.fixture(autouse=True)
def _developer_machine_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    """AppTest has no listening address (which makes the endpoint policy public-only): these tests play a developer
    on their own machine, where `make run` listens on loopback and added endpoints may be local servers. Tests of
    the guard set PLAYGROUND_USER_ENDPOINTS themselves."""
    monkeypatch.setenv("PLAYGROUND_USER_ENDPOINTS", "any")


@pytest.fixture
def app_with_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., AppTest]]:
    """Returns make(config_toml, query=None, secrets=None, user=None, **env) -> AppTest that has run once (opened
    with `query` in its URL; `secrets` as Streamlit's secrets, `user` as `st.user`)."""
    for name in ("PLAYGROUND_LOCAL_ENDPOINT", "AZUREAI_ENDPOINT_URL", "AZUREAI_ENDPOINT_KEY", "LOCAL_ENDPOINT_KEY"):
        monkeypatch.delenv(name, raising=False)
    # Saved conversations and the embeddings cache go to the test's own directory, not the checkout.
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path / "data"))

    def make(
        config_toml: str,
        query: Mapping[str, str] | None = None,
        *,
        secrets: Mapping[str, Any] | None = None,
        user: Mapping[str, Any] | None = None,
        **env: str,
    ) -> AppTest:
        config = tmp_path / f"deployments-{len(list(tmp_path.iterdir()))}.toml"
        config.write_text(config_toml)
        monkeypatch.setenv("PLAYGROUND_CONFIG", str(config))
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        at = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT_S)
        for name, value in (query or {}).items():
            at.query_params[name] = value
        at.secrets.update(secrets or {})
        if user is not None:
            at.user = dict(user)
        at.run()
        assert not at.exception, at.exception
        return at

    yield make


@pytest.fixture
def local_app(app_with_config: Callable[..., AppTest], local_endpoint_url: str) -> AppTest:
    """The app with the embedded endpoint's deployments (chat model first)."""
    return app_with_config(local_deployments_toml(local_endpoint_url))
