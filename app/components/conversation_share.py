"""The read-only view a share link (`/chat?view=<share id>`) opens, and its "Continue as my own copy".

The view has no message box, no edit and never saves, so the conversation behind the link cannot be changed
through it; its own id never reaches the page or the URL. A copy starts a new conversation with a new id.
"""

from __future__ import annotations

import json
import logging

import streamlit as st

from app import chat_state
from app.components import transcript_io
from app.components.safe_markdown import render_attached_images, render_untrusted
from app.components.tool_view import render_tool_result
from services.safe_markdown import code_span, escape_markdown
from services.store.conversations import ConversationStore, ConversationStoreError
from services.tool_turns import call_names
from services.transcript import FAILED_MARK, ChatTurn, Transcript, TranscriptError, from_json

log = logging.getLogger(__name__)

QUERY_VIEW = transcript_io.QUERY_VIEW
FORK_KEY = "chat_share_fork"


def view_requested() -> bool:
    """True when the page was opened from a read-only share link (`?view=`)."""
    return QUERY_VIEW in st.query_params


def _fork(transcript_json: str) -> None:
    transcript = from_json(transcript_json)
    transcript_io.apply_transcript(transcript)
    # A new id at the first save: the shared conversation is never written over.
    chat_state.set_conversation_id(None)
    chat_state.set_saved_json(None)
    chat_state.set_editing(None)
    chat_state.set_notice(
        f"This is your own copy of the shared conversation ({len(transcript.messages)} messages); "
        "the shared one stays as it was."
    )
    del st.query_params[QUERY_VIEW]


def _render_turn(turn: ChatTurn, tool_names: dict[str, str]) -> None:
    if turn.role == "tool":
        render_tool_result(turn.content, turn.tool_call_id, tool_names.get(turn.tool_call_id or ""), failed=turn.failed)
        return
    with st.chat_message("assistant" if turn.role == "assistant" else "user"):
        if turn.content:
            render_untrusted(turn.content)
        render_attached_images(turn.images)
        for call in turn.tool_calls:
            function = call.get("function", {}) if isinstance(call.get("function"), dict) else {}
            st.caption(f"Tool call {code_span(str(function.get('name', '?')))}")
            st.code(str(function.get("arguments", "")), language="json")
        if turn.failed:
            st.caption(f":orange[{FAILED_MARK}]")
        if turn.stopped:
            st.caption(":orange[■ stopped: the answer is partial]")


def _load(share_id: str) -> tuple[Transcript, str] | None:
    text = ConversationStore().load_shared(share_id)
    return None if text is None else (from_json(text), text)


def render_shared_view() -> None:
    """The conversation a share link names, read-only, with a button that copies it into a new conversation."""
    st.subheader("Shared conversation (read-only)", anchor=False)
    try:
        found = _load(st.query_params.get(QUERY_VIEW, ""))
    except (ConversationStoreError, TranscriptError) as err:
        # Neither the share id nor the conversation's id is logged: both open the conversation.
        log.warning("a shared conversation cannot be read: %s", err)
        st.error(f"This shared conversation cannot be read: {escape_markdown(str(err))}")
        return
    if found is None:
        st.warning(
            "This read-only link opens nothing on this server: it is not a valid link, or the conversation was "
            "removed (saved conversations are kept for a limited time)."
        )
        return
    transcript, text = found
    st.caption("You are reading a shared conversation: it cannot be changed from here.")
    if transcript.deployment:
        st.caption(f"Held with {code_span(transcript.deployment)}")
    if transcript.system_prompt.strip():
        with st.expander("System prompt"):
            st.code(transcript.system_prompt, language=None, wrap_lines=True)
    if transcript.parameters:
        with st.expander("Parameters"):
            st.code(json.dumps(transcript.parameters, indent=2), language="json")
    names = call_names({"role": turn.role, "tool_calls": turn.tool_calls} for turn in transcript.messages)
    for turn in transcript.messages:
        _render_turn(turn, names)
    if not transcript.messages:
        st.info("The shared conversation has no messages.")
    st.button(
        "Continue as my own copy",
        key=FORK_KEY,
        on_click=_fork,
        args=(text,),
        type="primary",
        icon=":material/fork_right:",
        help="Copy this conversation into a new one of your own; the shared one stays as it is.",
    )
