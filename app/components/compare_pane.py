"""One compare pane: deployment, sync switch, own settings, history, and the placeholder a live turn streams into."""

from __future__ import annotations

import functools
from collections.abc import Callable

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from app.chat_params import ParamValues
from app.components.compare_handoff import prepare_handoff
from app.components.compare_params import copy_settings, not_sent, settings_inputs
from app.components.compare_state import CompareState, PaneConfig, sync_query_params
from app.components.error_card import render_error, render_filtered_answer
from app.components.metrics_strip import render_metrics
from app.components.safe_markdown import render_untrusted
from app.state import mark_unsupported, unsupported_params
from services.compare_model import PaneReply
from services.config import Deployment
from services.errors import InferenceError
from services.safe_markdown import code_span
from services.transcript import FAILED_MARK

SHARED = "compare.shared"


def pane_prefix(uid: str) -> str:
    """The session_state prefix of a pane's own settings widgets."""
    return f"compare.{uid}"


def _on_deployment_change(state: CompareState, uid: str) -> None:
    pane = state.pane(uid)
    if pane is not None:
        pane.deployment = st.session_state[f"{pane_prefix(uid)}.deployment"]
        sync_query_params(state)


def _on_sync_change(state: CompareState, uid: str) -> None:
    pane = state.pane(uid)
    if pane is None:
        return
    pane.sync = bool(st.session_state[f"{pane_prefix(uid)}.sync"])
    if not pane.sync:
        copy_settings(SHARED, pane_prefix(uid))


def _on_remove(state: CompareState, uid: str) -> None:
    state.remove_pane(uid)
    sync_query_params(state)


def masked_error(err: Exception, deployment: str, label: str | None) -> Exception:
    """While blind, the same error with the deployment's name replaced by the pane's label."""
    if label is None or not isinstance(err, InferenceError):
        return err
    # Not copy.copy: it calls the constructor again, which fails for errors with keyword-only fields (route, host).
    masked = type(err).__new__(type(err))
    masked.__dict__.update(err.__dict__)
    masked.deployment = label
    masked.message = err.message.replace(deployment, label)
    masked.args = (str(masked),)
    return masked


def render_reply(
    reply: PaneReply,
    deployments: dict[str, Deployment],
    *,
    key: str,
    blind_label: str | None = None,
    on_retry: Callable[[], None] | None = None,
) -> None:
    """A finished answer: text (as JSON code in JSON mode), tool calls, stop note, error card and metrics.

    With `blind_label`, the deployment's name is shown nowhere (errors name the label instead). `on_retry` offers
    Retry on the error card (the pane's last turn, when it failed)."""
    json_mode = str((reply.params.get("response_format") or {}).get("type", "")).startswith("json")
    with st.chat_message("assistant"):
        if reply.text:
            if json_mode:
                st.code(reply.text, language="json")
            else:
                render_untrusted(reply.text)
        for call in reply.tool_calls:
            st.caption(f"tool call {code_span(call.function.name)}")
            st.code(call.function.arguments or "{}", language="json")
        if reply.status == "stopped":
            partial = reply.text or reply.tool_calls
            st.caption("stopped: the text above is what arrived" if partial else "stopped before the first token")
        if reply.error is not None:
            render_error(
                masked_error(reply.error, reply.deployment, blind_label),
                key=key,
                # Marking the parameter only changes the next turn: clicking here sends nothing.
                # A refused value is not a missing feature: only unsupported parameters are remembered.
                on_retry_without=None
                if getattr(reply.error, "invalid_value", False)
                else lambda param: mark_unsupported(reply.deployment, param, "rejected with 422"),
                on_retry=on_retry,
            )
        if reply.metrics is not None and reply.metrics.finish_reason == "content_filter":
            render_filtered_answer(None, key=key)
        deployment = deployments.get(reply.deployment)
        if reply.metrics is not None and deployment is not None:
            render_metrics(reply.metrics, deployment)
        if blind_label is None:
            st.caption(f"from {reply.deployment}")


