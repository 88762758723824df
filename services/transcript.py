"""A chat conversation as plain data: API messages, JSON and Markdown export, JSON import.

The transcript never holds a key: it names the deployment, and the deployment's key stays in the configuration.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from services.tool_turns import (
    NOT_RUN_RESULT,
    call_names,
    missing_answers,
    sequence_problems,
    tool_message,
    with_call_ids,
)

TRANSCRIPT_FORMAT = "model-playground/chat"
TRANSCRIPT_VERSION = 1
# How a failed prompt is marked on the page and in exports.
FAILED_MARK = "not sent again: the request failed"


class TranscriptError(ValueError):
    """A transcript file that cannot be imported; the message says what is wrong and where."""


class TurnMetrics(BaseModel):
    """The measurements kept with an answer (a flat copy of services.schemas.Metrics, for export)."""

    ttft_s: float | None = None
    total_s: float | None = None
    tokens_per_s: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None


class ChatTurn(BaseModel):
    """One message of the conversation as the user sees it."""

    role: Literal["user", "assistant", "tool"]
    content: str = ""
    images: list[str] = Field(default_factory=list, description="data URLs attached to a user message")
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    tool_call_id: str | None = None
    stopped: bool = False
    finish_reason: str | None = None
    deployment: str | None = None
    metrics: TurnMetrics | None = None
    # A prompt whose request failed before any answer (content filter, unreachable, 401, 422...): kept to read, to
    # edit and to retry, but never sent again as history, or every later turn would carry it (and fail the same way).
    failed: bool = False
    failure: str | None = Field(default=None, description="why the request failed, in one line (never a key)")


class Transcript(BaseModel):
    """A conversation with the settings that produced it; what export writes and import reads."""

    format: Literal["model-playground/chat"] = TRANSCRIPT_FORMAT
    version: int = TRANSCRIPT_VERSION
    deployment: str | None = None
    system_prompt: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)
    messages: list[ChatTurn] = Field(default_factory=list)


def api_messages(system_prompt: str, turns: list[ChatTurn]) -> list[dict[str, Any]]:
    """Build the request's `messages`: the system prompt, then each turn; images become `image_url` items.

    Failed prompts (`ChatTurn.failed`) and answers that never came are left out.
    """
    messages: list[dict[str, Any]] = []
    if system_prompt.strip():
        messages.append({"role": "system", "content": system_prompt})
    return messages + [message for _, message in _sent_messages(turns)]


def _sent_messages(turns: list[ChatTurn]) -> list[tuple[int, dict[str, Any]]]:
    """(turn index, API message) for each turn a request carries."""
    sent: list[tuple[int, dict[str, Any]]] = []
    for index, turn in enumerate(turns):
        if turn.failed:
            continue
        if turn.role == "user":
            if turn.images:
                items: list[dict[str, Any]] = [{"type": "text", "text": turn.content}] if turn.content else []
                items += [{"type": "image_url", "image_url": {"url": url}} for url in turn.images]
                sent.append((index, {"role": "user", "content": items}))
            else:
                sent.append((index, {"role": "user", "content": turn.content}))
        elif turn.role == "assistant":
            # An answer that failed before its first token has nothing to send back.
            if not turn.content and not turn.tool_calls:
                continue
            message: dict[str, Any] = {"role": "assistant", "content": turn.content or None}
            if turn.tool_calls:
                message["tool_calls"] = turn.tool_calls
            sent.append((index, message))
        else:
            sent.append((index, tool_message(turn.tool_call_id or "", turn.content)))
    return sent


def missing_tool_turns(turns: list[ChatTurn]) -> list[tuple[int, list[ChatTurn]]]:
    """Where a conversation has tool calls left without results before a later message (an imported one, or one
    handed over from the compare page): (index of the turn to insert before, the NOT_RUN_RESULT tool turns to
    insert). Calls pending at the end are left to the user."""
    sent = _sent_messages(turns)
    gaps = missing_answers([message for _, message in sent])
    return [
        (sent[position][0], [ChatTurn(role="tool", content=NOT_RUN_RESULT, tool_call_id=call.id) for call in calls])
        for position, calls in gaps
    ]


def with_missing_tool_turns(turns: list[ChatTurn]) -> list[ChatTurn]:
    """The turns with missing_tool_turns inserted: every call before a later message has a result."""
    result = list(turns)
    for index, inserted in reversed(missing_tool_turns(turns)):
        result[index:index] = inserted
    return result


def to_json(transcript: Transcript) -> str:
    """Serialise a transcript as indented JSON (what "Export JSON" downloads)."""
    return transcript.model_dump_json(indent=2, exclude_none=True)


def from_json(text: str | bytes) -> Transcript:
    """Parse an exported transcript; raise TranscriptError naming the position or field that is wrong."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TranscriptError(f"The file is not UTF-8 text (byte {exc.start}).") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise TranscriptError(f"The file is not valid JSON: {exc.msg} at {where}.") from exc
    if not isinstance(data, dict) or data.get("format") != TRANSCRIPT_FORMAT:
        raise TranscriptError(f'The file is not a chat transcript (expected "format": "{TRANSCRIPT_FORMAT}").')
    if data.get("version") != TRANSCRIPT_VERSION:
        raise TranscriptError(f"Transcript version {data.get('version')!r} is not supported (expected 1).")
    try:
        transcript = Transcript.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise TranscriptError(f"The transcript field `{where}` is invalid: {first['msg']}.") from exc
    for turn in transcript.messages:
        if any(not call.get("id") for call in turn.tool_calls):
            turn.tool_calls = with_call_ids(turn.tool_calls)  # saved from a stream that sent none: answerable now
    # Calls without results are given "not run" ones on the page; results that answer no call cannot be repaired.
    broken = [
        problem
        for problem in sequence_problems([message for _, message in _sent_messages(transcript.messages)])
        if problem.kind in ("orphan", "unknown_id", "duplicate", "bad_content")
    ]
    if broken:
        raise TranscriptError(f"The transcript's tool messages are not a valid sequence: {broken[0].text}.")
    return transcript


