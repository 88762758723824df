""" "Continue with this one": hand a pane's conversation, system prompt, parameters and deployment to the chat page;
and the Traces page's "Open in chat" / "Open in compare", which hand a recorded conversation to either page.

The chat page keeps its conversation in `app.chat_state` (entries), its system prompt under
`app.chat_state.SYSTEM_PROMPT_KEY`, its parameters in the panel's widget keys (`param_panel.load_values`) and the
deployment in the sidebar picker (`app.state.selected_name_key()`); this module writes exactly those. The compare
page keeps its panes and turns in `app.components.compare_state` and its settings in the widget keys of
`app.components.compare_params` (shared, or a pane's own).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

from app import chat_state
from app.chat_params import values_from_params
from app.chat_state import ChatEntry, set_entries, set_notice
from app.components.compare_params import FIELDS, NUMBERS, on_name
from app.components.compare_state import compare_state
from app.components.param_panel import load_values
from app.components.system_prompt import set_system_prompt
from app.state import all_deployments, selected_name_key
from services.compare_model import PaneReply, Turn, api_tool_calls
from services.transcript import ChatTurn, TurnMetrics

_GOTO_CHAT = "compare.goto_chat"
_GOTO_COMPARE = "compare.goto_compare"
CHAT_URL_PATH = "chat"
COMPARE_URL_PATH = "compare"


def _assistant_entry(reply: PaneReply) -> ChatEntry:
    metrics = reply.metrics
    usage = metrics.usage if metrics is not None else None
    turn = ChatTurn(
        role="assistant",
        content=reply.text,
        tool_calls=api_tool_calls(reply),
        stopped=reply.status == "stopped",
        finish_reason=metrics.finish_reason if metrics is not None else None,
        deployment=reply.deployment,
        metrics=None
        if metrics is None
        else TurnMetrics(
            ttft_s=metrics.ttft_s,
            total_s=metrics.total_s,
            tokens_per_s=metrics.tokens_per_s,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            finish_reason=metrics.finish_reason,
        ),
    )
    return ChatEntry(turn=turn, metrics=metrics, error=reply.error)


def chat_entries_for_pane(turns: Sequence[Turn], pane_id: str) -> list[ChatEntry]:
    """The chat page's entries for one pane's conversation (its prompts and only its own answers)."""
    entries: list[ChatEntry] = []
    for turn in turns:
        reply = turn.replies.get(pane_id)
        if reply is None:
            continue
        # A prompt this pane failed stays marked on the chat page too, so it is not sent again from there.
        failure = " ".join(str(reply.error).split()) if reply.failed else None
        entries.append(ChatEntry(turn=ChatTurn(role="user", content=turn.prompt, failed=reply.failed, failure=failure)))
        for step, answer in enumerate(turn.chain(pane_id)):
            if answer.text or answer.tool_calls or (answer.error is not None and step == 0):
                entries.append(_assistant_entry(answer))
            entries += [
                ChatEntry(turn=ChatTurn(role="tool", content=result.content, tool_call_id=result.call_id))
                for result in answer.tool_results
            ]
    return entries


def prepare_handoff(turns: Sequence[Turn], pane_id: str, deployment: str, system: str, params: dict[str, Any]) -> None:
    """Write the pane's conversation and settings into the chat page's state (a button callback: runs before any
    widget is drawn, so the sidebar picker and the chat panel may still be set)."""
    set_entries(chat_entries_for_pane(turns, pane_id))
    set_system_prompt(system)
    load_values(values_from_params(params))
    st.session_state[selected_name_key()] = deployment
    set_notice(f"Continued from the compare page with {deployment}.")
    st.session_state[_GOTO_CHAT] = True


def switch_to_chat_if_requested() -> None:
    """After prepare_handoff(), open the chat page (st.switch_page cannot run inside a callback)."""
    if st.session_state.pop(_GOTO_CHAT, False):
        # Pages are matched by url_path; navigation runs the registered chat page, not this placeholder callable.
        st.switch_page(st.Page(lambda: None, title="Chat", url_path=CHAT_URL_PATH))


def open_in_chat(entries: list[ChatEntry], deployment: str, system: str, params: dict[str, Any], notice: str) -> None:
    """Put a conversation into the chat page as a new one (its own saved id at the first save, so the conversation
    the chat page held before keeps its link), with the deployment picked when it is configured (a callback)."""
    set_entries(entries)
    chat_state.set_editing(None)
    chat_state.set_conversation_id(None)
    chat_state.set_saved_json(None)
    set_system_prompt(system)
    load_values(values_from_params(params))
    if deployment in all_deployments():
        st.session_state[selected_name_key()] = deployment
    set_notice(notice)
    st.session_state[_GOTO_CHAT] = True


def compare_settings(system: str, params: dict[str, Any]) -> dict[str, Any]:
    """The compare page's settings widgets (by field name) that send these parameters with this system prompt."""
    values = values_from_params(params)
    numbers: dict[str, Any] = {}
    for name in NUMBERS:
        value = getattr(values, name)
        # A parameter the run did not send stays switched off, its field showing the default.
        numbers[on_name(name)] = value is not None
        numbers[name] = FIELDS[name] if value is None else value
    return {
        "system": system,
        **numbers,
        "stop": "\n".join(values.stop or []),
        "format": values.response_format or "default",
        "json_schema": values.json_schema,
        "tools": values.tools,
        "tool_choice": values.tool_choice or "auto",
        "model_extras": values.model_extras,
        "extra_parameters": values.extra_parameters or "pass-through",
    }


def open_in_compare(
    panes: Sequence[tuple[str, str, dict[str, Any]]],
    build_turns: Callable[[list[str]], list[Turn]],
    notice: str,
) -> None:
    """Replace the compare page's comparison (a callback): one pane per (deployment, system prompt, params), the
    first pane's settings as the shared ones and a pane asked differently with its own; `build_turns` gets the new
    panes' ids. The session's vote tally is kept, as with "New conversation"."""
    # compare_pane imports this module: its names are read when the handoff runs.
    from app.components.compare_pane import SHARED, pane_prefix

    state = compare_state()
    state.clear_conversation()  # stops a running turn and keeps the votes
    state.panes = []
    state.set_blind(False)
    state.url_read = True  # the panes come from here, not from an older `?panes=`
    shared = (panes[0][1], panes[0][2]) if panes else ("", {})
    for name, value in compare_settings(*shared).items():
        st.session_state[f"{SHARED}.{name}"] = value
    for deployment, system, params in panes:
        pane = state.add_pane(deployment)
        if pane is None:
            break
        if (system, params) != shared:
            pane.sync = False
            for name, value in compare_settings(system, params).items():
                st.session_state[f"{pane_prefix(pane.uid)}.{name}"] = value
    state.turns = build_turns([pane.uid for pane in state.panes])
    state.notice = notice
    st.session_state[_GOTO_COMPARE] = True


def switch_to_compare_if_requested() -> None:
    """After open_in_compare(), open the compare page (st.switch_page cannot run inside a callback)."""
    if st.session_state.pop(_GOTO_COMPARE, False):
        st.switch_page(st.Page(lambda: None, title="Compare", url_path=COMPARE_URL_PATH))
