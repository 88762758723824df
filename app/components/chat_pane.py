"""The conversation: past turns with their metrics and error cards, editing, and the streaming answer with Stop."""

from __future__ import annotations

import functools
import json
import time
from typing import Any

import streamlit as st

from app import chat_state, run_slots, state
from app.chat_params import JsonFieldError, ParamValues, build_params
from app.chat_state import ChatEntry
from app.components import param_panel, presenter, tool_answers, tool_settings
from app.components.error_card import render_error, render_filtered_answer
from app.components.metrics_strip import render_metrics
from app.components.safe_markdown import render_attached_images, render_untrusted
from app.components.tool_view import render_tool_result
from app.stream_pump import StreamPump
from services import tracing
from services.config import Deployment
from services.images import prepare_images
from services.safe_markdown import code_span, escape_markdown
from services.tool_turns import (
    NOT_RUN_RESULT,
    PendingCall,
    ToolSequenceError,
    call_names,
    mend_cut_calls,
    pending_calls,
    sequence_problems,
    with_call_ids,
)
from services.transcript import FAILED_MARK, ChatTurn, api_messages, missing_tool_turns

STOP_KEY = "chat_stop"
# The key of the tool settings (demo tools, canned results) and of the form that answers pending calls.
TOOLS_KEY = "chat_tools"
TOOL_ANSWERS_KEY = "chat_tool"
# How often the page looks for new text; a redraw also happens at least every KEEPALIVE_INTERVAL_S.
POLL_INTERVAL_S = 0.03
KEEPALIVE_INTERVAL_S = 0.25


def follow_stream(pump: StreamPump, placeholder: Any) -> None:
    """Draw the pump's text into `placeholder` until it is done (the chat page's and the Prompts page's answers)."""
    shown, last_draw = "", time.monotonic()
    while True:
        with run_slots.released():  # other sessions' pages run while this one waits for tokens
            finished = pump.wait(POLL_INTERVAL_S)
        if finished:
            return
        text, now = pump.text, time.monotonic()
        # Each redraw is where Streamlit notices Stop, so one happens even while no token arrives.
        if text != shown or now - last_draw >= KEEPALIVE_INTERVAL_S:
            if text:
                render_untrusted(text, placeholder, cursor="▌")
            else:
                placeholder.markdown(":gray[…] ▌")
            shown, last_draw = text, now


def _retry() -> None:
    chat_state.drop_trailing_answer()
    chat_state.request_generation()


def _retry_without(deployment_name: str, invalid_value: bool, param: str) -> None:
    if param == "messages":
        # Refused message content (images for a text-only model): drop the attachments, keep the words.
        chat_state.strip_images()
    elif invalid_value:
        # The deployment knows the parameter, only this value was refused: switch the control off, remember nothing.
        param_panel.switch_off(param)
    else:
        state.mark_unsupported(deployment_name, param, "rejected with 422 (parameter not supported)")
    _retry()


def _start_edit(index: int) -> None:
    chat_state.set_editing(index)
    st.session_state[f"chat_edit_text_{index}"] = chat_state.entries()[index].turn.content


def _resend(index: int) -> None:
    current = chat_state.entries()
    text = st.session_state.get(f"chat_edit_text_{index}", current[index].turn.content)
    # A fixed prompt is sent afresh: it loses the failed mark it may have had.
    edited = current[index].turn.model_copy(update={"content": text, "failed": False, "failure": None})
    chat_state.set_entries([*current[:index], ChatEntry(turn=edited)])
    chat_state.set_editing(None)
    chat_state.request_generation()


def _render_user(entry: ChatEntry, index: int, is_last: bool, busy: bool) -> None:
    with st.chat_message("user"):
        if chat_state.editing_index() == index:
            st.text_area("Edit message", key=f"chat_edit_text_{index}", label_visibility="collapsed")
            row = st.container(horizontal=True, gap="small")
            row.button("Resend", key=f"chat_resend_{index}", on_click=_resend, args=(index,), type="primary")
            row.button("Cancel", key=f"chat_cancel_{index}", on_click=chat_state.set_editing, args=(None,))
            return
        # An imported or restored conversation's prompts are untrusted text too.
        render_untrusted(entry.turn.content)
        render_attached_images(entry.turn.images)
        if entry.turn.failed:
            failure = escape_markdown(entry.turn.failure) if entry.turn.failure else None
            # The failure's words name the endpoint's answer: not on stage.
            st.caption(f":orange[{FAILED_MARK}]", help=None if presenter.is_on() else failure)
        if busy:
            return
        row = st.container(horizontal=True, gap="small")
        row.button(
            "Edit",
            key=f"chat_edit_{index}",
            on_click=_start_edit,
            args=(index,),
            type="tertiary",
            icon=":material/edit:",
        )
        if entry.turn.failed and is_last:
            # Last in the conversation, so no error card below offers Retry (a restored conversation keeps no card).
            row.button(
                "Retry", key=f"chat_retry_prompt_{index}", on_click=_retry, type="tertiary", icon=":material/refresh:"
            )


