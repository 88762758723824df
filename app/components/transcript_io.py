"""Export the conversation as JSON or Markdown, and import a JSON export to continue it."""

from __future__ import annotations

import logging
from typing import Any

import streamlit as st

from app import chat_state, state
from app.chat_params import values_from_params
from app.components import param_panel, system_prompt
from services.conversation_store import ConversationStore, ConversationStoreError, new_conversation_id
from services.transcript import Transcript, TranscriptError, from_json, to_json, to_markdown

log = logging.getLogger(__name__)

_IMPORT_KEY = "chat_import_file"
_IMPORT_ERROR = "chat_import_error"
_SAVE_ERROR = "chat_save_error"
# The chat page's query parameter naming the saved conversation (the compare page uses `panes`).
QUERY_CONVERSATION = "c"


def current_transcript(deployment_name: str | None, params: dict[str, Any]) -> Transcript:
    """The conversation as an exportable transcript (no key: only the deployment's name)."""
    kept = [entry.turn for entry in chat_state.entries() if not entry.failed_empty]
    return Transcript(
        deployment=deployment_name,
        system_prompt=system_prompt.system_prompt(),
        parameters=params,
        messages=kept,
    )


def _import() -> None:
    upload = st.session_state.get(_IMPORT_KEY)
    st.session_state[_IMPORT_ERROR] = None
    if upload is None:
        return
    try:
        transcript = from_json(upload.getvalue())
    except TranscriptError as err:
        # The current conversation stays as it is when the file is refused.
        st.session_state[_IMPORT_ERROR] = f"{upload.name}: {err}"
        return
    apply_transcript(transcript)
    chat_state.set_notice(f"Imported {len(transcript.messages)} messages from {upload.name}.")


def apply_transcript(transcript: Transcript) -> None:
    """Load a transcript into the page: messages with their metrics, system prompt, parameters, deployment.

    Call it before the sidebar's picker and the chat widgets are drawn (from a callback, or from app/main.py).
    """
    chat_state.set_entries([chat_state.entry_from_turn(turn) for turn in transcript.messages])
    system_prompt.set_system_prompt(transcript.system_prompt)
    param_panel.load_values(values_from_params(transcript.parameters))
    if transcript.deployment in state.all_deployments():
        st.session_state[state.selected_name_key()] = transcript.deployment


def restore_from_url() -> None:
    """On a session's first chat run, load the conversation named by `?c=` (if the session has none yet).

    Call it before the sidebar is drawn (app/main.py does, on the chat page), so the saved deployment is picked
    again along with the messages, system prompt and parameters. An unknown id leaves a notice and an empty
    conversation; a new id is made at the first save.
    """
    if not chat_state.take_restore_check() or chat_state.entries():
        return
    wanted = st.query_params.get(QUERY_CONVERSATION)
    if not wanted:
        return
    try:
        text = ConversationStore().load(wanted)
        transcript = from_json(text) if text is not None else None
    except (ConversationStoreError, TranscriptError) as err:
        log.warning("saved conversation %s cannot be restored: %s", wanted, err)
        chat_state.set_notice(f"The saved conversation {wanted} cannot be restored ({err}); starting a new one.")
        return
    if transcript is None:
        chat_state.set_notice(f"No saved conversation {wanted} on this server: starting a new one.")
        return
    apply_transcript(transcript)
    chat_state.set_conversation_id(wanted)
    chat_state.set_saved_json(to_json(transcript))
    notice = f"Restored {len(transcript.messages)} messages of saved conversation {wanted}."
    saved_with = transcript.deployment
    current = state.selected_deployment()
    if saved_with and saved_with not in state.all_deployments() and current is not None:
        notice += f" It was held with {saved_with}, which is not configured here: it continues with {current.name}."
    chat_state.set_notice(notice)


def save_conversation(deployment_name: str | None, params: dict[str, Any]) -> None:
    """Save the conversation if it changed since the last save, and keep its id in the URL as `?c=`.

    Nothing is saved for a conversation that never had a message (Clear starts one under a new id, so the old link
    keeps the old conversation). A store that cannot be written shows a warning and the conversation stays on the page.
    """
    conversation_id = chat_state.conversation_id()
    transcript = current_transcript(deployment_name, params)
    if conversation_id is None and not transcript.messages:
        return
    text = to_json(transcript)
    if conversation_id is None:
        conversation_id = new_conversation_id()
        chat_state.set_conversation_id(conversation_id)
    if text != chat_state.saved_json():
        try:
            ConversationStore().save(conversation_id, text)
        except (ConversationStoreError, ValueError) as err:
            log.warning("conversation %s not saved: %s", conversation_id, err)
            st.session_state[_SAVE_ERROR] = f"This conversation could not be saved (it stays on the page): {err}"
        else:
            chat_state.set_saved_json(text)
            st.session_state[_SAVE_ERROR] = None
    if st.query_params.get(QUERY_CONVERSATION) != conversation_id:
        st.query_params[QUERY_CONVERSATION] = conversation_id
    if st.session_state.get(_SAVE_ERROR):
        st.warning(st.session_state[_SAVE_ERROR])


def render_transcript_io(deployment_name: str | None, params: dict[str, Any]) -> None:
    """Download buttons for JSON and Markdown, and an uploader that loads a JSON export."""
    transcript = current_transcript(deployment_name, params)
    row = st.container(horizontal=True, gap="small")
    row.download_button(
        "Export JSON", to_json(transcript), file_name="chat.json", mime="application/json", key="chat_export_json"
    )
    row.download_button(
        "Export Markdown", to_markdown(transcript), file_name="chat.md", mime="text/markdown", key="chat_export_md"
    )
    st.file_uploader("Import JSON", type=["json"], key=_IMPORT_KEY, on_change=_import)
    if st.session_state.get(_IMPORT_ERROR):
        st.error(st.session_state[_IMPORT_ERROR])
