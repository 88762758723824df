"""A prompt's rendered messages handed on: "Open in chat" continues them as a conversation on the chat page, "Open in
compare" runs them on several deployments side by side (both through app.components.compare_handoff)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from app import chat_state, state
from app.chat_state import ChatEntry
from app.components.compare_handoff import open_in_chat, open_in_compare
from app.components.compare_state import ActiveTurn, compare_state
from app.components.prompt_draft import PERSIST
from app.components.prompt_run import last_run, sendable
from services import tracing
from services.compare_model import MAX_PANES, PaneReply, Turn
from services.compare_run import CompareRun, PaneJob
from services.http import CHAT_PARAMS
from services.safe_markdown import code_span
from services.transcript import ChatTurn

COMPARE_KEY = "prompts.in.compare"
PAGE = "prompts"


def split_system(rendered: list[dict[str, str]]) -> tuple[str, list[dict[str, str]]]:
    """The system messages joined as the chat page's one system prompt, and the other messages in order."""
    system = "\n\n".join(m["content"] for m in rendered if m["role"] == "system")
    return system, [m for m in rendered if m["role"] != "system"]


def _notice(name: str, params: dict[str, Any]) -> str:
    notice = f"Opened from the prompt {code_span(name or 'untitled')}."
    # The chat and compare panels have controls for the API's parameters (and tools); other ones are not carried.
    dropped = [p for p in params if p not in CHAT_PARAMS]
    if dropped:
        notice += " Not carried over (no control for them here): " + ", ".join(code_span(p) for p in dropped) + "."
    return notice


def _to_chat(rendered: list[dict[str, str]], deployment: str, params: dict[str, Any], name: str) -> None:
    system, rest = split_system(rendered)
    entries = [ChatEntry(turn=ChatTurn(role=m["role"], content=m["content"])) for m in rest]  # type: ignore[arg-type]
    run = last_run()
    answer = run.entry if run is not None and run.messages == rendered and run.deployment == deployment else None
    if answer is not None and not answer.failed_empty:
        entries.append(answer)
    open_in_chat(entries, deployment, system, params, _notice(name, params))
    if entries and entries[-1].turn.role == "user":
        chat_state.request_generation()  # no answer yet: the chat page answers on arrival


def _history_turns(history: list[dict[str, str]], panes: list[tuple[str, str]], system: str) -> list[Turn]:
    """The compare page's earlier turns for a prompt's few-shot messages: each user message with the assistant message
    after it as every pane's reply."""
    turns: list[Turn] = []
    index = 0
    while index < len(history):
        message = history[index]
        if message["role"] == "user":
            turn = Turn(message["content"])
            following = history[index + 1] if index + 1 < len(history) else None
            if following is not None and following["role"] == "assistant":
                for uid, deployment in panes:
                    turn.replies[uid] = PaneReply(uid, deployment, following["content"], "done", system_prompt=system)
                index += 1
            turns.append(turn)
        index += 1
    return turns


def _to_compare(rendered: list[dict[str, str]], names: list[str], params: dict[str, Any], name: str) -> None:
    system, rest = split_system(rendered)
    if not names or not rest or rest[-1]["role"] != "user":
        return
    chosen = names[:MAX_PANES]

    def build(uids: list[str]) -> list[Turn]:
        return _history_turns(rest[:-1], list(zip(uids, chosen, strict=False)), system)

    open_in_compare([(deployment, system, params) for deployment in chosen], build, _notice(name, params))
    # Then the prompt's last message is sent to every pane, as the compare page's own input would.
    compare = compare_state()
    deployments = state.all_deployments()
    jobs: list[PaneJob] = []
    asked: dict[str, tuple[str, dict[str, Any]]] = {}
    for pane in compare.panes:
        deployment = deployments.get(pane.deployment)
        if deployment is None:
            continue
        sent, _ = sendable(params, state.unsupported_params(deployment.name))
        jobs.append(PaneJob(pane.uid, deployment, state.get_client(deployment), rendered, sent))
        asked[pane.uid] = (system, sent)
    if not jobs:
        return
    compare.turns.append(Turn(rest[-1]["content"]))
    with tracing.action("compare run", page=PAGE):  # every pane's call is one span of the run's trace
        run = CompareRun(jobs).start()
    compare.active = ActiveTurn(len(compare.turns) - 1, run, asked)


def render_handoff(
    rendered: list[dict[str, str]] | None, deployment: str | None, params: dict[str, Any], name: str
) -> None:
    """The two buttons, with the deployments to compare on; `params` are the prompt's own (each page leaves out what
    a deployment refused)."""
    disabled = rendered is None or deployment is None
    row = st.container(horizontal=True, vertical_alignment="bottom", gap="small")
    row.button(
        "Open in chat",
        key="prompts.open_chat",
        icon=":material/chat:",
        on_click=_to_chat,
        args=(rendered, deployment, params, name),
        disabled=disabled,
        help="The rendered messages (and the answer, if this run has one) as a conversation on the chat page.",
    )
    names = list(state.all_deployments())
    rest = split_system(rendered)[1] if rendered is not None else []
    ends_with_user = bool(rest) and rest[-1]["role"] == "user"
    if deployment in names and COMPARE_KEY not in st.session_state:
        st.session_state[COMPARE_KEY] = [deployment]
    st.session_state[COMPARE_KEY] = [n for n in st.session_state.get(COMPARE_KEY, []) if n in names]
    picked = row.multiselect(
        "Compare on",
        names,
        key=COMPARE_KEY,
        max_selections=MAX_PANES,
        placeholder="deployments",
        persist_state=PERSIST,
    )
    row.button(
        "Open in compare",
        key="prompts.open_compare",
        icon=":material/compare_arrows:",
        on_click=_to_compare,
        args=(rendered, picked, params, name),
        disabled=disabled or not picked or not ends_with_user,
        help="Runs the prompt on each deployment picked, side by side (its last message must be a user message).",
    )
