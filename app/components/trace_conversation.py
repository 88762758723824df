"""A recorded chat span read back as a conversation: the chat page's entries, or the compare page's turns.

A text completion span (`/completions`, the Prompts page's text mode) reads back as one user message (its prompt)
and the assistant's answer (the continuation, without the prompt when it was echoed).

The stored request holds the messages as sent and the parameters as sent (the body without its content), the answer
what came back; images were stored as a size and hash unless PLAYGROUND_TRACE_IMAGES=full, so only data URLs come
back as attachments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from app.chat_state import ChatEntry, mark_prompt_failed
from app.components.trace_errors import error_from_detail, loads
from services.compare_model import PaneReply, Turn
from services.http import CHAT_PARAMS
from services.schemas import Metrics, ToolCall, Usage
from services.transcript import ChatTurn, TurnMetrics

_DATA_URL = "data:"
# Stored per call, but the chat panel does not set them: the deployment sends its own model.
_NOT_PANEL = ("model",)
# The calls that hold a conversation: chat, and a text completion (a prompt in, a continuation out).
_CONVERSATION_OPERATIONS = ("chat", "text_completion")


@dataclass
class Conversation:
    """One chat span as the chat page holds a conversation."""

    deployment: str
    system_prompt: str
    params: dict[str, Any]
    entries: list[ChatEntry]
    dropped_images: int = 0
    trace_id: str = ""


@dataclass
class _Messages:
    system: list[str] = field(default_factory=list)
    turns: list[ChatTurn] = field(default_factory=list)
    dropped_images: int = 0


def final_chat_spans(spans: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chat (and text completion) calls' last attempts (a retried attempt is not an answer), in the order they
    started."""
    return [
        span for span in spans if span.get("operation") in _CONVERSATION_OPERATIONS and span.get("status") != "retried"
    ]


def panel_params(sent: dict[str, Any], *, text_completion: bool = False) -> dict[str, Any]:
    """Parameters as sent (extras were merged into the body) back in the panel's shape, `model_extras` apart.

    For a text completion only chat's own parameters are kept: `echo` and `logprobs` belong to `/completions`, and
    its body's other names cannot be told apart from extras.
    """
    params: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    for name, value in sent.items():
        if name in _NOT_PANEL:
            continue
        if name in CHAT_PARAMS:
            params[name] = value
        elif not text_completion:
            extras[name] = value
    if extras:
        # The extra-parameters header is not part of the body: the panel's default mode is what most calls use.
        params["model_extras"] = extras
        params["extra_parameters"] = "pass-through"
    return params


def _content(content: Any) -> tuple[str, list[str], int]:
    """(text, data-URL images, images that were stored only as a hash)."""
    if isinstance(content, str):
        return content, [], 0
    texts: list[str] = []
    images: list[str] = []
    dropped = 0
    for part in content if isinstance(content, list) else []:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text":
            texts.append(str(part.get("text", "")))
        elif part.get("type") == "image_url":
            url = str((part.get("image_url") or {}).get("url", ""))
            if url.startswith(_DATA_URL):
                images.append(url)
            else:
                dropped += 1
    return "\n".join(texts), images, dropped


def _messages(messages: list[Any]) -> _Messages:
    found = _Messages()
    for message in messages:
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        text, images, dropped = _content(message.get("content"))
        found.dropped_images += dropped
        if role in ("system", "developer"):
            found.system.append(text)
        elif role == "user":
            found.turns.append(ChatTurn(role="user", content=text, images=images))
        elif role == "assistant":
            calls = message.get("tool_calls")
            found.turns.append(
                ChatTurn(role="assistant", content=text, tool_calls=calls if isinstance(calls, list) else [])
            )
        elif role == "tool":
            found.turns.append(ChatTurn(role="tool", content=text, tool_call_id=message.get("tool_call_id")))
    return found


def _retries(span: dict[str, Any], spans: Sequence[dict[str, Any]]) -> tuple[int, float, list[str]]:
    """The attempts of the same call retried before this one: count, time waited, why."""
    before = [
        other
        for other in spans
        if other.get("status") == "retried"
        and other.get("deployment") == span.get("deployment")
        and other.get("operation") == span.get("operation")
        and int(other.get("start_ns") or 0) <= int(span.get("start_ns") or 0)
    ]
    wait = sum(float(other.get("retry_wait_s") or 0.0) for other in before)
    # As the client names them: the HTTP status, or "connect" for an attempt that got no answer.
    reasons = [str(other["http_status"]) if other.get("http_status") else "connect" for other in before]
    return len(before), wait, reasons


