"""Export the conversation as JSON or Markdown, and import a JSON export to continue it."""

from __future__ import annotations

import logging
from typing import Any

import streamlit as st

from app import chat_state, state
from app.auth import current_viewer
from app.chat_params import values_from_params
from app.components import param_panel, system_prompt
from services.safe_markdown import code_span, escape_markdown
from services.store.conversations import (
    ConversationOwnedError,
    ConversationStore,
    ConversationStoreError,
    is_valid_id,
    new_conversation_id,
)
from services.transcript import (
    Transcript,
    TranscriptError,
    from_json,
    to_json,
    to_markdown,
    with_missing_tool_turns,
)

log = logging.getLogger(__name__)

_IMPORT_KEY = "chat_import_file"
_IMPORT_ERROR = "chat_import_error"
_SAVE_ERROR = "chat_save_error"
_SHARE_LINK = "chat_share_link"
_SHARE_ERROR = "chat_share_error"
# The chat page's query parameters: the saved conversation, and a read-only share of one (the compare page uses
# `panes`). Whatever they hold is shown only as plain text or a code span, never as markdown.
QUERY_CONVERSATION = "c"
QUERY_VIEW = "view"


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
        # The message may quote the file (a version value): it is shown as text, never as markdown.
        st.session_state[_IMPORT_ERROR] = f"{escape_markdown(upload.name)}: {escape_markdown(str(err))}"
        return
    apply_transcript(transcript)
    chat_state.set_notice(f"Imported {len(transcript.messages)} messages from {escape_markdown(upload.name)}.")


def apply_transcript(transcript: Transcript) -> None:
    """Load a transcript into the page: messages with their metrics, system prompt, parameters, deployment.

    Call it before the sidebar's picker and the chat widgets are drawn (from a callback, or from app/main.py).
    """
    # Calls a message was typed over (saved before tool results existed) get visible "not run" results.
    turns = with_missing_tool_turns(transcript.messages)
    chat_state.set_entries([chat_state.entry_from_turn(turn) for turn in turns])
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
    if QUERY_VIEW in st.query_params:
        return  # a read-only share link: the chat page shows that instead (app.components.conversation_share)
    if not chat_state.take_restore_check() or chat_state.entries():
        return
    wanted = st.query_params.get(QUERY_CONVERSATION)
    if not wanted:
        return
    open_saved(wanted)


def open_saved(wanted: str) -> bool:
    """Load the saved conversation `wanted` (if the viewer may read it) in place of the page's: messages, system
    prompt, parameters and deployment; leave a notice saying what happened. True when it was loaded.

    Call it before the sidebar's picker and the chat widgets are drawn (from a callback, or from app/main.py)."""
    if not is_valid_id(wanted):
        # Anything could be in the URL: a bad id is not repeated on the page.
        chat_state.set_notice(
            "The link does not name a saved conversation (its `c` is not a valid id): starting a new one."
        )
        return False
    try:
        text = ConversationStore().load(wanted, viewer=current_viewer())
        transcript = from_json(text) if text is not None else None
    except (ConversationStoreError, TranscriptError) as err:
        # The id opens the conversation, so it stays out of the log.
        log.warning("a saved conversation cannot be restored: %s", err)
        chat_state.set_notice(
            f"The saved conversation {code_span(wanted)} cannot be restored ({escape_markdown(str(err))}); "
            "starting a new one."
        )
        return False
    if transcript is None:
        # Someone else's conversation reads as unknown: a link does not tell whether the id exists.
        signed_in = current_viewer().owner is not None
        chat_state.set_notice(
            f"No saved conversation {code_span(wanted)}{' of yours' if signed_in else ''} on this server: starting a "
            "new one."
            + (" Another account's conversation opens only through its read-only share link." if signed_in else "")
        )
        return False
    apply_transcript(transcript)
    chat_state.set_editing(None)
    chat_state.set_conversation_id(wanted)
    chat_state.set_saved_json(to_json(transcript))
    notice = f"Restored {len(transcript.messages)} messages of saved conversation {code_span(wanted)}."
    saved_with = transcript.deployment
    current = state.selected_deployment()
    if saved_with and saved_with not in state.all_deployments() and current is not None:
        # The saved name comes from the stored (possibly imported) transcript: shown as code, never as markdown.
        held_with = code_span(saved_with)
        notice += f" It was held with {held_with}, which is not configured here: it continues with {current.name}."
    chat_state.set_notice(notice)
    return True


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
            conversation_id = _save(conversation_id, text)
        except (ConversationStoreError, ValueError) as err:
            log.warning("a conversation was not saved: %s", err)
            st.session_state[_SAVE_ERROR] = (
                f"This conversation could not be saved (it stays on the page): {escape_markdown(str(err))}"
            )
        else:
            chat_state.set_saved_json(text)
            st.session_state[_SAVE_ERROR] = None
    if st.query_params.get(QUERY_CONVERSATION) != conversation_id:
        st.query_params[QUERY_CONVERSATION] = conversation_id
    if st.session_state.get(_SAVE_ERROR):
        st.warning(st.session_state[_SAVE_ERROR])