def _render_tool_calls(turn: ChatTurn) -> None:
    for call in turn.tool_calls:
        function = call.get("function", {})
        st.markdown(f"Tool call **{code_span(str(function.get('name', '?')))}**")
        try:
            st.code(json.dumps(json.loads(function.get("arguments") or "{}"), indent=2), language="json")
        except json.JSONDecodeError:
            st.code(function.get("arguments", ""), language="text")


def _looks_like_json(text: str) -> bool:
    """True for text that starts like a JSON document but does not parse (a truncated JSON-mode answer)."""
    stripped = text.lstrip()
    if not stripped.startswith(("{", "[")):
        return False
    try:
        json.loads(stripped)
    except json.JSONDecodeError:
        return True
    return False


def _render_assistant(entry: ChatEntry, index: int, is_last: bool, deployment: Deployment | None, busy: bool) -> None:
    with st.chat_message("assistant"):
        if entry.turn.content:
            render_untrusted(entry.turn.content)
        _render_tool_calls(entry.turn)
        if entry.turn.stopped:
            if entry.turn.content or entry.turn.tool_calls:
                st.caption(":orange[■ stopped: the answer is partial]")
            else:
                st.caption(":orange[■ stopped before the first token: nothing arrived]")
        elif entry.turn.finish_reason == "length" and _looks_like_json(entry.turn.content):
            # JSON mode cut by max_tokens: say why the JSON does not parse before the user tries it.
            st.caption(":orange[The answer reached max_tokens and was cut off: this JSON is incomplete.]")
        if entry.filter_results is not None or entry.turn.finish_reason == "content_filter":
            render_filtered_answer(entry.filter_results, key=str(index))
        if isinstance(entry.error, ToolSequenceError):
            with st.container(border=True, key=f"errcard_{index}"):
                st.markdown("**:red[Not sent: the tool calls and results are out of order]**")
                if not presenter.is_on():  # the problems name call ids
                    st.markdown(escape_markdown(str(entry.error)))
        elif entry.error is not None:
            actionable = is_last and not busy
            # The deployment that refused the parameter is remembered, even if the picker changed since.
            refused_by = entry.turn.deployment or (deployment.name if deployment else "")
            invalid = bool(getattr(entry.error, "invalid_value", False))
            render_error(
                entry.error,
                key=str(index),
                on_retry_without=functools.partial(_retry_without, refused_by, invalid) if actionable else None,
                on_retry=_retry if actionable else None,
            )
        answered_by = state.all_deployments().get(entry.turn.deployment or "", deployment)
        if entry.metrics is not None and answered_by is not None:
            render_metrics(entry.metrics, answered_by)
        if is_last and not busy and entry.error is None:
            st.button("Regenerate", key="chat_regenerate", on_click=_retry, type="tertiary", icon=":material/refresh:")


def pending_tool_calls() -> list[PendingCall]:
    """The calls of the conversation's last answer that still wait for a result."""
    return pending_calls(api_messages("", chat_state.turns()))


def _send_tool_results(results: list[tuple[PendingCall, str]]) -> None:
    answers = [ChatTurn(role="tool", content=text, tool_call_id=call.id) for call, text in results]
    chat_state.entries().extend(ChatEntry(turn=turn) for turn in answers)
    chat_state.set_editing(None)
    chat_state.set_notice(None)
    chat_state.request_generation()


def render_conversation(deployment: Deployment | None, busy: bool) -> None:
    """Draw every turn; the last answer gets Regenerate, an error card its Retry buttons, and tool calls that wait
    for results the form that answers them."""
    current = chat_state.entries()
    names = call_names({"role": entry.turn.role, "tool_calls": entry.turn.tool_calls} for entry in current)
    for index, entry in enumerate(current):
        is_last = index == len(current) - 1
        if entry.turn.role == "user":
            _render_user(entry, index, is_last, busy)
        elif entry.turn.role == "tool":
            turn = entry.turn
            render_tool_result(turn.content, turn.tool_call_id, names.get(turn.tool_call_id or ""), failed=turn.failed)
        else:
            _render_assistant(entry, index, is_last, deployment, busy)
    pending = [] if busy else pending_tool_calls()
    if pending:
        canned = tool_settings.canned_results(TOOLS_KEY)
        tool_answers.render_pending_calls(pending, canned, key=TOOL_ANSWERS_KEY, on_send=_send_tool_results)


def _close_unanswered(conversation: list[ChatEntry]) -> None:
    """Give every call left without a result before a later message a "not run" result (in place, shown)."""
    turns = [entry.turn for entry in conversation]
    for index, inserted in reversed(missing_tool_turns(turns)):
        conversation[index:index] = [ChatEntry(turn=turn) for turn in inserted]


