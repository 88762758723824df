"""Demo tools added to the request's `tools` with one click, and canned results per tool name.

Both take the keys of the page's own widgets, so the compare page can draw them for its shared settings too.
"""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from services.demo_tools import DEMO_TOOLS, tool_names, with_demo_tool
from services.safe_markdown import code_span, escape_markdown
from services.tool_turns import CannedResultsError, parse_canned_results

CANNED_EXAMPLE = '{"get_weather": {"city": "Oslo", "temperature_c": 21, "sky": "clear"}}'


def _current_tools(text: str) -> list[dict[str, Any]] | None:
    """The tools the editor holds (a single object counts as one), or None when its JSON does not parse."""
    try:
        value = json.loads(text) if text.strip() else []
    except json.JSONDecodeError:
        return None
    value = [value] if isinstance(value, dict) else value
    return value if isinstance(value, list) and all(isinstance(item, dict) for item in value) else None


def _add(name: str, on_key: str, text_key: str, error_key: str) -> None:
    # A switched-off editor's text is not sent: adding starts a fresh list rather than reviving it.
    text = st.session_state.get(text_key, "") if st.session_state.get(on_key) else ""
    tools = _current_tools(text)
    if tools is None:
        st.session_state[error_key] = "The Tools JSON in Parameters does not parse: fix it, then add the tool again."
        return
    st.session_state[error_key] = None
    st.session_state[text_key] = json.dumps(with_demo_tool(tools, name), indent=2)
    st.session_state[on_key] = True


def render_demo_tools(*, key: str, tools_on_key: str, tools_text_key: str) -> None:
    """The built-in tools, each with its schema and an "Add to tools" button that puts it into the request's
    tools editor (`tools_text_key`, switched on with `tools_on_key`); a call to it can then be run here."""
    error_key = f"{key}_add_error"
    present = set()
    if st.session_state.get(tools_on_key):
        present = set(tool_names(_current_tools(st.session_state.get(tools_text_key, "")) or []))
    st.caption("Built-in tools run on this server when the model calls them; their result goes back to the model.")
    for tool in DEMO_TOOLS.values():
        row = st.container(horizontal=True, gap="small", vertical_alignment="center")
        row.markdown(f"**{tool.label}** `{tool.name}`: {escape_markdown(tool.description)}")
        with row.popover("Schema", icon=":material/data_object:"):
            st.code(json.dumps(tool.definition(), indent=2), language="json")
        added = tool.name in present
        row.button(
            "In tools" if added else "Add to tools",
            key=f"{key}_add_{tool.name}",
            on_click=_add,
            args=(tool.name, tools_on_key, tools_text_key, error_key),
            disabled=added,
            icon=":material/check:" if added else ":material/add:",
        )
    if st.session_state.get(error_key):
        st.error(st.session_state[error_key])


def canned_key(key: str) -> str:
    """The session_state key of the canned results editor drawn with `key`."""
    return f"{key}_canned"


def canned_results(key: str) -> dict[str, str]:
    """The canned results (tool name -> result text) of the editor drawn with `key`; {} while its JSON is invalid."""
    try:
        return parse_canned_results(st.session_state.get(canned_key(key), ""))
    except CannedResultsError:
        return {}


def render_canned_results(*, key: str) -> dict[str, str]:
    """The editor of canned results (a JSON object: tool name -> result) and the mapping it holds."""
    st.text_area(
        "Canned results (JSON object: tool name → result)",
        key=canned_key(key),
        placeholder=CANNED_EXAMPLE,
        height=110,
        help="A call to a tool named here is offered this result, for every call of the conversation.",
    )
    try:
        canned = parse_canned_results(st.session_state.get(canned_key(key), ""))
    except CannedResultsError as err:
        st.error(f"Canned results are not used: {escape_markdown(str(err))}")
        return {}
    if canned:
        st.caption("Offered for: " + ", ".join(code_span(name) for name in canned))
    return canned
