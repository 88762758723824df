"""Sign-in: off without [auth] (no sign-in UI at all); with it, every page waits behind the sign-in screen."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import all_text
from tests.fixtures.app_server import local_deployments_toml

COOKIE_SECRET = "cookie-secret-0f9e8d7c6b5a"
CLIENT_SECRET = "client-secret-1a2b3c4d5e"
PROVIDER = {
    "client_id": "playground",
    "client_secret": CLIENT_SECRET,
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}
AUTH = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": COOKIE_SECRET, **PROVIDER}
ALICE = {"is_logged_in": True, "sub": "alice-sub", "email": "Alice@Example.com", "name": "Alice Example"}

MakeApp = Callable[..., AppTest]


@pytest.fixture
def make_app(app_with_config: MakeApp, local_endpoint_url: str, monkeypatch: pytest.MonkeyPatch) -> MakeApp:
    """make(auth=None, user=None, **env): the app over the embedded endpoint, with `auth` as the [auth] secrets."""
    monkeypatch.delenv("PLAYGROUND_ADMINS", raising=False)

    def make(auth: dict[str, Any] | None = None, user: dict[str, Any] | None = None, **env: str) -> AppTest:
        secrets = {"auth": auth} if auth is not None else None
        return app_with_config(local_deployments_toml(local_endpoint_url), secrets=secrets, user=user, **env)

    return make


def _labels(at: AppTest) -> list[str]:
    return [button.label for button in at.button]


def _assert_only_the_sign_in_screen(at: AppTest) -> None:
    assert [title.value for title in at.title] == ["Model playground"]
    assert not at.chat_input and not at.subheader
    assert not at.sidebar.selectbox and not at.sidebar.markdown and not at.sidebar.button


def test_without_auth_the_app_shows_no_sign_in_ui(make_app: MakeApp) -> None:
    at = make_app()
    assert at.chat_input and at.subheader[0].value == "Chat with smollm2-135m-instruct"
    assert not any("Sign" in label for label in _labels(at))
    assert "account_circle" not in "\n".join(m.value for m in at.sidebar.markdown)


def test_with_auth_a_visitor_who_is_not_signed_in_sees_only_the_sign_in_screen(make_app: MakeApp) -> None:
    at = make_app(AUTH, user={"is_logged_in": False})
    _assert_only_the_sign_in_screen(at)
    assert _labels(at) == ["Sign in"]


def test_with_auth_a_user_without_is_logged_in_counts_as_not_signed_in(make_app: MakeApp) -> None:
    # AppTest's default user ({"email": ...}, no is_logged_in) must not slip past the sign-in screen.
    at = make_app(AUTH)
    _assert_only_the_sign_in_screen(at)


def test_named_providers_get_a_sign_in_button_each(make_app: MakeApp) -> None:
    auth = {"redirect_uri": AUTH["redirect_uri"], "cookie_secret": COOKIE_SECRET, "microsoft": PROVIDER}
    at = make_app({**auth, "google": PROVIDER}, user={"is_logged_in": False})
    _assert_only_the_sign_in_screen(at)
    assert _labels(at) == ["Sign in with Microsoft", "Sign in with Google"]


def test_half_configured_auth_names_the_missing_fields_and_the_file_and_shows_no_secret(make_app: MakeApp) -> None:
    at = make_app(PROVIDER, user={"is_logged_in": False})
    [error] = at.error
    assert "redirect\\_uri" in error.value and "cookie\\_secret" in error.value
    assert "secrets\\.toml" in error.value
    assert not at.button and not at.chat_input and not at.sidebar.selectbox
    assert CLIENT_SECRET not in all_text(at) and CLIENT_SECRET not in error.value


def test_half_configured_named_provider_is_named_with_its_table(make_app: MakeApp) -> None:
    auth = {**{k: v for k, v in AUTH.items() if k not in PROVIDER}, "google": {"client_id": "playground"}}
    at = make_app(auth, user=ALICE)
    [error] = at.error
    assert "auth\\.google\\.client\\_secret" in error.value and "auth\\.google\\.server\\_metadata\\_url" in error.value
    assert COOKIE_SECRET not in all_text(at)
    assert not at.chat_input


def test_signed_in_user_sees_their_name_a_sign_out_button_and_the_chat_page(make_app: MakeApp) -> None:
    at = make_app(AUTH, user=ALICE)
    sidebar_text = "\n".join(m.value for m in at.sidebar.markdown)
    assert "**Alice Example**" in sidebar_text and "admin" not in sidebar_text
    assert [b.label for b in at.sidebar.button if b.key == "sign_out"] == ["Sign out"]
    assert at.chat_input and at.subheader[0].value == "Chat with smollm2-135m-instruct"
    assert at.sidebar.selectbox(key="deployment_selected").value == "smollm2-135m-instruct"


def test_user_listed_in_playground_admins_is_marked_admin(make_app: MakeApp) -> None:
    at = make_app(AUTH, user=ALICE, PLAYGROUND_ADMINS="bob@example.com, ALICE@example.com")
    assert "**Alice Example** · :small[admin]" in "\n".join(m.value for m in at.sidebar.markdown)


def test_sign_out_returns_to_the_sign_in_screen(make_app: MakeApp) -> None:
    at = make_app(AUTH, user=ALICE)
    at.sidebar.button(key="sign_out").click().run()
    assert not at.exception, at.exception
    _assert_only_the_sign_in_screen(at)
    assert _labels(at) == ["Sign in"]


def test_account_without_email_or_sub_is_refused_rather_than_let_in(make_app: MakeApp) -> None:
    at = make_app(AUTH, user={"is_logged_in": True, "name": "Nobody"})
    assert "neither an e-mail nor a subject" in at.error[0].value
    assert not at.chat_input and not at.sidebar.selectbox
