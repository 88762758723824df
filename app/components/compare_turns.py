"""Starting the compare page's requests: a shared prompt, one pane's retry, the panes' answers to tool results, and
moving a finished run into the conversation. Every request's messages are checked before they are sent (a tool call
cut off by Stop goes with `{}` for its partial arguments)."""

from __future__ import annotations

from typing import Any

from app.components.compare_state import ActiveTurn, CompareState
from app.state import get_client
from services import tracing
from services.compare_model import Turn, decline_waiting, pane_history, pane_messages, reply_from_snapshot
from services.compare_run import CompareRun, PaneJob
from services.config import Deployment
from services.tool_turns import mend_cut_calls, sequence_problems

Asked = dict[str, tuple[str, dict[str, Any]]]  # pane uid -> (system prompt, params)
STOP_WAIT_S = 3.0


def harvest(state: CompareState, deployments: dict[str, Deployment]) -> None:
    """Move a finished (or stopped) run from the buffers into the conversation, once."""
    active = state.active
    if active is None or not active.run.done:
        return
    turn = state.turns[active.index]
    for pane_id, snap in active.run.snapshots().items():
        system, params = active.asked[pane_id]
        deployment = deployments.get(snap.deployment)  # None when it was removed from the sidebar meanwhile
        reply = reply_from_snapshot(snap, deployment, system_prompt=system, params=params)
        if active.continuing:
            turn.rounds.setdefault(pane_id, []).append(reply)
        else:
            turn.replies[pane_id] = reply
    state.active = None


def stop(state: CompareState) -> None:
    """Stop the running request(s) and wait briefly, so the partial text is harvested at once."""
    if state.active is not None:
        state.active.run.stop()
        state.active.run.wait(STOP_WAIT_S)


def _checked(state: CompareState, label: str, messages: list[dict[str, Any]]) -> bool:
    """True when the API accepts `messages`; else the page says why this pane sent nothing."""
    problems = sequence_problems(messages)
    if problems:
        state.notice = f"Nothing was sent to {label}: {problems[0].text}."
    return not problems


def start_turn(state: CompareState, prompt: str, asked: Asked, deps: dict[str, Deployment]) -> None:
    """Send `prompt` to every pane; tool calls still waiting for results are answered "not run" first."""
    declined = sum(decline_waiting(state.turns, pane.uid) for pane in state.panes)
    labels = state.labels()
    jobs = []
    for pane in state.panes:
        deployment = deps.get(pane.deployment)
        if deployment is None:
            continue
        system, params = asked[pane.uid]
        messages = mend_cut_calls(pane_messages(state.turns, pane.uid, system, prompt))
        if _checked(state, labels[pane.uid], messages):
            jobs.append(PaneJob(pane.uid, deployment, get_client(deployment), messages, params))
    if declined:
        calls = "call was" if declined == 1 else "calls were"
        said = f"{declined} tool {calls} answered “not run”, as a prompt was sent instead of their results."
        state.notice = f"{state.notice} {said}" if state.notice else said
    if not jobs:
        state.notice = state.notice or "No pane has a configured deployment: nothing was sent."
        return
    state.turns.append(Turn(prompt))
    with tracing.action("compare run"):  # every pane's call is one span of the run's trace
        run = CompareRun(jobs).start()
    state.active = ActiveTurn(len(state.turns) - 1, run, {job.pane_id: asked[job.pane_id] for job in jobs})


def retry_pane(state: CompareState, pane_uid: str, asked: Asked, deps: dict[str, Deployment]) -> None:
    """Send one pane's failed last request again (the turn's prompt, or its tool results); other panes' replies
    stay."""
    pane = state.pane(pane_uid)
    deployment = deps.get(pane.deployment) if pane is not None else None
    if not state.turns or deployment is None or pane_uid not in asked:
        return
    turn = state.turns[-1]
    system, params = asked[pane_uid]
    rounds = turn.rounds.get(pane_uid)
    continuing = bool(rounds) and rounds[-1].failed  # type: ignore[index]
    if continuing:
        rounds.pop()  # type: ignore[union-attr]
        messages = mend_cut_calls(pane_history(state.turns, pane_uid, system))
    else:
        messages = mend_cut_calls(pane_messages(state.turns[:-1], pane_uid, system, turn.prompt))
        turn.replies.pop(pane_uid, None)
        turn.rounds.pop(pane_uid, None)
    if not _checked(state, state.labels()[pane_uid], messages):
        return
    with tracing.action("compare retry"):
        run = CompareRun([PaneJob(pane_uid, deployment, get_client(deployment), messages, params)]).start()
    state.active = ActiveTurn(len(state.turns) - 1, run, {pane_uid: asked[pane_uid]}, continuing=continuing)


def continue_panes(state: CompareState, asked: Asked, deps: dict[str, Deployment]) -> bool:
    """Send the panes whose tool results were given (state.continue_panes) their history, so each model goes on
    from its results; True when a request started."""
    uids, state.continue_panes = state.continue_panes, set()
    if not state.turns or state.running:
        return False
    labels = state.labels()
    jobs = []
    for pane in state.panes:
        deployment = deps.get(pane.deployment)
        if pane.uid not in uids or deployment is None or pane.uid not in asked:
            continue
        system, params = asked[pane.uid]
        messages = mend_cut_calls(pane_history(state.turns, pane.uid, system))
        if _checked(state, labels[pane.uid], messages):
            jobs.append(PaneJob(pane.uid, deployment, get_client(deployment), messages, params))
    if not jobs:
        return False
    with tracing.action("compare tool results"):
        run = CompareRun(jobs).start()
    asked_now = {job.pane_id: asked[job.pane_id] for job in jobs}
    state.active = ActiveTurn(len(state.turns) - 1, run, asked_now, continuing=True)
    return True