def _fenced(text: str) -> list[str]:
    """`text` as a fenced block whose fence is longer than any run of backticks inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, text, fence]


def to_markdown(transcript: Transcript) -> str:
    """Render a transcript as Markdown: a header with the settings, then one section per message."""
    lines = ["# Chat transcript", ""]
    if transcript.deployment:
        lines.append(f"- Deployment: `{transcript.deployment}`")
    for name, value in transcript.parameters.items():
        lines.append(f"- {name}: `{json.dumps(value)}`")
    lines.append("")
    if transcript.system_prompt.strip():
        lines += ["## System", "", transcript.system_prompt, ""]
    names = call_names({"role": turn.role, "tool_calls": turn.tool_calls} for turn in transcript.messages)
    for turn in transcript.messages:
        if turn.role == "tool":
            tool = names.get(turn.tool_call_id or "", "?")
            lines += [f"## Tool result: `{tool}` (call `{turn.tool_call_id or '?'}`)", "", *_fenced(turn.content), ""]
        else:
            lines += [f"## {turn.role.capitalize()}", ""]
        if turn.content and turn.role != "tool":
            lines += [turn.content, ""]
        lines += [f"*(image {i + 1} attached)*" for i in range(len(turn.images))]
        if turn.images:
            lines.append("")
        for call in turn.tool_calls:
            function = call.get("function", {})
            name, arguments = function.get("name", "?"), function.get("arguments", "")
            lines += [f"Tool call `{name}`:", "", "```json", arguments, "```", ""]
        if turn.failed:
            why = f": {turn.failure}" if turn.failure else ""
            lines += [f"*({FAILED_MARK}{why})*", ""]
        if turn.stopped:
            lines += ["*(stopped before the end)*", ""]
        if turn.finish_reason and turn.finish_reason != "stop":
            lines += [f"*(finish reason: {turn.finish_reason})*", ""]
    return "\n".join(lines).rstrip() + "\n"
