"""The plain data of a comparison: turns, each pane's reply and history, the metrics table, blind labels and votes.

No threads and no streamlit here: `services.compare_run` streams the panes, the page owns rendering.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from services.config import Deployment
from services.metrics import cost as usage_cost
from services.schemas import ChatResult, Metrics, ToolCall
from services.tool_turns import NOT_RUN_RESULT, PendingCall, pending_calls, tool_message, with_call_ids

PaneStatus = Literal["waiting", "streaming", "done", "stopped", "error"]
FINISHED: frozenset[str] = frozenset({"done", "stopped", "error"})
TIE = "tie"
ALL_BAD = "all-bad"
BLIND_LABELS = ("Model A", "Model B", "Model C", "Model D")
MAX_PANES = 4


@dataclass(frozen=True)
class PaneSnapshot:
    """A consistent copy of one pane's buffer, safe to read from any thread."""

    pane_id: str
    deployment: str
    status: PaneStatus
    text: str
    updates: tuple[float, ...]  # time.monotonic() of every delta that carried content
    started_at: float | None
    finished_at: float | None
    result: ChatResult | None
    error: Exception | None

    @property
    def finished(self) -> bool:
        """True once the pane has stopped for good (done, stopped or failed)."""
        return self.status in FINISHED


# --- the conversation ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolResult:
    """The result given to one tool call of a reply: the call's id and the content sent as the tool message."""

    call_id: str
    content: str


@dataclass
class PaneReply:
    """One pane's answer in a finished turn, with what it was asked with."""

    pane_id: str
    deployment: str
    text: str
    status: PaneStatus
    tool_calls: list[ToolCall] = field(default_factory=list)
    error: Exception | None = None
    metrics: Metrics | None = None
    cost: float | None = None
    system_prompt: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    model: str | None = None  # the model that answered, as the endpoint named it (hidden while blind)
    tool_results: list[ToolResult] = field(default_factory=list)  # the answers to `tool_calls`, in order given

    @property
    def failed(self) -> bool:
        """True for a request that failed before any answer: its prompt is left out of the pane's later history."""
        return self.error is not None and not self.text and not self.tool_calls


@dataclass
class Turn:
    """One prompt sent to every pane, the replies, and the vote (a pane id, TIE, ALL_BAD or None)."""

    prompt: str
    replies: dict[str, PaneReply] = field(default_factory=dict)
    vote: str | None = None
    # Pane id -> the replies that continued this turn after tool results, in order (the first reply is in `replies`).
    rounds: dict[str, list[PaneReply]] = field(default_factory=dict)

    def chain(self, pane_id: str) -> list[PaneReply]:
        """A pane's replies in this turn: the first answer, then each answer given after tool results."""
        first = self.replies.get(pane_id)
        return [] if first is None else [first, *self.rounds.get(pane_id, [])]


def reply_from_snapshot(
    snap: PaneSnapshot,
    deployment: Deployment | None,
    *,
    system_prompt: str = "",
    params: Mapping[str, Any] | None = None,
) -> PaneReply:
    """Freeze a finished pane into a reply, priced with the deployment's rates (no cost when it is gone)."""
    result = snap.result
    metrics = result.metrics if result is not None else None
    usage = (result.usage or result.metrics.usage) if result is not None else None
    return PaneReply(
        pane_id=snap.pane_id,
        deployment=snap.deployment,
        text=snap.text or (result.content if result is not None else ""),
        status=snap.status if snap.finished else "stopped",
        tool_calls=list(result.tool_calls) if result is not None else [],
        error=snap.error,
        metrics=metrics,
        cost=usage_cost(usage, deployment) if usage is not None and deployment is not None else None,
        system_prompt=system_prompt,
        params=dict(params or {}),
        model=result.model if result is not None else None,
    )


def api_tool_calls(reply: PaneReply) -> list[dict[str, Any]]:
    """A reply's tool calls as the API takes them back, each with an id (`call_<n>` for one that came without)."""
    return with_call_ids(call.model_dump() for call in reply.tool_calls)


