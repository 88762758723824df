"""Sign-in through a real OpenID Connect provider on loopback: the sign-in screen, the provider's form, the callback,
the signed-in app with the user's name in the sidebar, and Sign out back to the sign-in screen."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.app_server import (
    AppServer,
    cap_max_tokens,
    local_deployments_toml,
    run_app_server,
    screenshot,
    wait_for_app,
    wait_until_idle,
)
from tests.fixtures.oidc_provider import CLIENT_SECRET, COOKIE_SECRET, OidcProvider

pytestmark = pytest.mark.e2e

# Streamlit puts the app's own port in place of {port}; 127.0.0.1 throughout, so the auth cookie is the app's.
REDIRECT_URI = "http://127.0.0.1:{port}/oauth2callback"


@pytest.fixture(scope="module")
def signed_in_app(local_endpoint_url: str, oidc_provider: OidcProvider) -> Iterator[AppServer]:
    """The app on the embedded endpoint with `[auth]` pointing at the session's OIDC provider."""
    with run_app_server(
        local_deployments_toml(local_endpoint_url), secrets_toml=oidc_provider.auth_toml(REDIRECT_URI)
    ) as server:
        yield server


def sign_in(page: Any, app_url: str, provider: OidcProvider, sub: str, email: str, name: str) -> None:
    """From the app's sign-in screen, sign in as the account `sub` (with `email` and `name`) and wait for the app."""
    provider.set_user(sub, email=email, name=name)
    page.goto(app_url)
    wait_for_app(page)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(f"{provider.url}/oauth2/authorize*")
    page.locator("input[name=sub]").fill(sub)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{app_url}/**")
    wait_for_app(page)
    page.get_by_test_id("stSidebar").get_by_text(name, exact=True).wait_for()


def sign_out(page: Any, provider: OidcProvider) -> None:
    """Sign out from the sidebar and confirm at the provider's end-session page."""
    page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{provider.url}/oauth2/end_session*")
    page.get_by_role("button", name="End session").click()


def _assert_sign_in_screen(page: Any) -> None:
    page.get_by_role("button", name="Sign in", exact=True).wait_for()
    wait_until_idle(page)
    assert page.get_by_test_id("stHeading").first.inner_text() == "Model playground"
    assert page.get_by_test_id("stChatInputTextArea").count() == 0
    assert page.get_by_test_id("stSidebar").count() == 0


def test_user_signs_in_through_the_provider_uses_the_chat_and_signs_out(
    page: Any, signed_in_app: AppServer, oidc_provider: OidcProvider
) -> None:
    app_url = signed_in_app.url
    page.goto(app_url)
    wait_for_app(page)
    _assert_sign_in_screen(page)
    screenshot(page, "sign-in-screen")

    sign_in(page, app_url, oidc_provider, "alice", "alice@example.com", "Alice Example")
    sidebar = page.get_by_test_id("stSidebar")
    assert sidebar.get_by_role("button", name="Sign out").is_visible()
    assert "admin" not in sidebar.locator(".st-key-account").inner_text()
    page.get_by_test_id("stChatInputTextArea").wait_for()
    cap_max_tokens(page, 4)
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill("Say hello.")
    box.press("Enter")
    page.get_by_test_id("stChatMessage").nth(1).wait_for()
    wait_until_idle(page)
    assert page.get_by_test_id("stChatMessage").nth(1).get_by_test_id("stMarkdownContainer").first.inner_text()
    screenshot(page, "signed-in-chat")
    for secret in (CLIENT_SECRET, COOKIE_SECRET):
        assert secret not in page.content()
        assert secret not in signed_in_app.log()

    sign_out(page, oidc_provider)
    page.wait_for_url(f"{app_url}/**")
    wait_for_app(page)
    _assert_sign_in_screen(page)
    # Signed out for good: a fresh load of the app does not sign alice back in from a leftover cookie.
    page.goto(app_url)
    wait_for_app(page)
    _assert_sign_in_screen(page)


def _chat_once(page: Any, text: str) -> str:
    """Send `text` on the chat page, wait for the answer, and return the conversation id the URL now holds."""
    page.get_by_test_id("stChatInputTextArea").wait_for()
    cap_max_tokens(page, 4)
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(text)
    box.press("Enter")
    page.get_by_test_id("stChatMessage").nth(1).wait_for()
    wait_until_idle(page)
    page.wait_for_url("**/chat?c=*")
    return page.url.split("c=", 1)[1].split("&", 1)[0]


def _saved_list(page: Any) -> str:
    """The text of the chat page's saved-conversations list, opened."""
    page.get_by_text("Your conversations", exact=True).click()
    wait_until_idle(page)
    return page.locator(".st-key-chat_saved_open").inner_text()


def test_a_second_user_does_not_see_the_first_users_conversations(
    browser: Any, signed_in_app: AppServer, oidc_provider: OidcProvider
) -> None:
    app_url = signed_in_app.url
    alice = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = alice.new_page()
    page.set_default_timeout(30_000)
    sign_in(page, app_url, oidc_provider, "alice", "alice@example.com", "Alice Example")
    conversation_id = _chat_once(page, "Alice asks about the harbour.")
    assert "Alice asks about the harbour." in _saved_list(page)
    alice.close()

    bob = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = bob.new_page()
    page.set_default_timeout(30_000)
    sign_in(page, app_url, oidc_provider, "bob", "bob@example.com", "Bob Example")
    assert "Alice asks" not in _saved_list(page)
    # Alice's link opens nothing for Bob, and does not say whether it exists.
    page.goto(f"{app_url}/chat?c={conversation_id}")
    wait_for_app(page)
    page.get_by_text("of yours on this server").wait_for()
    assert page.get_by_test_id("stChatMessage").count() == 0
    assert "Alice asks" not in page.content()
    screenshot(page, "second-user-sees-nothing-of-the-first")
    bob.close()

    alice = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = alice.new_page()
    page.set_default_timeout(30_000)
    sign_in(page, app_url, oidc_provider, "alice", "alice@example.com", "Alice Example")
    page.goto(f"{app_url}/chat?c={conversation_id}")
    wait_for_app(page)
    page.get_by_test_id("stChatMessage").first.get_by_text("Alice asks about the harbour.").wait_for()
    alice.close()