def generate_answer(deployment: Deployment, system_prompt: str, values: ParamValues) -> None:
    """Stream an answer to the conversation into the page, with a Stop button; always keeps what arrived.

    A worker thread reads the stream (app.stream_pump) while this run redraws the growing text every few
    hundredths of a second. A click on Stop (or on anything else) makes Streamlit stop this run at its next redraw
    and start a new one; the `finally` block then tells the worker to close the connection and appends the partial
    answer, marked as stopped, to the conversation list captured up front (once a stop is requested, every
    st.session_state access raises). The new run waits on the generation lock, so it shows that answer.
    """
    conversation = chat_state.entries()
    try:
        params = build_params(values, set(state.unsupported_params(deployment.name)))
    except JsonFieldError as err:
        chat_state.mark_prompt_failed(conversation, err)
        conversation.append(ChatEntry(turn=ChatTurn(role="assistant", deployment=deployment.name), error=err))
        return
    # A conversation imported or handed over with unanswered calls gets "not run" results: the API needs one per call.
    _close_unanswered(conversation)
    messages = mend_cut_calls(api_messages(system_prompt, [entry.turn for entry in conversation]))
    problems = sequence_problems(messages)
    if problems:
        # Never sent: OpenAI and Azure answer 400 to tool calls and results out of order.
        conversation.append(
            ChatEntry(turn=ChatTurn(role="assistant", deployment=deployment.name), error=ToolSequenceError(problems))
        )
        return
    client = state.get_client(deployment)
    lock = chat_state.generation_lock()
    with st.chat_message("assistant"):
        placeholder = st.empty()
        placeholder.markdown(":gray[…]")
        st.button("Stop", key=STOP_KEY, icon=":material/stop_circle:")
        lock.acquire()
        with tracing.action("chat turn"):  # the pump's thread carries the action: the turn is one trace
            pump = StreamPump(lambda: client.stream_chat(messages, **params))
        try:
            follow_stream(pump, placeholder)
        finally:
            try:
                interrupted = not pump.done.is_set()
                pump.stop()
                result, error = pump.result(), pump.error
                stopped = interrupted and error is None
                answer = chat_state.entry_from_result(result, deployment.name, error, stopped=stopped)
                if answer.turn.tool_calls:
                    # A call streamed without an id could never be answered: it gets one.
                    answer.turn = answer.turn.model_copy(update={"tool_calls": with_call_ids(answer.turn.tool_calls)})
                if answer.failed_empty and (error is not None or stopped):
                    # No answer at all: the prompt stays on the page but leaves the history later turns send, so
                    # the next request never carries two user messages in a row.
                    chat_state.mark_prompt_failed(conversation, error or "stopped before an answer arrived")
                conversation.append(answer)
            finally:
                lock.release()


CHAT_INPUT_KEY = "chat_input"
IMAGE_TYPES = ["png", "jpg", "jpeg", "gif", "webp"]


def _submit() -> None:
    value = st.session_state.get(CHAT_INPUT_KEY)
    if value is None:
        return
    text = value if isinstance(value, str) else (value.text or "")
    files = [] if isinstance(value, str) else list(value.files or [])
    prepared, rejected = prepare_images([(f.name, f.getvalue()) for f in files])
    notes = [str(err) for err in rejected]
    chat_state.set_notice("; ".join(notes) or None)
    if not text.strip() and not prepared:
        return
    _add_prompt(text, [image.data_url for image in prepared], notes)


def send_prompt(text: str) -> None:
    """Send `text` as the next message, as if typed into the message box (the demo script's "Next" does)."""
    chat_state.set_notice(None)
    _add_prompt(text, [], [])


def _add_prompt(text: str, images: list[str], notes: list[str]) -> None:
    """Append the user's message (answering waiting tool calls "not run" first) and ask for an answer."""
    pending = pending_tool_calls()
    if pending:
        # Typed over calls waiting for results: each gets a visible "not run" result, so the request stays valid.
        not_run = [ChatEntry(turn=ChatTurn(role="tool", content=NOT_RUN_RESULT, tool_call_id=c.id)) for c in pending]
        chat_state.entries().extend(not_run)
        calls = "call was" if len(pending) == 1 else "calls were"
        said = f"{len(pending)} tool {calls} answered “not run”, as you sent a message instead of their results."
        chat_state.set_notice("; ".join([*notes, said]))
    turn = ChatTurn(role="user", content=text, images=images)
    chat_state.entries().append(ChatEntry(turn=turn))
    chat_state.set_editing(None)
    chat_state.request_generation()


def render_chat_input(disabled: bool = False) -> None:
    """The message box pinned to the bottom; it takes images to attach (sent as data URLs)."""
    st.chat_input(
        "Message (attach images for vision models)",
        key=CHAT_INPUT_KEY,
        accept_file="multiple",
        file_type=IMAGE_TYPES,
        on_submit=_submit,
        disabled=disabled,
        submit_mode="disable",
    )