def _reply_messages(reply: PaneReply) -> list[dict[str, Any]]:
    """One reply as history: the assistant message (with its `tool_calls`), then a tool message per result."""
    if not reply.tool_calls:
        return [{"role": "assistant", "content": reply.text}] if reply.text else []
    calls = api_tool_calls(reply)
    ids = {call["id"] for call in calls}
    results = [tool_message(r.call_id, r.content) for r in reply.tool_results if r.call_id in ids]
    return [{"role": "assistant", "content": reply.text or None, "tool_calls": calls}, *results]


def pane_history(turns: Iterable[Turn], pane_id: str, system_prompt: str) -> list[dict[str, Any]]:
    """One pane's conversation as API messages: its prompts, only its own replies, their tool calls and results.

    A turn this pane failed (PaneReply.failed) is left out: resending a blocked prompt would fail every later turn,
    and an unanswered one would put two user messages in a row. A failed answer after tool results is left out
    too (the results stay: a user message may follow them)."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": system_prompt}] if system_prompt.strip() else []
    for turn in turns:
        chain = turn.chain(pane_id)
        if not chain or chain[0].failed:
            continue
        messages.append({"role": "user", "content": turn.prompt})
        for reply in chain:
            if not reply.failed:
                messages += _reply_messages(reply)
    return messages


def pane_messages(turns: Iterable[Turn], pane_id: str, system_prompt: str, prompt: str) -> list[dict[str, Any]]:
    """The messages one pane sends next: its own history (see pane_history) plus the new prompt."""
    return [*pane_history(turns, pane_id, system_prompt), {"role": "user", "content": prompt}]


def waiting_calls(turns: Sequence[Turn], pane_id: str) -> list[PendingCall]:
    """The tool calls of the pane's last answer in the last turn that wait for a result (none while it failed)."""
    chain = turns[-1].chain(pane_id) if turns else []
    if not chain or chain[-1].failed:
        return []
    return pending_calls(pane_history(turns[-1:], pane_id, ""))


def answer_calls(turns: Sequence[Turn], pane_id: str, results: Mapping[str, str]) -> int:
    """Record results (call id -> content) for the pane's waiting calls; returns how many were recorded."""
    waiting = {call.id for call in waiting_calls(turns, pane_id)}
    given = [ToolResult(call_id, content) for call_id, content in results.items() if call_id in waiting]
    if given:
        turns[-1].chain(pane_id)[-1].tool_results.extend(given)
    return len(given)


def decline_waiting(turns: Sequence[Turn], pane_id: str) -> int:
    """Answer the pane's waiting calls NOT_RUN_RESULT (a new prompt was typed over them); returns how many."""
    return answer_calls(turns, pane_id, {call.id: NOT_RUN_RESULT for call in waiting_calls(turns, pane_id)})


# --- metrics ------------------------------------------------------------------------------------------------------

Better = Literal["lower", "higher"]
METRIC_COLUMNS: dict[str, Better | None] = {
    "TTFT (s)": "lower",
    "Total (s)": "lower",
    "Tokens/s": "higher",
    "Tokens in": None,
    "Tokens out": None,
    "Finish": None,
    "Cost ($)": "lower",
}


@dataclass(frozen=True)
class MetricsRow:
    """One pane's metrics for the last turn or summed over the conversation."""

    pane_id: str
    values: dict[str, float | int | str | None]


def _turn_values(reply: PaneReply | None) -> dict[str, float | int | str | None]:
    values: dict[str, float | int | str | None] = dict.fromkeys(METRIC_COLUMNS)
    if reply is None:
        return values
    metrics = reply.metrics
    if metrics is not None:
        values["TTFT (s)"] = metrics.ttft_s
        values["Total (s)"] = metrics.total_s
        values["Tokens/s"] = metrics.tokens_per_s
        if metrics.usage is not None:
            values["Tokens in"] = metrics.usage.prompt_tokens
            values["Tokens out"] = metrics.usage.completion_tokens
    if reply.status in {"error", "stopped"}:
        values["Finish"] = reply.status
    elif metrics is not None:
        values["Finish"] = metrics.finish_reason
    values["Cost ($)"] = reply.cost
    return values


