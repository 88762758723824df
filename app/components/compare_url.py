"""The compare page's address: the link read on a session's first visit, and the URL kept in step with the panes
and the tool settings.

While blind (and not revealed) the URL holds only a sealed token (services.compare_link), so the address bar names no
deployment. Streamlit adds a browser history entry for every change of the query parameters; on this page they
replace the current entry instead (a small script patches history.pushState for same-path changes), so the back
button leaves the page instead of stepping through every pane added or setting changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from urllib.parse import urlencode

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from app.components.compare_params import changed_settings, load_settings, pane_prefix
from app.components.compare_state import CompareState
from app.components.compare_tools import TOOLS_KEY
from app.components.tool_settings import canned_key
from services.compare_link import LINK_PARAMS, QUERY_BLIND, CompareLink, link_query, read_link
from services.compare_model import MAX_PANES
from services.config import Deployment
from services.link_seal import link_key
from services.safe_markdown import code_span

# Runs in the page (st.html with scripts allowed); the only value put in is the query string, JSON-quoted.
_HISTORY_SCRIPT = """<div class="compare-url-script"><script>
(() => {
  const onCompare = () => /\\/compare\\/?$/.test(window.location.pathname);
  if (!window.__playgroundCompareHistory) {
    window.__playgroundCompareHistory = true;
    const push = window.history.pushState.bind(window.history);
    window.history.pushState = (data, unused, url) => {
      const next = new URL(url == null ? window.location.href : url, window.location.href);
      const samePage = next.pathname === window.location.pathname;
      return samePage && onCompare() ? window.history.replaceState(data, unused, url) : push(data, unused, url);
    };
  }
  const wanted = __QUERY__;
  if (onCompare() && window.location.search !== wanted) {
    window.history.replaceState(window.history.state, "", window.location.pathname + wanted + window.location.hash);
  }
})();
</script></div>"""


def _query() -> dict[str, str]:
    return st.query_params.to_dict()


def _notice(link: CompareLink, unreadable: tuple[str, ...], unknown: list[str]) -> str | None:
    """What the page says about the parts of a link it could not use (never a name while blind)."""
    parts = []
    if "blind" in unreadable:
        parts.append(
            "This blind link was made by another playground, or this one's link key has changed: its panes cannot "
            "be read here, so the comparison starts blind with the default panes."
        )
    if unknown and link.blind:
        parts.append(f"{len(unknown)} of this link's panes use a deployment not configured here, so were left out.")
    elif unknown:
        # The names come from the URL: shown as code, never as markdown.
        named = ", ".join(code_span(name[:80]) for name in unknown[:MAX_PANES])
        parts.append(f"Not configured, so left out of the comparison: {named}.")
    if "own" in unreadable:
        parts.append("The pane settings in this link could not be read: those panes use the shared settings.")
    if "tools" in unreadable:
        parts.append(
            "The tool settings in this link could not be read: tool calls are answered by hand, without canned results."
        )
    return " ".join(parts) or None


def open_link(state: CompareState, deployments: Mapping[str, Deployment], default: Callable[[], str | None]) -> None:
    """On the session's first visit, set the panes (their deployments, own settings, blind mode) from the URL's
    link, else two panes on `default()` (asked only then: it may check which deployments answer)."""
    if state.url_read:
        return
    state.url_read = True
    query = _query()
    read = read_link(query, link_key())
    link = read.link or CompareLink()
    found = [(pos, name) for pos, name in enumerate(link.deployments) if name in deployments][:MAX_PANES]
    unknown = [name for name in link.deployments if name not in deployments]
    state.notice = _notice(link, read.unreadable, unknown)
    fallback = default() if not found else None
    if fallback is not None:
        found = [(-1, fallback), (-1, fallback)]
    for pos, name in found:
        pane = state.add_pane(name)
        if pane is not None and pos in link.own:
            pane.sync = False
            load_settings(pane_prefix(pane.uid), dict(link.own[pos]))
    state.auto_tools = link.auto_tools
    if link.canned:
        st.session_state[canned_key(TOOLS_KEY)] = link.canned
    if link.blind:
        state.set_blind(True)
        state.shuffle = link.shuffle
        token = query.get(QUERY_BLIND)
        if token and not read.unreadable and not unknown:
            state.sealed_link = (current_link(state).payload_text(), token)  # the address stays the one opened


def current_link(state: CompareState) -> CompareLink:
    """The link that opens this comparison: deployments, the unsynced panes' own settings, blind mode, and the
    tool settings (answer automatically, canned results)."""
    own = {pos: changed_settings(pane_prefix(p.uid)) for pos, p in enumerate(state.panes) if not p.sync}
    hidden = state.hidden
    canned = st.session_state.get(canned_key(TOOLS_KEY)) or ""
    return CompareLink(
        tuple(p.deployment for p in state.panes),
        own,
        hidden,
        hidden and state.shuffle,
        auto_tools=state.auto_tools,
        canned=canned if isinstance(canned, str) else "",
    )


def link_params(state: CompareState) -> dict[str, str]:
    """The query parameters of the current link; while blind, one token kept as long as the link is unchanged."""
    link = current_link(state)
    if not link.blind:
        return link_query(link, b"")
    text = link.payload_text()
    if state.sealed_link is None or state.sealed_link[0] != text:
        state.sealed_link = (text, link_query(link, link_key())[QUERY_BLIND])
    return {QUERY_BLIND: state.sealed_link[1]}


def sync_url(state: CompareState, slot: DeltaGenerator) -> None:
    """Make the URL open this comparison, replacing the history entry.

    The first run of a session leaves the address to the script drawn in `slot` (Streamlit would push an entry
    before the script could patch history); later runs write the query parameters, which the script turns into
    replacements."""
    others = {k: v for k, v in _query().items() if k not in LINK_PARAMS}
    wanted = {**others, **link_params(state)}
    if state.url_written and _query() != wanted:
        st.query_params.from_dict(wanted)
    query = urlencode(wanted)
    script = _HISTORY_SCRIPT.replace("__QUERY__", json.dumps(f"?{query}" if query else ""))
    slot.html(script, unsafe_allow_javascript=True)
    state.url_written = True
