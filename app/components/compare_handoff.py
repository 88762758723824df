""" "Continue with this one": hand a pane's conversation, system prompt, parameters and deployment to the chat page.

The chat page keeps its conversation in `app.chat_state` (entries), its system prompt under
`app.chat_state.SYSTEM_PROMPT_KEY`, its parameters in the panel's widget keys (`param_panel.load_values`) and the
deployment in the sidebar picker (`app.state.selected_name_key()`); this module writes exactly those.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from app.chat_params import values_from_params
from app.chat_state import ChatEntry, set_entries, set_notice
from app.components.param_panel import load_values
from app.components.system_prompt import set_system_prompt
from app.state import selected_name_key
from services.compare import PaneReply, Turn
from services.transcript import ChatTurn, TurnMetrics

_GOTO_CHAT = "compare.goto_chat"
CHAT_URL_PATH = "chat"


def _assistant_entry(reply: PaneReply) -> ChatEntry:
    metrics = reply.metrics
    usage = metrics.usage if metrics is not None else None
    turn = ChatTurn(
        role="assistant",
        content=reply.text,
        tool_calls=[call.model_dump() for call in reply.tool_calls],
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
        if reply.text or reply.tool_calls or reply.error is not None:
            entries.append(_assistant_entry(reply))
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
