"""Tool calls on the compare page: the comparison's built-in tools and canned results, each pane's results drawn as
tool results, the form that answers a pane's waiting calls, and the automatic answers when every call has one.

The chat page's pieces (tool_settings, tool_answers, tool_view) are drawn with compare's own keys."""

from __future__ import annotations

import functools

import streamlit as st

from app.components import tool_answers, tool_settings
from app.components.compare_params import SHARED
from app.components.compare_state import CompareState
from app.components.tool_view import render_tool_result
from services.compare_model import PaneReply, answer_calls, api_tool_calls, waiting_calls
from services.tool_turns import PendingCall, automatic_results

TOOLS_KEY = "compare_tools"  # the demo tools' buttons and the canned results editor (one for the comparison)
AUTO_KEY = "compare.auto_tools"
_TOOLS_ON_KEY = "compare_tools_on"  # compare's tools editor has no switch: text in it is sent
# Automatic answers in a row for one pane and turn before the form is shown (a model may call tools forever).
MAX_AUTO_ROUNDS = 5


def answer_key(pane_uid: str) -> str:
    """The key of the form answering a pane's waiting calls."""
    return f"compare_tool_{pane_uid}"


def render_tool_settings(state: CompareState) -> None:
    """The expander with "answer tool calls automatically", the built-in tools and the canned results."""
    with st.expander("Tool calls: built-in tools and canned results", expanded=False):
        st.session_state[AUTO_KEY] = state.auto_tools
        st.toggle(
            "Answer tool calls automatically",
            key=AUTO_KEY,
            help="When canned results or built-in tools cover every call of a pane's answer, the pane goes on "
            "without a click; otherwise the pane shows the form to give the results.",
            on_change=lambda: setattr(state, "auto_tools", bool(st.session_state[AUTO_KEY])),
        )
        st.session_state[_TOOLS_ON_KEY] = True
        tool_settings.render_demo_tools(key=TOOLS_KEY, tools_on_key=_TOOLS_ON_KEY, tools_text_key=f"{SHARED}.tools")
        tool_settings.render_canned_results(key=TOOLS_KEY)


def render_tool_results(reply: PaneReply, *, hide_ids: bool = False) -> None:
    """The results given to a reply's tool calls, each drawn as a tool result (never as the assistant); with
    `hide_ids` (blind) no call id is shown: `toolu_…` or `call_…` hints at the provider."""
    names = {call["id"]: call["function"]["name"] for call in api_tool_calls(reply)}
    for result in reply.tool_results:
        render_tool_result(result.content, result.call_id, names.get(result.call_id), hide_id=hide_ids)


def _on_send(state: CompareState, pane_uid: str, results: list[tuple[PendingCall, str]]) -> None:
    if answer_calls(state.turns, pane_uid, {call.id: text for call, text in results}):
        state.continue_panes.add(pane_uid)  # the page sends them, where each pane's settings are known


def render_waiting(state: CompareState, pane_uid: str) -> None:
    """Under a pane's last answer whose tool calls wait: the form that gives their results and continues."""
    if state.running:
        return
    pending = waiting_calls(state.turns, pane_uid)
    if pending:
        canned = tool_settings.canned_results(TOOLS_KEY)
        on_send = functools.partial(_on_send, state, pane_uid)
        tool_answers.render_pending_calls(
            pending, canned, key=answer_key(pane_uid), on_send=on_send, hide_ids=state.hidden
        )


def answer_automatically(state: CompareState) -> None:
    """With "answer tool calls automatically" on: every pane whose waiting calls all have a canned or built-in
    result gets them and is marked to continue (at most MAX_AUTO_ROUNDS answers in a row per turn).

    An answer the user stopped is left to them: a call stopped before any argument text arrived looks like a call
    without arguments, so nothing can tell it is whole."""
    if not state.auto_tools or state.running or not state.turns:
        return
    canned = tool_settings.canned_results(TOOLS_KEY)
    for pane in state.panes:
        pending = waiting_calls(state.turns, pane.uid)
        if not pending or len(state.turns[-1].rounds.get(pane.uid, [])) >= MAX_AUTO_ROUNDS:
            continue
        if state.turns[-1].chain(pane.uid)[-1].status == "stopped":
            continue
        found = automatic_results(pending, canned)
        if len(found) == len(pending):
            answer_calls(state.turns, pane.uid, {call_id: result.content for call_id, result in found.items()})
            state.continue_panes.add(pane.uid)
