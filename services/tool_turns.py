"""Tool-call round trips over plain API messages (the dicts a request's `messages` holds), for chat and compare.

The API's rule (OpenAI and Azure answer 400 otherwise): an assistant message with `tool_calls` is followed by one
`role: "tool"` message per call (`tool_call_id` = the call's `id`) before any other message, and a tool message
answers a call of the assistant message right before its block.

    pending = pending_calls(messages)                  # calls at the end still waiting for a result
    answers = automatic_results(pending, canned)       # call id -> (content, source) from canned results / demo tools
    messages += [tool_message(call.id, answers[call.id].content) for call in pending]  # when all were found
    validate_sequence(messages)                        # raises ToolSequenceError before anything invalid is sent

A user who types a message while calls are unanswered gets each of them answered `NOT_RUN_RESULT`
(`decline_pending`), so the request stays valid and shows what happened; `close_unanswered` does the same for
calls left unanswered earlier in a conversation (one imported, or handed over from another page).

A call whose arguments are not complete JSON (the stream was stopped while they arrived) is `cut`: it is never run or
answered automatically, the form answers it `CUT_RESULT`, and `mend_cut_calls` sends its arguments as `{}` (the
validator refuses the partial text: providers that parse arguments answer 400 to it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from services.demo_tools import DEMO_TOOLS, run_demo_tool

# The result given to a call the user did not answer (they sent a message instead).
NOT_RUN_RESULT = json.dumps({"error": "not run: the user sent a message instead of this tool's result"})
# The result given to a call cut off before its arguments were complete (the answer was stopped).
CUT_RESULT = json.dumps({"error": "not run: the answer was stopped before this call's arguments were complete"})

ResultSource = Literal["canned", "demo"]
ProblemKind = Literal[
    "unanswered", "pending", "orphan", "unknown_id", "duplicate", "bad_call", "bad_content", "cut_call"
]


@dataclass(frozen=True)
class PendingCall:
    """One tool call waiting for its result: the call's id, function name and arguments (JSON text as sent)."""

    id: str
    name: str
    arguments: str

    @property
    def cut(self) -> bool:
        """True when the arguments are not complete JSON: the answer was stopped while they streamed."""
        return not arguments_complete(self.arguments)


@dataclass(frozen=True)
class AutoResult:
    """A result found without typing: `content` for the tool message, `source` "canned" or "demo"."""

    content: str
    source: ResultSource


@dataclass(frozen=True)
class SequenceProblem:
    """Why a message list would be refused: the message's index, a kind, and the reason in words."""

    index: int
    kind: ProblemKind
    text: str


