"""The chat page: a streamed conversation with one deployment, its parameters, code, export and import.

The conversation is saved under a random id kept in the URL (`?c=`), so a reload or a shared link restores it.
In presenter mode the conversation takes the whole width, the settings fold into one "Settings" panel below it, and
what shows endpoints or ids (code, export, saved conversations) is left out.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from app import chat_state, state
from app.chat_params import JsonFieldError, ParamValues, build_params
from app.components import (
    chat_pane,
    code_view,
    conversation_list,
    conversation_share,
    demo_script,
    param_panel,
    presenter,
    prompt_save_chat,
    system_prompt,
    tool_settings,
    transcript_io,
)
from app.components.param_panel import on_key, value_key
from services.config import Deployment
from services.transcript import api_messages

SETTINGS_HEIGHT_PX = 720
DEMO_KEY = "chat"


def _clear() -> None:
    chat_state.set_entries([])
    chat_state.set_editing(None)
    chat_state.set_notice(None)
    # A new conversation gets a new id at its first save: the old link keeps opening the old conversation.
    chat_state.set_conversation_id(None)
    chat_state.set_saved_json(None)
    st.query_params.pop(transcript_io.QUERY_CONVERSATION, None)


def _render_settings(
    deployment: Deployment, unsupported: dict[str, str], pending: bool, on_stage: bool
) -> tuple[str, ParamValues, dict[str, Any] | None]:
    """The settings panels; returns the system prompt, the parameter values and the request parameters (None while
    an editor holds invalid JSON). On stage, only what shows no endpoint or id."""
    with st.expander("System prompt", expanded=not on_stage):
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
    with st.expander("Demo script", expanded=bool(demo_script.steps(DEMO_KEY)) and not on_stage):
        demo_script.render_demo_picker(DEMO_KEY)
    if not on_stage:
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
    if not on_stage:
        # After the save, so the conversation on the page is already among them; read only while open.
        saved = st.expander(conversation_list.list_title(), key="chat_saved_open", on_change="rerun")
        if saved.open:
            with saved:
                conversation_list.render_conversation_list(disabled=pending)
    return prompt, values, params


def render() -> None:
    """Lay out the chat: conversation on the left, settings on the right, the message box at the bottom (on stage:
    the conversation, the demo script's next prompt, then the settings folded below)."""
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
    on_stage = presenter.is_on()
    if on_stage:
        conversation_area = st.container()
        settings_area = st.expander("Settings", key="chat_stage_settings")
    else:
        conversation_area, right = st.columns([0.64, 0.36], gap="large")
        # The settings scroll on their own, so a long parameter panel never pushes the conversation out of view.
        settings_area = right.container(height=SETTINGS_HEIGHT_PX, border=False)
    with settings_area:
        prompt, values, _ = _render_settings(deployment, unsupported, pending, on_stage)
    with conversation_area:
        st.subheader(f"Chat with {deployment.name}", anchor=False)
        if chat_state.notice():
            st.info(chat_state.notice())
        chat_pane.render_conversation(deployment, busy=pending)
        if pending:
            chat_pane.generate_answer(deployment, prompt, values)
            st.rerun()
        # Not while an answer streams: the stream is drawn below the conversation, where this row stands.
        demo_script.render_demo_step(DEMO_KEY, on_send=chat_pane.send_prompt)
