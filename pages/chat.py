"""The chat page: a streamed conversation with one deployment, its parameters, code, export and import.

The conversation is saved under a random id kept in the URL (`?c=`), so a reload or a shared link restores it.
"""

from __future__ import annotations

import streamlit as st

from app import chat_state, state
from app.chat_params import JsonFieldError, build_params
from app.components import (
    chat_pane,
    code_view,
    conversation_list,
    conversation_share,
    param_panel,
    prompt_save_chat,
    system_prompt,
    tool_settings,
    transcript_io,
)
from app.components.param_panel import on_key, value_key
from services.transcript import api_messages

SETTINGS_HEIGHT_PX = 720


def _clear() -> None:
    chat_state.set_entries([])
    chat_state.set_editing(None)
    chat_state.set_notice(None)
    # A new conversation gets a new id at its first save: the old link keeps opening the old conversation.
    chat_state.set_conversation_id(None)
    chat_state.set_saved_json(None)
    st.query_params.pop(transcript_io.QUERY_CONVERSATION, None)


def render() -> None:
    """Lay out the chat: conversation on the left, settings on the right, the message box at the bottom."""
    if conversation_share.view_requested():
        # A read-only share link: no message box, no editing, nothing saved.
        conversation_share.render_shared_view()
        return
    deployment = state.selected_deployment()
    if deployment is None:
        st.title("Chat")
        st.info("No deployment is configured yet: add one in the sidebar.")
        return
    chat_pane.render_chat_input()
    chat_state.wait_for_generation()
    pending = chat_state.take_generation_request()
    unsupported = state.unsupported_params(deployment.name)
    left, right = st.columns([0.64, 0.36], gap="large")
    # The settings scroll on their own, so a long parameter panel never pushes the conversation out of view.
    with right.container(height=SETTINGS_HEIGHT_PX, border=False):
        with st.expander("System prompt", expanded=True):
            prompt = system_prompt.render_system_prompt()
        with st.expander("Parameters", expanded=bool(unsupported)):
            values = param_panel.render_param_panel(unsupported)
        try:
            params = build_params(values, set(unsupported))
        except JsonFieldError as err:
            params = None
            st.error(f"{err} Fix it before sending.")
        with st.expander("Demo tools and canned results"):
            tool_settings.render_demo_tools(
                key=chat_pane.TOOLS_KEY, tools_on_key=on_key("tools"), tools_text_key=value_key("tools")
            )
            tool_settings.render_canned_results(key=chat_pane.TOOLS_KEY)
        with st.expander("View code"):
            if params is not None:
                code_view.render_code_view(deployment, api_messages(prompt, chat_state.turns()), params)
        with st.expander("Export / import"):
            transcript_io.render_transcript_io(deployment.name, params or {})
        with st.expander("Save as prompt"):
            prompt_save_chat.render_save_as_prompt(deployment, values)
        st.button("Clear conversation", key="chat_clear", on_click=_clear, icon=":material/delete:", disabled=pending)
        if not pending:
            # Every finished, stopped or failed turn, clear, edit and import ends in a run like this one; saving
            # before the conversation is drawn keeps the end of the run (when stale buttons go) right after it.
            transcript_io.save_conversation(deployment.name, params or {})
        # After the save, so the conversation on the page is already among them; read only while open.
        saved = st.expander(conversation_list.list_title(), key="chat_saved_open", on_change="rerun")
        if saved.open:
            with saved:
                conversation_list.render_conversation_list(disabled=pending)
    with left:
        st.subheader(f"Chat with {deployment.name}", anchor=False)
        if chat_state.notice():
            st.info(chat_state.notice())
        chat_pane.render_conversation(deployment, busy=pending)
        if pending:
            chat_pane.generate_answer(deployment, prompt, values)
            st.rerun()
