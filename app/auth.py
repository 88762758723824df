"""Optional sign-in through Streamlit's OpenID Connect support (`st.login`), configured by `[auth]` in secrets.toml.

Without an `[auth]` section nothing here draws anything and every caller is the anonymous viewer. With one, every
page waits behind a sign-in screen, and the sidebar names who is signed in, with a "Sign out" button.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import streamlit as st
from streamlit import config as st_config

from services.identity import ANONYMOUS, Viewer, admins_from_env
from services.safe_markdown import escape_markdown
from services.sign_in import AuthSettings, provider_label, read_auth_settings, viewer_from_claims

APP_TITLE = "Model playground"
_DEFAULT_SECRETS_LABEL = ".streamlit/secrets.toml"
# A secrets file that fails to parse but holds an [auth] table must not silently turn sign-in off.
_AUTH_TABLE = re.compile(r"^\s*\[\s*auth\s*[\].]", re.MULTILINE)


class NotSignedInError(RuntimeError):
    """Sign-in is on and nobody is signed in: there is no viewer (require_sign_in() stops such runs earlier)."""


def auth_configured() -> bool:
    """True when Streamlit's secrets hold an `[auth]` section (no secrets file at all means sign-in is off)."""
    return auth_settings() is not None


def auth_settings() -> AuthSettings | None:
    """The `[auth]` section read as sign-in settings; None when sign-in is off."""
    if not st.secrets.load_if_toml_exists():
        if any(_AUTH_TABLE.search(path.read_text(errors="replace")) for path in _secrets_files()):
            return AuthSettings(providers=(), problems=("the file could not be read as TOML",))
        return None
    section = st.secrets.get("auth")
    if section is None:
        return None
    if not isinstance(section, Mapping):
        return AuthSettings(providers=(), problems=("auth must be a table ([auth])",))
    return read_auth_settings(section)


def require_sign_in() -> None:
    """When sign-in is on and nobody is signed in, draw the sign-in screen (or what is misconfigured) and stop."""
    settings = auth_settings()
    if settings is None:
        return
    if not settings.ready:
        st.title(APP_TITLE)
        st.error(
            f"Sign-in is switched on by the [auth] section of {escape_markdown(_secrets_label())}, but it is not "
            f"complete: {escape_markdown('; '.join(settings.problems))}. Fix the file and restart the app "
            "(see Sign-in in the README)."
        )
        st.stop()
    claims = _signed_in_claims()
    if claims is None:
        _draw_sign_in_screen(settings.providers)
        st.stop()
    if viewer_from_claims(claims, admins_from_env()) is None:
        st.title(APP_TITLE)
        st.error("Your account's provider sent neither an e-mail nor a subject (sub) claim to identify you by.")
        st.button("Sign out", key="sign_out", on_click=st.logout)
        st.stop()


def current_viewer() -> Viewer:
    """Who is asking: ANONYMOUS when sign-in is off, else the signed-in account (call from the script's thread)."""
    if not auth_configured():
        return ANONYMOUS
    claims = _signed_in_claims()
    viewer = viewer_from_claims(claims, admins_from_env()) if claims is not None else None
    if viewer is None:
        raise NotSignedInError("sign-in is on and nobody is signed in")
    return viewer


def render_account() -> None:
    """The sidebar's account block: who is signed in ("admin" beside an admin) and "Sign out"; nothing when off."""
    if not auth_configured():
        return
    viewer = current_viewer()
    with st.container(key="account"):
        admin = " · :small[admin]" if viewer.is_admin else ""
        st.markdown(f":material/account_circle: **{escape_markdown(viewer.name)}**{admin}")
        st.button("Sign out", key="sign_out", on_click=st.logout, type="secondary")


def _draw_sign_in_screen(providers: tuple[str, ...]) -> None:
    st.title(APP_TITLE)
    st.write("Sign in to use the playground.")
    for provider in providers:
        st.button(provider_label(provider), key=f"sign_in_{provider}", on_click=st.login, args=(provider,))


def _signed_in_claims() -> dict[str, object] | None:
    """The signed-in account's claims, None when nobody is (a user dict without is_logged_in counts as nobody)."""
    user = st.user.to_dict()
    return dict(user) if user.get("is_logged_in") is True else None


def _secrets_files() -> list[Path]:
    """The secrets.toml files Streamlit reads that exist (its `secrets.files` option)."""
    return [path for path in map(Path, st_config.get_option("secrets.files")) if path.is_file()]


def _secrets_label() -> str:
    return ", ".join(str(path) for path in _secrets_files()) or _DEFAULT_SECRETS_LABEL
