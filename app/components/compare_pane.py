"""One compare pane: deployment, sync switch, own settings, history, and the placeholder a live turn streams into."""

from __future__ import annotations

import functools
import html
from collections.abc import Callable, Mapping

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from app.chat_params import ParamValues
from app.components.compare_handoff import prepare_handoff
from app.components.compare_params import SHARED, copy_settings, not_sent, pane_prefix, settings_inputs
from app.components.compare_state import CompareState, PaneConfig
from app.components.compare_tools import render_tool_results, render_waiting
from app.components.error_card import render_error, render_filtered_answer
from app.components.metrics_strip import render_metrics
from app.components.safe_markdown import render_untrusted
from app.state import get_info, mark_unsupported, unsupported_params
from services.blind_mask import HIDDEN_NAME, BlindMask, blind_mask, model_family
from services.compare_model import PaneReply
from services.config import Deployment
from services.safe_markdown import code_span
from services.schemas import ModelInfo
from services.tool_turns import arguments_complete
from services.transcript import FAILED_MARK

__all__ = [
    "SHARED",
    "blind_mask_for",
    "label_html",
    "pane_prefix",
    "pane_style",
    "render_pane",
    "render_pane_controls",
    "render_reply",
]

REMOVED = "removed pane"
BLIND_CONTINUE = "Reveal names first: the chat page shows which deployment it continues with."
# A pane's label stays on one line, cut with an ellipsis (the whole label in its tooltip), never inside a word.
_PANE_CSS = """<style>
.compare-pane-label{display:flex;align-items:baseline;min-width:0;max-width:100%;white-space:nowrap;
  overflow-wrap:normal;word-break:normal;line-height:1.6}
.compare-pane-label strong{overflow:hidden;text-overflow:ellipsis;min-width:0}
.compare-pane-label .compare-pane-note{flex:none;opacity:.7;padding-left:.3em}
[data-testid="stElementContainer"]:has(.compare-url-script){display:none}
[class*="st-key-compare_head_"] [data-testid="stElementContainer"]:has(.compare-pane-label){flex:1 1 0;min-width:0}
[class*="st-key-compare_head_"] button{min-height:2rem;padding:0 .4rem}
</style>"""


def pane_style() -> None:
    """The panes' CSS (once per run; a style-only st.html takes no room on the page)."""
    st.html(_PANE_CSS)


def label_html(label: str, note: str = "") -> str:
    """A pane's label on one line, its full text as the tooltip (while blind the label is only "Model A")."""
    text = html.escape(label)
    extra = f'<span class="compare-pane-note">· {html.escape(note)}</span>' if note else ""
    return f'<div class="compare-pane-label"><strong title="{text}">{text}</strong>{extra}</div>'


def _identity_of(name: str, deployment: Deployment | None) -> tuple[list[str | None], str | None]:
    """What names a deployment (its own name, the model it is configured for, the model its /info reports) and the
    maker its /info names (None when it has none, or was never asked)."""
    if deployment is None:
        return [name], None
    info = get_info(deployment)
    if not isinstance(info, ModelInfo):
        return [name, deployment.model, None], None
    return [name, deployment.model, info.model_name], info.model_provider_name


def blind_mask_for(state: CompareState, deployments: Mapping[str, Deployment]) -> BlindMask | None:
    """While blind: every pane's deployment, models and endpoint, each hidden behind its pane's label."""
    if not state.hidden:
        return None
    labels = state.labels()
    words: dict[str, list[str | None]] = {}
    endpoints: list[str | None] = []
    providers: list[str | None] = []
    for pane in state.panes:
        deployment = deployments.get(pane.deployment)
        names, provider = _identity_of(pane.deployment, deployment)
        words.setdefault(labels[pane.uid], []).extend(names)
        endpoints.append(deployment.endpoint if deployment is not None else None)
        providers.append(provider)
    for turn in state.turns:
        for pid in turn.replies:
            for reply in turn.chain(pid):
                words.setdefault(labels.get(pid, REMOVED), []).extend([reply.deployment, reply.model])
    # An answer may name its model by family ("I am Phi") or maker ("made by Microsoft"): hidden in answers only.
    families = [family for names in words.values() for name in names if name for family in model_family(name)]
    return blind_mask(words, endpoints, [*families, *providers])


