"""What the user can do with an opened trace: "Open in chat", "Open in compare", and its request as code."""

from __future__ import annotations

from typing import Any

import streamlit as st

from app.components import code_view
from app.components.compare_handoff import open_in_chat, open_in_compare
from app.components.trace_conversation import Conversation, compare_turns, conversation_of, final_chat_spans
from app.components.trace_errors import loads
from app.state import all_deployments
from services.compare_model import MAX_PANES, Turn
from services.safe_markdown import code_span

_PICK = "traces_answer_pick"


def _notice(conversation: Conversation, where: str) -> str:
    notice = f"Opened from trace {code_span(conversation.trace_id)}{where}."
    if conversation.deployment not in all_deployments():
        # The name comes from the store: shown as code, never as markdown.
        notice += f" It was held with {code_span(conversation.deployment)}, which is not configured here."
    if conversation.dropped_images:
        notice += (
            f" {conversation.dropped_images} attached image(s) were recorded as a size and hash only "
            "(PLAYGROUND_TRACE_IMAGES=hash) and are left out."
        )
    return notice


def _to_chat(conversation: Conversation) -> None:
    open_in_chat(
        conversation.entries,
        conversation.deployment,
        conversation.system_prompt,
        conversation.params,
        _notice(conversation, ""),
    )


def _to_compare(conversations: list[tuple[Conversation, float | None]]) -> None:
    chosen = conversations[:MAX_PANES]

    def build(uids: list[str]) -> list[Turn]:
        return compare_turns([(uid, conv, cost) for uid, (conv, cost) in zip(uids, chosen, strict=False)])

    panes = [(conv.deployment, conv.system_prompt, conv.params) for conv, _ in chosen]
    open_in_compare(panes, build, _notice(chosen[0][0], f" with {len(chosen)} pane{'s' if len(chosen) > 1 else ''}"))


def render_actions(spans: list[dict[str, Any]]) -> None:
    """The buttons (for the trace's chat calls whose messages were recorded) and the code of the chosen request."""
    answers = final_chat_spans(spans)
    conversations = [(span, conversation_of(span, spans)) for span in answers]
    usable = [(span, conv) for span, conv in conversations if conv is not None]
    if not answers:
        st.caption("This trace has no chat call: nothing to open in the chat or compare page.")
        return
    if not usable:
        st.caption(
            "The messages of this trace were not recorded (PLAYGROUND_TRACE_CONTENT=false): only its timings and "
            "usage are kept, so it cannot be opened in the chat or compare page."
        )
        return
    index = 0
    if len(usable) > 1:
        index = st.selectbox(
            "Answer",
            range(len(usable)),
            format_func=lambda i: f"{i + 1}. {usable[i][1].deployment}",
            key=_PICK,
            help="The call that Open in chat and the code below use.",
        )
    span, conversation = usable[index]
    row = st.container(horizontal=True, gap="small")
    row.button(
        "Open in chat",
        key="traces_open_chat",
        icon=":material/chat:",
        on_click=_to_chat,
        args=(conversation,),
        help="The conversation (system prompt and messages), its parameters and deployment, on the chat page.",
    )
    row.button(
        "Open in compare",
        key="traces_open_compare",
        icon=":material/compare_arrows:",
        on_click=_to_compare,
        args=([(conv, s.get("cost")) for s, conv in usable],),
        help="One pane per deployment of this trace, with its conversation and answers.",
    )
    with st.expander("Copy as code"):
        _render_code(span, conversation)


def _render_code(span: dict[str, Any], conversation: Conversation) -> None:
    deployment = all_deployments().get(conversation.deployment)
    if deployment is None:
        st.caption(
            f"{code_span(conversation.deployment)} is not configured here, so its endpoint and kind are unknown: "
            "no code can be written for it."
        )
        return
    if span.get("operation") == "text_completion":
        st.caption(
            "This call was a text completion (`/completions`): the code here writes chat requests only. Open it in "
            "chat to continue it as a conversation."
        )
        return
    request = loads(span.get("request")) or {}
    code_view.render_code_view(deployment, request.get("messages") or [], conversation.params)