def _save(conversation_id: str, text: str) -> str:
    """Save under the signed-in owner; an id another account holds is never written: a new id is made instead."""
    owner = current_viewer().owner
    try:
        ConversationStore().save(conversation_id, text, owner=owner)
    except ConversationOwnedError:
        conversation_id = new_conversation_id()
        ConversationStore().save(conversation_id, text, owner=owner)
    chat_state.set_conversation_id(conversation_id)
    return conversation_id


def share_path(share_id: str) -> str:
    """The chat page's read-only link for a share id, from the server's root (`/chat?view=<share id>`)."""
    return f"/chat?{QUERY_VIEW}={share_id}"


def _make_share_link() -> None:
    st.session_state[_SHARE_LINK] = None
    st.session_state[_SHARE_ERROR] = None
    conversation_id = chat_state.conversation_id()
    try:
        store = ConversationStore()
        share_id = store.share_id(conversation_id, viewer=current_viewer()) if conversation_id is not None else None
    except ConversationStoreError as err:
        log.warning("no share link was made: %s", err)
        st.session_state[_SHARE_ERROR] = f"No share link was made: {escape_markdown(str(err))}"
        return
    if share_id is None:
        st.session_state[_SHARE_ERROR] = "Nothing to share yet: a conversation is saved once it has a message."
        return
    # Kept with the conversation it shares, so a cleared or replaced conversation does not show the old link.
    st.session_state[_SHARE_LINK] = (conversation_id, share_id)


def _share_url(share_id: str) -> str:
    page_url = str(getattr(st.context, "url", "") or "")
    # The page's own address up to its path: the link works wherever this server is reached from.
    base = page_url.split("?", 1)[0].rsplit("/", 1)[0] if page_url.startswith(("http://", "https://")) else ""
    return base + share_path(share_id)


def render_share_action() -> None:
    """ "Share read-only link": a separate id that opens this conversation without letting anyone change it."""
    st.button(
        "Share read-only link",
        key="chat_share",
        on_click=_make_share_link,
        icon=":material/share:",
        help="A link that shows this conversation read-only; it does not reveal the link you continue it with.",
    )
    made = st.session_state.get(_SHARE_LINK)
    if made is not None and made[0] == chat_state.conversation_id():
        st.code(_share_url(made[1]), language=None)
        st.caption("Anyone with this link can read the conversation as it is saved (later turns too), not change it.")
    if st.session_state.get(_SHARE_ERROR):
        st.warning(st.session_state[_SHARE_ERROR])


def render_transcript_io(deployment_name: str | None, params: dict[str, Any]) -> None:
    """Download buttons for JSON and Markdown, an uploader that loads a JSON export, and the share action."""
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
    render_share_action()
