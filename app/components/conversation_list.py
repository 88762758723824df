"""The chat page's saved conversations: the viewer's own (all of them with sign-in off, or for an admin), newest
first; a click opens one in place of the conversation on the page, which stays saved under its own link."""

from __future__ import annotations

import logging

import streamlit as st

from app import chat_state
from app.auth import current_viewer
from app.components import transcript_io
from services.safe_markdown import escape_markdown
from services.store.conversations import ConversationStore, ConversationStoreError, ConversationSummary

log = logging.getLogger(__name__)

LIMIT = 30


def _open(conversation_id: str) -> None:
    if transcript_io.open_saved(conversation_id):
        st.query_params[transcript_io.QUERY_CONVERSATION] = conversation_id


def list_title() -> str:
    """ "Your conversations" when signed in, "All conversations" for an admin, "Saved conversations" otherwise."""
    viewer = current_viewer()
    if viewer.owner is None:
        return "Saved conversations"
    return "All conversations" if viewer.is_admin else "Your conversations"


def _label(item: ConversationSummary) -> str:
    when = item.updated.astimezone().strftime("%d %b %H:%M")
    # The title is what a user typed: plain text in a button label, never markdown.
    return f"{escape_markdown(item.title or '(no message)')} · {when}"


def render_conversation_list(*, disabled: bool = False) -> None:
    """One button per saved conversation the viewer may read (the one on the page is marked and not clickable)."""
    try:
        items = ConversationStore().list_for(current_viewer(), limit=LIMIT)
    except ConversationStoreError as err:
        log.warning("saved conversations cannot be listed: %s", err)
        st.warning(f"Saved conversations cannot be listed: {escape_markdown(str(err))}")
        return
    if not items:
        st.caption("Nothing saved yet: a conversation is saved once it has a message.")
        return
    current = chat_state.conversation_id()
    for item in items:
        st.button(
            _label(item),
            key=f"chat_open_{item.id}",
            on_click=_open,
            args=(item.id,),
            disabled=disabled or item.id == current,
            icon=":material/chat_bubble:" if item.id == current else ":material/history:",
            type="tertiary",
        )
    if len(items) == LIMIT:
        st.caption(f"The {LIMIT} most recent are listed.")