def _on_deployment_change(state: CompareState, uid: str) -> None:
    pane = state.pane(uid)
    if pane is not None:
        pane.deployment = st.session_state[f"{pane_prefix(uid)}.deployment"]


def _on_sync_change(state: CompareState, uid: str) -> None:
    pane = state.pane(uid)
    if pane is None:
        return
    pane.sync = bool(st.session_state[f"{pane_prefix(uid)}.sync"])
    if not pane.sync:
        copy_settings(SHARED, pane_prefix(uid))


def render_reply(
    reply: PaneReply,
    deployments: dict[str, Deployment],
    *,
    key: str,
    blind_label: str | None = None,
    mask: BlindMask | None = None,
    on_retry: Callable[[], None] | None = None,
) -> None:
    """A finished answer: text (as JSON code in JSON mode), tool calls, stop note, error card and metrics.

    With `blind_label`, the deployment's name is shown nowhere: errors name the label instead, with `mask` hiding
    the models' names and endpoints too. `on_retry` offers Retry on the error card (the pane's last turn, when it
    failed)."""
    json_mode = str((reply.params.get("response_format") or {}).get("type", "")).startswith("json")
    # While blind, names the model gives itself in its answer are hidden too (they come back on reveal).
    answer_mask = (mask or blind_mask({blind_label: [reply.deployment, reply.model]})) if blind_label else None
    shown_answer = answer_mask.answer if answer_mask is not None else str
    with st.chat_message("assistant"):
        text = shown_answer(reply.text)
        if text:
            if json_mode:
                st.code(text, language="json")
            else:
                render_untrusted(text)
        hid_names = text != reply.text
        for call in reply.tool_calls:
            st.caption(f"tool call {code_span(call.function.name)}")
            arguments = call.function.arguments or "{}"
            shown_args = shown_answer(arguments)
            hid_names = hid_names or shown_args != arguments
            st.code(shown_args, language="json")
            if not arguments_complete(call.function.arguments or ""):
                st.caption(":orange[cut off: its arguments stopped arriving, so it cannot be run]")
        if hid_names:
            st.caption(f"{HIDDEN_NAME}: a name that could tell which model this is; shown when names are revealed")
        if reply.status == "stopped":
            partial = reply.text or reply.tool_calls
            st.caption("stopped: the text above is what arrived" if partial else "stopped before the first token")
        if reply.error is not None:
            shown = reply.error
            if blind_label is not None:
                shown = (mask or blind_mask({blind_label: [reply.deployment]})).error(reply.error, blind_label)
            render_error(
                shown,
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


def not_sent_caption(
    deployment: str, values: ParamValues, *, blind_label: str | None = None, mask: BlindMask | None = None
) -> str | None:
    """ "not sent here: tools (rejected with 422)": the settings in force this deployment does not support."""
    left_out = not_sent(values, unsupported_params(deployment))
    if not left_out:
        return None
    text = "not sent here: " + ", ".join(f"{name} ({reason})" for name, reason in left_out.items())
    if blind_label is None:
        return text
    # A probe's reason names the deployment: while blind, the pane's label stands in for it.
    return (mask or blind_mask({blind_label: [deployment]})).text(text)


def _on_remove(state: CompareState, uid: str) -> None:
    state.remove_pane(uid)


def render_pane_controls(
    state: CompareState, pane: PaneConfig, deployments: dict[str, Deployment], shared: tuple[str, ParamValues]
) -> tuple[str, ParamValues]:
    """A pane's deployment picker (not while blind), its sync switch and, unsynced, its own settings; returns the
    settings it is asked with (the shared ones, or its own)."""
    prefix = pane_prefix(pane.uid)
    if not state.hidden:
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
    if pane.sync:
        return shared
    with st.expander("Settings for this pane", expanded=False):
        return settings_inputs(prefix)


def render_pane(
    state: CompareState,
    pane: PaneConfig,
    label: str,
    deployments: dict[str, Deployment],
    *,
    baseline: bool,
    shared: tuple[str, ParamValues],
    mask: BlindMask | None = None,
    controls: tuple[str, ParamValues] | None = None,
) -> tuple[DeltaGenerator | None, tuple[str, ParamValues]]:
    """Draw one pane; return the placeholder for the streaming turn (if one is running) and the pane's settings
    (the shared ones, or its own when unsynced). While blind, `mask` hides names in its errors and captions.

    `controls`: the pane's settings when its picker and switches were drawn elsewhere (on stage, in the folded
    settings); None draws them at the top of the pane."""
    blind = state.hidden
    prefix = pane_prefix(pane.uid)
    with st.container(border=True, key=f"compare_pane_{pane.uid}"):
        head = st.container(horizontal=True, vertical_alignment="center", gap="small", key=f"compare_head_{pane.uid}")
        head.html(label_html(label, "baseline" if baseline and not blind else ""))
        if len(state.panes) > 1:
            head.button(
                "✕",
                key=f"{prefix}.remove",
                help="Remove this pane",
                type="tertiary",
                disabled=state.running,
                on_click=_on_remove,
                args=(state, pane.uid),
            )
        settings = controls if controls is not None else render_pane_controls(state, pane, deployments, shared)
        caption = not_sent_caption(pane.deployment, settings[1], blind_label=label if blind else None, mask=mask)
        if caption is not None:
            st.caption(f":orange[{caption}]")
        placeholder = None
        active_index = state.active.index if state.active is not None else None
        for index, turn in enumerate(state.turns):
            with st.chat_message("user"):
                render_untrusted(turn.prompt)
                if pane.uid in turn.replies and turn.replies[pane.uid].failed:
                    st.caption(f":orange[{FAILED_MARK}]")
            live = index == active_index and pane.uid in state.active.asked  # type: ignore[union-attr]
            chain = turn.chain(pane.uid)
            if live and not state.active.continuing:  # type: ignore[union-attr]
                chain = []  # a retry of the whole turn: its old reply is being replaced
            for step, reply in enumerate(chain):
                last_failed = reply.failed and step == len(chain) - 1 and index == len(state.turns) - 1
                render_reply(
                    reply,
                    deployments,
                    key=f"{pane.uid}_{index}" if step == 0 else f"{pane.uid}_{index}_{step}",
                    blind_label=label if blind else None,
                    mask=mask,
                    # Sends this request again to this pane alone, with its current settings.
                    on_retry=functools.partial(state.request_retry, pane.uid)
                    if last_failed and not state.running
                    else None,
                )
                render_tool_results(reply, hide_ids=blind)
            if live:
                with st.container(key=f"compare_live_{pane.uid}"):
                    placeholder = st.empty()
                    placeholder.caption("waiting for the first token…")
            elif not chain and index != active_index:
                st.caption("this pane was not part of this turn")
        render_waiting(state, pane.uid)
        _continue_button(state, pane.uid)
        return placeholder, settings


def _continue_button(state: CompareState, uid: str) -> None:
    """ "Continue with this one": the pane's conversation goes to the chat page (disabled, saying why, while blind)."""
    replies = [t.replies[uid] for t in state.turns if uid in t.replies]
    if not replies or state.running:
        return
    last = replies[-1]
    # The chat page names its deployment (title, picker, notice): while blind, the names must be revealed first.
    st.button(
        "Continue with this one",
        key=f"compare.{uid}.continue",
        icon=":material/chat:",
        help=BLIND_CONTINUE if state.hidden else "Open this pane's conversation on the chat page",
        disabled=state.hidden,
        on_click=prepare_handoff,
        args=(state.turns, uid, last.deployment, last.system_prompt, last.params),
    )
