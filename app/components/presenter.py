"""Presenter mode: the app as a stage, switched on in the sidebar or by `?present=1` in the URL.

While it is on, the sidebar is gone (its contents are not drawn and CSS hides its frame), the page links move to the
top bar, text is larger, and the components that show endpoints, key sources or ids (error cards, metrics, the chat
page's settings) ask `is_on()` and show plain words instead. A small "Leave presenter mode" button stays at the top.

The mode lives in the session, and the URL parameter is written back on every run, so it survives page switches
(which drop query parameters) and a reload keeps it.
"""

from __future__ import annotations

from typing import Literal

import streamlit as st

QUERY_KEY = "present"
_STATE = "presenter_on"
SWITCH_KEY = "presenter_switch"
LEAVE_KEY = "presenter_leave"
_ON_WORDS = frozenset({"1", "true", "on", "yes"})
_OFF_WORDS = frozenset({"0", "false", "off", "no"})
# The pages a backstage page's notice links back to: (title, url path, icon).
_STAGE_PAGES = (("Chat", "chat", ":material/chat:"), ("Compare", "compare", ":material/compare_arrows:"))
# Larger text by element: a larger root font-size (rem) breaks the selectbox's dropdown, which then lists nothing.
STAGE_CSS = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stExpandSidebarButton"] {
  display: none !important;
}
[data-testid="stMain"] [data-testid="stMarkdownContainer"] :is(p, li) { font-size: 1.25rem; }
[data-testid="stChatMessage"] [data-testid="stMarkdownContainer"] :is(p, li) { font-size: 1.4rem; line-height: 1.5; }
[data-testid="stChatInputTextArea"] { font-size: 1.25rem; }
[data-testid="stMetricValue"], [data-testid="stMetricValue"] * { font-size: 2.6rem !important; line-height: 1.2; }
[data-testid="stMetricLabel"] :is(p, div) { font-size: 1rem !important; }
</style>"""


def is_on() -> bool:
    """True while presenter mode is on in this session."""
    return bool(st.session_state.get(_STATE, False))


def set_on(on: bool) -> None:
    """Switch presenter mode on or off, URL included."""
    st.session_state[_STATE] = on
    if on:
        st.query_params[QUERY_KEY] = "1"
    else:
        st.query_params.pop(QUERY_KEY, None)


def sync_with_url() -> None:
    """Take the mode from `?present=` when the URL has it, else keep the session's; then write it back to the URL.

    Call once per run before anything reads `is_on()` (app/main.py does, before the sidebar)."""
    wanted = st.query_params.get(QUERY_KEY)
    if wanted is not None and wanted.strip().lower() in _ON_WORDS:
        st.session_state[_STATE] = True
    elif wanted is not None and wanted.strip().lower() in _OFF_WORDS:
        st.session_state[_STATE] = False
    if is_on() and st.query_params.get(QUERY_KEY) != "1":
        st.query_params[QUERY_KEY] = "1"  # a page switch dropped it
    elif not is_on() and wanted is not None:
        st.query_params.pop(QUERY_KEY, None)


def _switched() -> None:
    set_on(bool(st.session_state.get(SWITCH_KEY)))


def render_switch() -> None:
    """The sidebar's "Presenter mode" toggle (drawn while the mode is off: when on, the sidebar is gone)."""
    st.session_state[SWITCH_KEY] = is_on()
    st.toggle(
        "Presenter mode",
        key=SWITCH_KEY,
        on_change=_switched,
        help="A stage for a demo: no sidebar, larger text, plain-word errors, big metrics, and no endpoints, "
        "key sources or ids on the page. Also `?present=1` in the URL.",
    )


def render_stage() -> None:
    """While on: the stage's CSS and the "Leave presenter mode" button at the top of the page (before the page)."""
    if not is_on():
        return
    st.html(STAGE_CSS)
    row = st.container(horizontal=True, horizontal_alignment="right", key="presenter_bar")
    row.button(
        "Leave presenter mode",
        key=LEAVE_KEY,
        on_click=set_on,
        args=(False,),
        type="tertiary",
        icon=":material/close_fullscreen:",
    )


def nav_position() -> Literal["top", "sidebar"]:
    """Where st.navigation puts the page links: the top bar on stage (the sidebar is hidden), else the sidebar."""
    return "top" if is_on() else "sidebar"


def render_backstage_notice(page: str) -> bool:
    """On stage, in place of a page that shows endpoints, keys' sources or ids by nature (opened by its URL): a plain
    notice with the way out of presenter mode and links back to the stage's pages. True when drawn (the page stops
    there)."""
    if not is_on():
        return False
    with st.container(border=True, key="presenter_backstage"):
        st.markdown(f"**{page} is not shown in presenter mode**")
        st.markdown(
            "This page shows technical details that stay off the stage. Leave presenter mode to open it, or go "
            "back to the demo."
        )
        row = st.container(horizontal=True, gap="small")
        row.button(
            "Leave presenter mode",
            key="presenter_backstage_leave",
            on_click=set_on,
            args=(False,),
            icon=":material/close_fullscreen:",
        )
        for title, path, icon in _STAGE_PAGES:
            row.page_link(st.Page(_nothing, title=title, url_path=path), label=f"Go to {title}", icon=icon)
    return True


def _nothing() -> None:
    """A placeholder page body: a link is matched to the registered page by its url path."""


def backstage_visibility() -> Literal["hidden", "visible"]:
    """The visibility of pages that show endpoints, keys' sources or ids by nature: off the top bar on stage (still
    reachable by their URL)."""
    return "hidden" if is_on() else "visible"
