"""Sign-in settings from an `[auth]` section, and the viewer a signed-in account's claims make."""

from __future__ import annotations

from services.identity import Viewer
from services.sign_in import DEFAULT_PROVIDER, provider_label, read_auth_settings, viewer_from_claims

COOKIE_SECRET = "cookie-secret-5f1e2d3c4b"
CLIENT_SECRET = "client-secret-9a8b7c6d"
PROVIDER = {
    "client_id": "playground",
    "client_secret": CLIENT_SECRET,
    "server_metadata_url": "https://login.example.com/.well-known/openid-configuration",
}
SHARED = {"redirect_uri": "https://playground.example.com/oauth2callback", "cookie_secret": COOKIE_SECRET}


def test_single_provider_with_every_field_is_ready_with_one_unnamed_provider() -> None:
    settings = read_auth_settings({**SHARED, **PROVIDER})
    assert settings.ready
    assert settings.providers == (DEFAULT_PROVIDER,)


def test_named_providers_are_offered_in_the_order_written() -> None:
    settings = read_auth_settings({**SHARED, "microsoft": PROVIDER, "google": PROVIDER})
    assert settings.ready
    assert settings.providers == ("microsoft", "google")


def test_client_kwargs_of_the_unnamed_provider_is_not_a_provider() -> None:
    settings = read_auth_settings({**SHARED, **PROVIDER, "client_kwargs": {"prompt": "login"}})
    assert settings.providers == (DEFAULT_PROVIDER,)


def test_missing_shared_and_provider_fields_are_each_named_and_no_value_is_copied() -> None:
    settings = read_auth_settings({"client_id": "playground", "client_secret": CLIENT_SECRET})
    assert not settings.ready
    assert settings.problems == (
        "missing redirect_uri",
        "missing cookie_secret",
        "missing server_metadata_url",
    )


def test_missing_field_of_a_named_provider_is_named_with_its_table() -> None:
    settings = read_auth_settings({**SHARED, "google": {"client_id": "x", "server_metadata_url": "https://x"}})
    assert settings.problems == ("missing auth.google.client_secret",)


def test_empty_auth_section_asks_for_every_field() -> None:
    problems = read_auth_settings({}).problems
    assert [p.removeprefix("missing ") for p in problems] == [
        "redirect_uri",
        "cookie_secret",
        "client_id",
        "client_secret",
        "server_metadata_url",
    ]


def test_blank_value_counts_as_missing() -> None:
    settings = read_auth_settings({**SHARED, **PROVIDER, "cookie_secret": "  "})
    assert settings.problems == ("missing cookie_secret",)


def test_redirect_uri_must_be_the_oauth2callback_path() -> None:
    settings = read_auth_settings({**SHARED, **PROVIDER, "redirect_uri": "https://playground.example.com/"})
    assert settings.problems == ("redirect_uri must end with /oauth2callback",)


def test_provider_name_with_an_underscore_is_refused_before_anyone_clicks() -> None:
    settings = read_auth_settings({**SHARED, "entra_id": PROVIDER})
    assert settings.problems == ("provider name auth.entra_id must not contain an underscore",)


def test_button_labels_name_the_provider_except_the_unnamed_one() -> None:
    assert provider_label(DEFAULT_PROVIDER) == "Sign in"
    assert provider_label("microsoft") == "Sign in with Microsoft"


def test_viewer_is_named_by_name_then_email_then_sub_and_owned_by_lower_case_email() -> None:
    claims = {"sub": "u-1", "email": "Alice@Example.com", "name": "Alice Example"}
    assert viewer_from_claims(claims, frozenset()) == Viewer(owner="alice@example.com", name="Alice Example")
    assert viewer_from_claims({"sub": "u-1", "email": "Alice@Example.com"}, frozenset()) == Viewer(
        owner="alice@example.com", name="Alice@Example.com"
    )
    assert viewer_from_claims({"sub": "u-1"}, frozenset()) == Viewer(owner="u-1", name="u-1")


def test_viewer_is_admin_only_when_its_owner_id_is_listed() -> None:
    claims = {"sub": "u-1", "email": "Alice@Example.com"}
    assert viewer_from_claims(claims, frozenset({"alice@example.com"})) == Viewer(
        owner="alice@example.com", name="Alice@Example.com", is_admin=True
    )
    assert viewer_from_claims(claims, frozenset({"bob@example.com", "u-1"})).is_admin is False


def test_account_without_email_or_sub_is_no_viewer_rather_than_the_anonymous_one() -> None:
    # A Viewer with owner None sees every row: an unidentifiable account must never become one.
    assert viewer_from_claims({"name": "Nobody"}, frozenset()) is None
