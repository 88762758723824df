"""The `[auth]` section of Streamlit's secrets read as sign-in settings, and the viewer a signed-in account becomes.

Streamlit's `st.login` takes either one unnamed provider (`client_id`, `client_secret` and `server_metadata_url`
directly under `[auth]`) or named ones (`[auth.microsoft]`, `[auth.google]`, ...), and always `redirect_uri` and
`cookie_secret` under `[auth]`. Streamlit reports a missing field only once someone clicks "Sign in", as a
traceback; here every missing field is named up front. Values are never copied into a problem: they are secrets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.identity import Viewer, owner_id

# Streamlit's name for the provider configured directly under [auth].
DEFAULT_PROVIDER = "default"
SHARED_FIELDS = ("redirect_uri", "cookie_secret")
PROVIDER_FIELDS = ("client_id", "client_secret", "server_metadata_url")
CALLBACK_PATH = "/oauth2callback"
# Sub-tables of [auth] that configure the unnamed provider rather than name one.
_NOT_PROVIDERS = frozenset({"client_kwargs"})


@dataclass(frozen=True)
class AuthSettings:
    """Sign-in as configured: the providers to offer and what stops sign-in from working (empty when it works)."""

    providers: tuple[str, ...]
    problems: tuple[str, ...] = ()

    @property
    def ready(self) -> bool:
        """True when every required field is present, so the sign-in buttons can work."""
        return not self.problems


def read_auth_settings(auth: Mapping[str, object]) -> AuthSettings:
    """The providers an `[auth]` section offers, and its problems naming fields (`auth.google.client_id`)."""
    problems = [f"missing {field}" for field in SHARED_FIELDS if _blank(auth.get(field))]
    redirect_uri = auth.get("redirect_uri")
    if isinstance(redirect_uri, str) and redirect_uri.strip() and not redirect_uri.rstrip().endswith(CALLBACK_PATH):
        problems.append(f"redirect_uri must end with {CALLBACK_PATH}")
    named = [name for name, value in auth.items() if isinstance(value, Mapping) and name not in _NOT_PROVIDERS]
    providers: list[str] = []
    if not named or any(field in auth for field in PROVIDER_FIELDS):
        providers.append(DEFAULT_PROVIDER)
        problems += [f"missing {field}" for field in PROVIDER_FIELDS if _blank(auth.get(field))]
    for name in named:
        providers.append(name)
        section = auth[name]
        assert isinstance(section, Mapping)
        problems += [f"missing auth.{name}.{field}" for field in PROVIDER_FIELDS if _blank(section.get(field))]
        if "_" in name:
            # Streamlit refuses provider names with an underscore when the button is clicked.
            problems.append(f"provider name auth.{name} must not contain an underscore")
    return AuthSettings(providers=tuple(providers), problems=tuple(problems))


def provider_label(provider: str) -> str:
    """The sign-in button for a provider: "Sign in" for the unnamed one, "Sign in with Google" for `[auth.google]`."""
    if provider == DEFAULT_PROVIDER:
        return "Sign in"
    return f"Sign in with {provider[:1].upper()}{provider[1:]}"


def display_name(claims: Mapping[str, object]) -> str:
    """What to call a signed-in account: its name, else its e-mail, else its `sub`."""
    for claim in ("name", "email", "sub"):
        value = claims.get(claim)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def viewer_from_claims(claims: Mapping[str, object], admins: frozenset[str]) -> Viewer | None:
    """The viewer a signed-in account's claims make (an admin when its owner id is in `admins`).

    None when the claims carry neither e-mail nor `sub`: a Viewer without owner would see everyone's rows."""
    owner = owner_id(claims)
    if owner is None:
        return None
    return Viewer(owner=owner, name=display_name(claims) or owner, is_admin=owner in admins)


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())
