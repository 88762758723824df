"""A tool result in a conversation: its own avatar and label (never the assistant's), its tool and call id (in
presenter mode and in a blind comparison only the tool: a call id is an internal id, and its form hints at the
provider)."""

from __future__ import annotations

import json

import streamlit as st

from app.components import presenter
from services.safe_markdown import code_span
from services.tool_turns import NOT_RUN_RESULT
from services.transcript import FAILED_MARK

TOOL_AVATAR = ":material/build:"
TOOL_ROLE = "tool"


def _pretty(content: str) -> tuple[str, str]:
    """(text, language) to show a result: indented JSON when it parses, else the text as it is."""
    try:
        return json.dumps(json.loads(content), indent=2, ensure_ascii=False), "json"
    except (json.JSONDecodeError, ValueError):
        return content, "text"


def render_tool_result(
    content: str, call_id: str | None, tool_name: str | None, *, failed: bool = False, hide_id: bool = False
) -> None:
    """Draw one `role: "tool"` message: "Tool result", the tool's name and call id (not on stage, nor with `hide_id`:
    a blind comparison's ids hint at the provider), then the content as code."""
    with st.chat_message(TOOL_ROLE, avatar=TOOL_AVATAR):
        name = code_span(tool_name) if tool_name else "an unknown tool"
        call = "" if presenter.is_on() or hide_id else f" · call {code_span(call_id or '?')}"
        st.caption(f"Tool result · {name}{call}")
        # A result is data (typed, canned or computed), shown inert as code.
        text, language = _pretty(content)
        st.code(text, language=language, wrap_lines=True)
        if content == NOT_RUN_RESULT:
            st.caption(":orange[not run: a message was sent instead of this tool's result]")
        if failed:
            st.caption(f":orange[{FAILED_MARK}]")