class ToolSequenceError(ValueError):
    """Messages the API would refuse (tool calls without results, results without calls); nothing was sent."""

    def __init__(self, problems: Sequence[SequenceProblem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(problem.text for problem in self.problems))


class CannedResultsError(ValueError):
    """Canned results text that is not a JSON object of tool names and results."""


def arguments_complete(arguments: str) -> bool:
    """True for arguments that are whole JSON text (or none at all: a call without arguments)."""
    if not arguments.strip():
        return True
    try:
        json.loads(arguments)
    except ValueError:
        return False
    return True


def calls_of(message: Mapping[str, Any]) -> list[PendingCall]:
    """The tool calls of one assistant message (empty for any other message)."""
    if message.get("role") != "assistant":
        return []
    calls = []
    for call in message.get("tool_calls") or []:
        function = call.get("function") if isinstance(call, Mapping) else None
        function = function if isinstance(function, Mapping) else {}
        calls.append(
            PendingCall(
                id=str(call.get("id") or "") if isinstance(call, Mapping) else "",
                name=str(function.get("name") or ""),
                arguments=function.get("arguments") if isinstance(function.get("arguments"), str) else "",
            )
        )
    return calls


def _answered_after(messages: Sequence[Mapping[str, Any]], start: int) -> tuple[set[str], int]:
    """The call ids answered by the tool messages from `start` on, and the index where that block ends."""
    answered: set[str] = set()
    end = start
    while end < len(messages) and messages[end].get("role") == "tool":
        answered.add(str(messages[end].get("tool_call_id") or ""))
        end += 1
    return answered, end


def pending_calls(messages: Sequence[Mapping[str, Any]]) -> list[PendingCall]:
    """The calls still waiting for a result at the end of `messages`: those of the last assistant message, when it
    has `tool_calls` and only tool messages follow it, that no tool message answers yet (in the call's order)."""
    for index in range(len(messages) - 1, -1, -1):
        role = messages[index].get("role")
        if role == "tool":
            continue
        answered, _ = _answered_after(messages, index + 1)
        return [call for call in calls_of(messages[index]) if call.id not in answered]
    return []


def missing_answers(messages: Sequence[Mapping[str, Any]]) -> list[tuple[int, list[PendingCall]]]:
    """Where answers are missing before a later message: (index of the message that comes too early, the calls of
    the assistant message before it that no tool message answers). The calls pending at the end are not listed."""
    gaps = []
    for index, message in enumerate(messages):
        calls = calls_of(message)
        if not calls:
            continue
        answered, end = _answered_after(messages, index + 1)
        missing = [call for call in calls if call.id not in answered]
        if missing and end < len(messages):
            gaps.append((end, missing))
    return gaps


def sequence_problems(messages: Sequence[Mapping[str, Any]]) -> list[SequenceProblem]:
    """Every reason the API would refuse `messages` for their tool calls and results (empty when it accepts them).

    Kinds: `pending` (calls at the end have no result), `unanswered` (a later message comes before all results),
    `orphan` (a tool message not right after a tool-calling assistant message or its results), `unknown_id` (a
    result for a call that message did not make), `duplicate` (a call answered twice, or two calls sharing an id),
    `bad_call` (a call without id or function name), `bad_content` (a result that is not text), `cut_call` (a call
    whose arguments were cut off: see mend_cut_calls)."""
    problems: list[SequenceProblem] = []
    for index, message in enumerate(messages):
        calls = calls_of(message)
        if not calls:
            if message.get("role") == "tool" and _block_owner(messages, index) is None:
                problems.append(SequenceProblem(index, "orphan", f"message {index + 1} is a tool result with no call"))
            continue
        ids = [call.id for call in calls]
        for call in calls:
            if not call.id or not call.name:
                problems.append(SequenceProblem(index, "bad_call", f"message {index + 1} has a call without id/name"))
            elif call.cut:
                text = f"message {index + 1} has a call to {call.name} whose arguments were cut off"
                problems.append(SequenceProblem(index, "cut_call", text))
        if len(set(ids)) != len(ids):
            problems.append(SequenceProblem(index, "duplicate", f"message {index + 1} has two calls with one id"))
        problems += _block_problems(messages, index, set(ids))
    return problems


def _block_owner(messages: Sequence[Mapping[str, Any]], index: int) -> int | None:
    """The assistant message whose results block holds the tool message at `index` (None for an orphan)."""
    owner = index - 1
    while owner >= 0 and messages[owner].get("role") == "tool":
        owner -= 1
    return owner if owner >= 0 and calls_of(messages[owner]) else None


def _block_problems(messages: Sequence[Mapping[str, Any]], index: int, ids: set[str]) -> list[SequenceProblem]:
    problems: list[SequenceProblem] = []
    seen: set[str] = set()
    position = index + 1
    while position < len(messages) and messages[position].get("role") == "tool":
        tool = messages[position]
        call_id = str(tool.get("tool_call_id") or "")
        where = f"message {position + 1}"
        if call_id not in ids:
            problems.append(SequenceProblem(position, "unknown_id", f"{where} answers call {call_id!r}, not made"))
        elif call_id in seen:
            problems.append(SequenceProblem(position, "duplicate", f"{where} answers call {call_id!r} again"))
        seen.add(call_id)
        content = tool.get("content")
        text_parts = isinstance(content, list) and all(
            isinstance(part, Mapping) and part.get("type") == "text" for part in content
        )
        if not isinstance(content, str) and not text_parts:
            problems.append(SequenceProblem(position, "bad_content", f"{where}: a tool result must be text"))
        position += 1
    missing = sorted(ids - seen - {""})
    if missing:
        names = ", ".join(missing)
        if position < len(messages):
            text = f"message {position + 1} comes before the results of calls {names} (message {index + 1})"
            problems.append(SequenceProblem(position, "unanswered", text))
        else:
            problems.append(SequenceProblem(index, "pending", f"the calls {names} are waiting for their results"))
    return problems


def validate_sequence(messages: Sequence[Mapping[str, Any]]) -> None:
    """Raise ToolSequenceError when the API would refuse `messages` for their tool calls; call before every send."""
    problems = sequence_problems(messages)
    if problems:
        raise ToolSequenceError(problems)


def mend_cut_calls(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """`messages` as a request can carry them: each cut call's partial arguments replaced by `{}` (its result, given
    like any other call's, says it was cut off). Messages without a cut call are returned as they are."""
    mended: list[dict[str, Any]] = []
    for message in messages:
        if not any(call.cut for call in calls_of(message)):
            mended.append(dict(message))
            continue
        calls = []
        for call in message.get("tool_calls") or []:
            function = dict(call.get("function") or {})
            arguments = function.get("arguments")
            if isinstance(arguments, str) and not arguments_complete(arguments):
                function["arguments"] = "{}"
            calls.append({**call, "function": function})
        mended.append({**message, "tool_calls": calls})
    return mended


def tool_message(call_id: str, content: str) -> dict[str, Any]:
    """The `role: "tool"` message answering the call `call_id`."""
    return {"role": "tool", "tool_call_id": call_id, "content": content}


def decline_pending(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Tool messages answering every pending call with NOT_RUN_RESULT (to add before a message the user typed)."""
    return [tool_message(call.id, NOT_RUN_RESULT) for call in pending_calls(messages)]


def close_unanswered(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """`messages` with a NOT_RUN_RESULT tool message added wherever a call has no result before a later message
    (calls pending at the end stay pending)."""
    result = [dict(message) for message in messages]
    for position, missing in reversed(missing_answers(messages)):
        result[position:position] = [tool_message(call.id, NOT_RUN_RESULT) for call in missing]
    return result


def with_call_ids(calls: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Tool calls (API dicts) each with an id: a call that arrived without one gets `call_<n>` so it can be answered."""
    result = []
    for number, call in enumerate(calls):
        item = dict(call)
        if not item.get("id"):
            item["id"] = f"call_{number}"
        result.append(item)
    return result


def parse_canned_results(text: str) -> dict[str, str]:
    """Canned results from the editor's JSON object `{"tool name": result, ...}`: a string result is used as it is,
    any other JSON value as its JSON text. Empty text means none. Raises CannedResultsError saying what is wrong."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CannedResultsError(f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from exc
    if not isinstance(value, dict):
        raise CannedResultsError('expected an object such as {"get_weather": {"temperature_c": 21}}')
    return {name: result if isinstance(result, str) else json.dumps(result) for name, result in value.items()}


def automatic_result(call: PendingCall, canned: Mapping[str, str], *, demo_tools: bool = True) -> AutoResult | None:
    """The result a call gets without typing: the canned result for its tool name, else (with `demo_tools`) the
    built-in tool of that name run locally, else None; never for a cut call (its arguments are partial)."""
    if call.cut:
        return None
    if call.name in canned:
        return AutoResult(canned[call.name], "canned")
    if demo_tools and call.name in DEMO_TOOLS:
        return AutoResult(run_demo_tool(call.name, call.arguments), "demo")
    return None


def automatic_results(
    calls: Iterable[PendingCall], canned: Mapping[str, str], *, demo_tools: bool = True
) -> dict[str, AutoResult]:
    """Call id -> AutoResult for the calls that can be answered without typing (see automatic_result)."""
    found = {}
    for call in calls:
        result = automatic_result(call, canned, demo_tools=demo_tools)
        if result is not None:
            found[call.id] = result
    return found


def call_names(messages: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Call id -> function name over every assistant message (to label a tool result with its tool)."""
    return {call.id: call.name for message in messages for call in calls_of(message)}


def call_key(call: PendingCall) -> str:
    """A short stable token for a call, from its id, name and arguments (for widget keys: a call id is the model's
    text, of any length, and an id made up by with_call_ids comes again in a later round)."""
    return hashlib.sha256("\0".join((call.id, call.name, call.arguments)).encode()).hexdigest()[:10]