def _chain_values(chain: Sequence[PaneReply]) -> dict[str, float | int | str | None]:
    """A pane's metrics for one turn over its tool rounds: the first token of the first answer, time, tokens and
    cost summed, the last answer's finish."""
    if len(chain) <= 1:
        return _turn_values(chain[0] if chain else None)
    steps = [_turn_values(reply) for reply in chain]
    values = dict(steps[-1])
    values["TTFT (s)"] = steps[0]["TTFT (s)"]
    for column in ("Total (s)", "Tokens in", "Tokens out", "Cost ($)"):
        numbers = [v[column] for v in steps if isinstance(v[column], float | int)]
        values[column] = sum(numbers) if numbers else None  # type: ignore[arg-type]
    total, out = values["Total (s)"], values["Tokens out"]
    values["Tokens/s"] = out / total if isinstance(total, float | int) and isinstance(out, int) and total > 0 else None
    return values


def last_turn_rows(turns: Sequence[Turn], pane_ids: Sequence[str]) -> list[MetricsRow]:
    """Per pane, the metrics of the last finished turn (empty values for a pane that did not answer)."""
    last = turns[-1] if turns else None
    return [MetricsRow(pid, _chain_values(last.chain(pid) if last else [])) for pid in pane_ids]


def conversation_rows(turns: Sequence[Turn], pane_ids: Sequence[str]) -> list[MetricsRow]:
    """Per pane, the metrics summed over the conversation (TTFT is the mean; tokens/s is tokens out over time)."""
    rows = []
    for pid in pane_ids:
        per_turn = [_chain_values(t.chain(pid)) for t in turns if t.replies.get(pid) is not None]
        values: dict[str, float | int | str | None] = dict.fromkeys(METRIC_COLUMNS)
        ttfts = [v["TTFT (s)"] for v in per_turn if isinstance(v["TTFT (s)"], float | int)]
        values["TTFT (s)"] = sum(ttfts) / len(ttfts) if ttfts else None
        for column in ("Total (s)", "Tokens in", "Tokens out", "Cost ($)"):
            numbers = [v[column] for v in per_turn if isinstance(v[column], float | int)]
            values[column] = sum(numbers) if numbers else None  # type: ignore[arg-type]
        total, out = values["Total (s)"], values["Tokens out"]
        if isinstance(total, float | int) and isinstance(out, int) and total > 0:
            values["Tokens/s"] = out / total
        finishes = Counter(str(v["Finish"]) for v in per_turn if v["Finish"] is not None)
        values["Finish"] = ", ".join(f"{name}×{n}" for name, n in finishes.most_common()) or None
        rows.append(MetricsRow(pid, values))
    return rows


def best_panes(rows: Sequence[MetricsRow]) -> dict[str, set[str]]:
    """For each column with a direction, the pane ids holding the best value (ties all count; needs two values)."""
    best: dict[str, set[str]] = {}
    for column, better in METRIC_COLUMNS.items():
        if better is None:
            continue
        numbers = {r.pane_id: r.values[column] for r in rows if isinstance(r.values[column], float | int)}
        if len(numbers) < 2:
            continue
        target = min(numbers.values()) if better == "lower" else max(numbers.values())  # type: ignore[type-var]
        best[column] = {pid for pid, value in numbers.items() if value == target}
    return best


# --- blind mode ---------------------------------------------------------------------------------------------------


def blind_labels(pane_ids: Sequence[str], seed: int, *, turn: int = 0) -> dict[str, str]:
    """Shuffled "Model A/B/C/D" labels, so neither the order nor the label gives a deployment away.

    With `turn` > 0 (the shuffle per turn), each turn deals the labels afresh from the same seed: a pane keeps no
    label, and so no position, from one turn to the next, while any turn's labels can be worked out again."""
    order = list(pane_ids)
    random.Random(seed if turn <= 0 else f"{seed}/{turn}").shuffle(order)
    return {pid: BLIND_LABELS[i] for i, pid in enumerate(order)}


def vote_tally(turns: Iterable[Turn]) -> Counter[str]:
    """Votes per deployment name, plus TIE and ALL_BAD, over the given turns."""
    tally: Counter[str] = Counter()
    for turn in turns:
        if turn.vote in (TIE, ALL_BAD):
            tally[turn.vote] += 1
        elif turn.vote is not None and turn.vote in turn.replies:
            tally[turn.replies[turn.vote].deployment] += 1
    return tally