def not_sent_caption(deployment: str, values: ParamValues, *, blind_label: str | None = None) -> str | None:
    """ "not sent here: tools (rejected with 422)": the settings in force this deployment does not support."""
    left_out = not_sent(values, unsupported_params(deployment))
    if not left_out:
        return None
    text = "not sent here: " + ", ".join(f"{name} ({reason})" for name, reason in left_out.items())
    # A probe's reason names the deployment: while blind, the pane's label stands in for it.
    return text.replace(deployment, blind_label) if blind_label else text


def render_pane(
    state: CompareState,
    pane: PaneConfig,
    label: str,
    deployments: dict[str, Deployment],
    *,
    baseline: bool,
    shared: tuple[str, ParamValues],
) -> tuple[DeltaGenerator | None, tuple[str, ParamValues]]:
    """Draw one pane; return the placeholder for the streaming turn (if one is running) and the pane's settings
    (the shared ones, or its own when unsynced)."""
    blind = state.blind and not state.revealed
    prefix = pane_prefix(pane.uid)
    with st.container(border=True, key=f"compare_pane_{pane.uid}"):
        head = st.columns([5, 1], vertical_alignment="center")
        head[0].markdown(f"**{label}**" + (" · baseline" if baseline and not blind else ""))
        if len(state.panes) > 1:
            head[1].button(
                "✕",
                key=f"{prefix}.remove",
                help="Remove this pane",
                disabled=state.running,
                on_click=_on_remove,
                args=(state, pane.uid),
            )
        if not blind:
            names = list(deployments)
            if pane.deployment not in names:
                names.insert(0, pane.deployment)
                st.warning(f"Deployment `{pane.deployment}` is not configured any more.")
            st.session_state[f"{prefix}.deployment"] = pane.deployment
            st.selectbox(
                "Deployment",
                names,
                key=f"{prefix}.deployment",
                disabled=state.running,
                on_change=_on_deployment_change,
                args=(state, pane.uid),
            )
        st.session_state[f"{prefix}.sync"] = pane.sync
        st.toggle(
            "Sync settings",
            key=f"{prefix}.sync",
            help="On: this pane uses the shared system prompt and parameters. Off: its own.",
            on_change=_on_sync_change,
            args=(state, pane.uid),
        )
        settings = shared
        if not pane.sync:
            with st.expander("Settings for this pane", expanded=False):
                settings = settings_inputs(prefix)
        caption = not_sent_caption(pane.deployment, settings[1], blind_label=label if blind else None)
        if caption is not None:
            st.caption(f":orange[{caption}]")
        placeholder = None
        active_index = state.active.index if state.active is not None else None
        for index, turn in enumerate(state.turns):
            with st.chat_message("user"):
                render_untrusted(turn.prompt)
                if pane.uid in turn.replies and turn.replies[pane.uid].failed:
                    st.caption(f":orange[{FAILED_MARK}]")
            if index == active_index and pane.uid in state.active.asked:  # type: ignore[union-attr]
                with st.container(key=f"compare_live_{pane.uid}"):
                    placeholder = st.empty()
                    placeholder.caption("waiting for the first token…")
            elif pane.uid in turn.replies:
                reply = turn.replies[pane.uid]
                last_failed = reply.failed and index == len(state.turns) - 1 and not state.running
                render_reply(
                    reply,
                    deployments,
                    key=f"{pane.uid}_{index}",
                    blind_label=label if blind else None,
                    # Sends this turn's prompt again to this pane alone, with its current settings.
                    on_retry=functools.partial(state.request_retry, pane.uid) if last_failed else None,
                )
            elif index != active_index:
                st.caption("this pane was not part of this turn")
        _continue_button(state, pane.uid)
        return placeholder, settings


def _continue_button(state: CompareState, uid: str) -> None:
    """ "Continue with this one": the pane's conversation goes to the chat page."""
    replies = [t.replies[uid] for t in state.turns if uid in t.replies]
    if not replies or state.running:
        return
    last = replies[-1]
    st.button(
        "Continue with this one",
        key=f"compare.{uid}.continue",
        icon=":material/chat:",
        help="Open this pane's conversation on the chat page",
        on_click=prepare_handoff,
        args=(state.turns, uid, last.deployment, last.system_prompt, last.params),
    )