def metrics_of(span: dict[str, Any], spans: Sequence[dict[str, Any]] = ()) -> Metrics:
    """The answer's metrics line as it was shown (speed is not stored, so it is left out)."""
    inputs, outputs = span.get("input_tokens"), span.get("output_tokens")
    usage = None
    if inputs is not None or outputs is not None:
        usage = Usage(
            prompt_tokens=inputs or 0, completion_tokens=outputs or 0, total_tokens=(inputs or 0) + (outputs or 0)
        )
    retries, wait, reasons = _retries(span, spans)
    return Metrics(
        ttft_s=span.get("ttft_s"),
        total_s=float(span.get("total_s") or 0.0),
        request_id=str(span.get("request_id") or ""),
        usage=usage,
        finish_reason=span.get("finish_reason"),
        retries=retries,
        retry_wait_s=wait,
        retry_reasons=reasons,
        trace_id=span.get("trace_id"),
    )


def _answer_entry(span: dict[str, Any], spans: Sequence[dict[str, Any]], echoed: str = "") -> ChatEntry | None:
    answer = loads(span.get("answer")) or {}
    content = str(answer.get("content") or "")
    if echoed and content.startswith(echoed):
        content = content[len(echoed) :]
    error = error_from_detail(loads(span.get("error_detail")), str(span.get("deployment") or ""))
    if not answer and error is None:
        return None
    metrics = metrics_of(span, spans)
    usage = metrics.usage
    calls = answer.get("tool_calls")
    turn = ChatTurn(
        role="assistant",
        content=content,
        tool_calls=[call for call in calls if isinstance(call, dict)] if isinstance(calls, list) else [],
        stopped=span.get("status") == "stopped",
        finish_reason=span.get("finish_reason"),
        deployment=span.get("deployment"),
        metrics=TurnMetrics(
            ttft_s=metrics.ttft_s,
            total_s=metrics.total_s,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            finish_reason=metrics.finish_reason,
        ),
    )
    filtered = answer.get("content_filter_results") if answer.get("content_filtered") else None
    return ChatEntry(turn=turn, metrics=metrics, error=error, filter_results=filtered)


def conversation_of(span: dict[str, Any], spans: Sequence[dict[str, Any]] = ()) -> Conversation | None:
    """The chat page's conversation for one chat span (None when its messages were not recorded)."""
    request = loads(span.get("request")) or {}
    sent = request.get("params")
    sent = sent if isinstance(sent, dict) else {}
    text_completion = span.get("operation") == "text_completion"
    messages = request.get("messages")
    echoed = ""
    if text_completion and isinstance(request.get("prompt"), str):
        messages = [{"role": "user", "content": request["prompt"]}]
        echoed = request["prompt"] if sent.get("echo") else ""
    if not isinstance(messages, list):
        return None
    found = _messages(messages)
    entries = [ChatEntry(turn=turn) for turn in found.turns]
    answer = _answer_entry(span, spans, echoed)
    if answer is not None:
        if answer.failed_empty:
            # As on the chat page: a prompt that got no answer is kept to read and retry, never sent as history.
            mark_prompt_failed(entries, answer.error or "stopped before an answer arrived")
        entries.append(answer)
    return Conversation(
        deployment=str(span.get("deployment") or ""),
        system_prompt="\n\n".join(found.system),
        params=panel_params(sent, text_completion=text_completion),
        entries=entries,
        dropped_images=found.dropped_images,
        trace_id=str(span.get("trace_id") or ""),
    )


# --- the compare page --------------------------------------------------------------------------------------------


def _reply(pane_id: str, conversation: Conversation, entry: ChatEntry, cost: float | None) -> PaneReply:
    status = "error" if entry.error is not None else "stopped" if entry.turn.stopped else "done"
    calls = []
    for call in entry.turn.tool_calls:
        try:
            calls.append(ToolCall.model_validate(call))
        except ValueError:
            continue  # a call recorded without an id cannot be shown as one; its text stays
    return PaneReply(
        pane_id=pane_id,
        deployment=conversation.deployment,
        text=entry.turn.content,
        status=status,
        tool_calls=calls,
        error=entry.error,
        metrics=entry.metrics,
        cost=cost,
        system_prompt=conversation.system_prompt,
        params=dict(conversation.params),
    )


def compare_turns(panes: Sequence[tuple[str, Conversation, float | None]]) -> list[Turn]:
    """The compare page's turns for panes (pane id, its conversation, the last answer's cost): each pane's prompts
    matched in order to the turns, each answer kept under its own pane."""
    turns: list[Turn] = []
    for pane_id, conversation, cost in panes:
        cursor = 0
        entries = conversation.entries
        for index, entry in enumerate(entries):
            if entry.turn.role != "user":
                continue
            match = next((i for i in range(cursor, len(turns)) if turns[i].prompt == entry.turn.content), None)
            if match is None:
                turns.append(Turn(entry.turn.content))
                match = len(turns) - 1
            cursor = match + 1
            answer = (
                entries[index + 1] if index + 1 < len(entries) and entries[index + 1].turn.role == "assistant" else None
            )
            if answer is not None:
                last = index + 1 == len(entries) - 1
                turns[match].replies[pane_id] = _reply(pane_id, conversation, answer, cost if last else None)
    return turns
