"""Export the conversation as JSON or Markdown, and import a JSON export to continue it."""

from __future__ import annotations

from typing import Any

import streamlit as st

from app import chat_state, state
from app.chat_params import values_from_params
from app.components import param_panel, system_prompt
from services.transcript import Transcript, TranscriptError, from_json, to_json, to_markdown

_IMPORT_KEY = "chat_import_file"
_IMPORT_ERROR = "chat_import_error"


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
    chat_state.set_entries([chat_state.entry_from_turn(turn) for turn in transcript.messages])
    system_prompt.set_system_prompt(transcript.system_prompt)
    param_panel.load_values(values_from_params(transcript.parameters))
    if transcript.deployment in state.all_deployments():
        st.session_state[state.selected_name_key()] = transcript.deployment
    chat_state.set_notice(f"Imported {len(transcript.messages)} messages from {upload.name}.")


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
