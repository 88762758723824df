"""Typed access to the chat page's part of st.session_state: the conversation and what happens to it next."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from app import run_slots
from services.schemas import ChatResult, Metrics, Usage
from services.transcript import ChatTurn, TurnMetrics

_ENTRIES = "chat_entries"
_PENDING = "chat_pending"
_EDITING = "chat_editing"
_NOTICE = "chat_notice"
_LOCK = "chat_generation_lock"
SYSTEM_PROMPT_KEY = "chat_system_prompt"


@dataclass
class ChatEntry:
    """One turn as the page shows it: the message, plus its metrics, error and content-filter results."""

    turn: ChatTurn
    metrics: Metrics | None = None
    error: Exception | None = None
    filter_results: dict[str, Any] | None = field(default=None)

    @property
    def failed_empty(self) -> bool:
        """An answer that failed before its first token (only its error card shows)."""
        return self.turn.role == "assistant" and not self.turn.content and not self.turn.tool_calls


def entries() -> list[ChatEntry]:
    """The conversation, oldest first (the list itself: callers may append)."""
    return st.session_state.setdefault(_ENTRIES, [])


def set_entries(new_entries: list[ChatEntry]) -> None:
    """Replace the whole conversation (clear, import, truncate for resend)."""
    st.session_state[_ENTRIES] = new_entries


def turns() -> list[ChatTurn]:
    """The conversation's messages, for the request, export and code view."""
    return [entry.turn for entry in entries()]


def request_generation() -> None:
    """Ask the page to generate an answer to the conversation on this run."""
    st.session_state[_PENDING] = True


def take_generation_request() -> bool:
    """True once after request_generation(): the request is consumed so a rerun does not answer twice."""
    return bool(st.session_state.pop(_PENDING, False))


def generation_lock() -> threading.Lock:
    """Held while an answer streams; a run started by Stop waits on it to see the saved partial answer."""
    return st.session_state.setdefault(_LOCK, threading.Lock())


def wait_for_generation(timeout_s: float = 5.0) -> None:
    """Wait (up to `timeout_s`) until a previous run has finished saving its answer."""
    lock = generation_lock()
    with run_slots.released():
        acquired = lock.acquire(timeout=timeout_s)
    if acquired:
        lock.release()


def editing_index() -> int | None:
    """The index of the user message being edited, if any."""
    return st.session_state.get(_EDITING)


def set_editing(index: int | None) -> None:
    """Start editing the user message at `index`, or stop editing (None)."""
    st.session_state[_EDITING] = index


def notice() -> str | None:
    """A one-off message for the user (for example, attachments that were refused)."""
    return st.session_state.get(_NOTICE)


def set_notice(text: str | None) -> None:
    """Show `text` above the conversation until it is replaced (None hides it)."""
    st.session_state[_NOTICE] = text


def drop_trailing_answer() -> None:
    """Remove the last answer (if the conversation ends with one) so it can be generated again.

    A prompt that failed is sent again by this retry, so it loses its mark; earlier failed prompts keep theirs.
    """
    current = entries()
    while current and current[-1].turn.role == "assistant":
        current.pop()
    if current and current[-1].turn.failed:
        current[-1].turn = current[-1].turn.model_copy(update={"failed": False, "failure": None})


def mark_prompt_failed(conversation: list[ChatEntry], error: Exception | str) -> None:
    """Mark the prompt an answer failed for (the turns since the last answer) as failed: shown, never sent again.

    Tool results are never marked. `error` is the failure, or in words why no answer came (a Stop before the first
    token). Takes the conversation list itself: it runs in the streaming run's `finally`, where session state is out
    of reach.
    """
    failure = " ".join(str(error).split()) or type(error).__name__
    for entry in reversed(conversation):
        if entry.turn.role == "assistant" or entry.turn.failed:
            break
        if entry.turn.role == "tool":
            continue  # a tool result stays: without it the calls before it would have none, and no request is valid
        entry.turn = entry.turn.model_copy(update={"failed": True, "failure": failure})


def strip_images() -> None:
    """Remove image attachments from every message (for a deployment that reads text only)."""
    for entry in entries():
        if entry.turn.images:
            entry.turn = entry.turn.model_copy(update={"images": []})


def entry_from_result(result: ChatResult, deployment: str, error: Exception | None, stopped: bool) -> ChatEntry:
    """The assistant entry for a finished, stopped or failed (possibly partial) answer."""
    usage = result.usage or result.metrics.usage
    turn = ChatTurn(
        role="assistant",
        content=result.content,
        tool_calls=[call.model_dump() for call in result.tool_calls],
        stopped=stopped,
        finish_reason=result.finish_reason,
        deployment=deployment,
        metrics=TurnMetrics(
            ttft_s=result.metrics.ttft_s,
            total_s=result.metrics.total_s,
            tokens_per_s=result.metrics.tokens_per_s,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            finish_reason=result.finish_reason,
        ),
    )
    filtered = result.content_filter_results if result.content_filtered else None
    return ChatEntry(turn=turn, metrics=result.metrics, error=error, filter_results=filtered)


def entry_from_turn(turn: ChatTurn) -> ChatEntry:
    """The entry for an imported turn, with the metrics saved in the transcript (if any) shown again."""
    saved = turn.metrics
    if saved is None or saved.total_s is None:
        return ChatEntry(turn=turn)
    usage = None
    if saved.prompt_tokens is not None and saved.completion_tokens is not None:
        usage = Usage(
            prompt_tokens=saved.prompt_tokens,
            completion_tokens=saved.completion_tokens,
            total_tokens=saved.prompt_tokens + saved.completion_tokens,
        )
    metrics = Metrics(
        ttft_s=saved.ttft_s,
        total_s=saved.total_s,
        tokens_per_s=saved.tokens_per_s,
        request_id="",
        usage=usage,
        finish_reason=saved.finish_reason,
    )
    return ChatEntry(turn=turn, metrics=metrics)


_CONVERSATION_ID = "chat_conversation_id"
_SAVED_JSON = "chat_saved_json"
_RESTORE_CHECKED = "chat_restore_checked"


def conversation_id() -> str | None:
    """The id the conversation is saved under (services.store.conversations), once it has been saved or restored."""
    return st.session_state.get(_CONVERSATION_ID)


def set_conversation_id(new_id: str | None) -> None:
    """Remember the id the conversation is saved under."""
    st.session_state[_CONVERSATION_ID] = new_id


def saved_json() -> str | None:
    """The transcript JSON last saved (or restored), so an unchanged conversation is not written again."""
    return st.session_state.get(_SAVED_JSON)


def set_saved_json(text: str | None) -> None:
    """Record what the store now holds for this conversation."""
    st.session_state[_SAVED_JSON] = text


def take_restore_check() -> bool:
    """True once per session: the first chat run is the one that may restore a conversation from the URL."""
    if st.session_state.get(_RESTORE_CHECKED):
        return False
    st.session_state[_RESTORE_CHECKED] = True
    return True
