"""Compare: one prompt, one to four deployments side by side, all streaming at the same time.

Worker threads (services.compare_run) only write into buffers; this script thread polls them and draws, so nothing is
ever written to the page without a script-run context. A turn starts only from the shared input (or the demo script's
"Next", which queues its prompt for this run) and is handed to the panes through session state, so a click inside a
pane reruns the page without sending anything. In presenter mode the settings fold into one "Settings" panel below
the panes.
"""

from __future__ import annotations

import time
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from app import run_slots
from app.components import demo_script, presenter
from app.components.compare_blind import render_vote
from app.components.compare_handoff import switch_to_chat_if_requested
from app.components.compare_metrics import render_metrics_table
from app.components.compare_pane import (
    REMOVED,
    SHARED,
    blind_mask_for,
    pane_style,
    render_pane,
    render_pane_controls,
)
from app.components.compare_params import request_params, settings_inputs
from app.components.compare_state import CompareState, compare_state
from app.components.compare_tools import answer_automatically, render_tool_settings
from app.components.compare_turns import continue_panes, harvest, retry_pane, start_turn, stop
from app.components.compare_url import open_link, sync_url
from app.components.error_card import render_error
from app.components.safe_markdown import render_untrusted
from app.state import all_deployments, deployment_statuses, selected_deployment, unsupported_params
from services.blind_mask import BlindMask
from services.compare_export import export_html
from services.compare_model import MAX_PANES
from services.config import Deployment
from services.safe_markdown import escape_markdown

POLL_S = 0.08
DEMO_KEY = "compare"
_QUEUED = "compare.demo_prompt"  # the demo script's next prompt, sent to every pane on the run its click starts


def _default_deployment(deployments: dict[str, Deployment]) -> str | None:
    """The sidebar's choice, else the first configured deployment."""
    picked = selected_deployment()
    return picked.name if picked is not None else next(iter(deployments), None)


def _reachable_default(deployments: dict[str, Deployment]) -> str | None:
    """The default panes' deployment: the sidebar's choice when it answers, else the first that answers (the
    cached status check); the sidebar's choice when none is known to answer."""
    fallback = _default_deployment(deployments)
    statuses = deployment_statuses(list(deployments.values())) if deployments else {}
    usable = [name for name, status in statuses.items() if status.usable]
    return fallback if not usable or fallback in usable else usable[0]


def _add_pane(state: CompareState) -> None:
    """A new pane on the same deployment as the last one (the usual next step is to change it)."""
    name = state.panes[-1].deployment if state.panes else _default_deployment(all_deployments())
    if name is not None:
        state.add_pane(name)


def _render_toolbar(state: CompareState, deployments: dict[str, Deployment], mask: BlindMask | None) -> None:
    bar = st.container(horizontal=True, key="compare_toolbar", vertical_alignment="center")
    if state.running:
        bar.button("Stop", key="compare.stop", type="primary", icon=":material/stop:", on_click=stop, args=(state,))
    bar.button(
        "Add pane",
        key="compare.add",
        icon=":material/add:",
        disabled=state.running or len(state.panes) >= MAX_PANES,
        on_click=_add_pane,
        args=(state,),
    )
    st.session_state["compare.blind"] = state.blind
    bar.toggle(
        "Blind mode",
        key="compare.blind",
        help="Hide the deployment names behind Model A/B/C/D and vote on each turn",
        on_change=lambda: state.set_blind(bool(st.session_state["compare.blind"])),
    )
    if state.hidden:
        st.session_state["compare.shuffle"] = state.shuffle
        bar.toggle(
            "Shuffle each turn",
            key="compare.shuffle",
            help="Deal the labels, and so the order of the panes, afresh on every turn",
            disabled=state.running,
            on_change=lambda: setattr(state, "shuffle", bool(st.session_state["compare.shuffle"])),
        )
    bar.button(
        "New conversation", key="compare.clear", icon=":material/restart_alt:", on_click=state.clear_conversation
    )
    names = _export_names(state)
    bar.download_button(
        "Export HTML",
        data=export_html(
            state.turns, list(names), names, deployments, tally=None if state.hidden else state.tally(), mask=mask
        ),
        file_name="comparison.html",
        mime="text/html",
        key="compare.export",
        icon=":material/download:",
        disabled=not state.turns,
        on_click="ignore",
    )


def _export_names(state: CompareState) -> dict[str, str]:
    """Every pane that answered (removed ones too), named as on screen."""
    names = dict(state.labels())
    for turn in state.turns:
        for pid, reply in turn.replies.items():
            names.setdefault(pid, REMOVED if state.hidden else reply.deployment)
    return names


def _pane_settings(
    state: CompareState, shared: tuple[str, Any], own: dict[str, tuple[str, Any]]
) -> tuple[dict[str, tuple[str, dict[str, Any]]], dict[str, Exception]]:
    """What each pane will be asked with, and the editor mistakes that block sending: SHARED or a pane id -> error
    (a mistake in the shared settings is named once, not once per synced pane)."""
    asked: dict[str, tuple[str, dict[str, Any]]] = {}
    problems: dict[str, Exception] = {}
    for pane in state.panes:
        system, values = own.get(pane.uid, shared)
        params, err = request_params(values, unsupported_params(pane.deployment))
        if err is not None:
            problems[pane.uid if pane.uid in own else SHARED] = err
        asked[pane.uid] = (system, params)
    return asked, problems


def _poll(
    state: CompareState, placeholders: dict[str, DeltaGenerator], status: DeltaGenerator, mask: BlindMask | None
) -> None:
    """Redraw the streaming panes from their buffers until every pane is done, then rerun to show the results."""
    active = state.active
    if active is None:
        return
    shown: dict[str, tuple[str, str]] = {}
    labels = state.labels()
    # While blind, a name the model gives itself is hidden as it streams in.
    answer = mask.answer if mask is not None else str
    started = active.run.started_at or time.monotonic()
    while True:
        snaps = active.run.snapshots()
        for pid, snap in snaps.items():
            placeholder = placeholders.get(pid)
            if placeholder is None or shown.get(pid) == (snap.status, snap.text):
                continue
            shown[pid] = (snap.status, snap.text)
            if snap.status == "error" and snap.error is not None:
                with placeholder.container():
                    if snap.text:
                        render_untrusted(answer(snap.text))
                    error = snap.error if mask is None else mask.error(snap.error, labels.get(pid))
                    render_error(error, key=f"live_{pid}")
            elif snap.finished:
                if snap.text:
                    render_untrusted(answer(snap.text), placeholder)
                else:
                    placeholder.markdown("_(no text)_")
            elif snap.text:
                render_untrusted(answer(snap.text), placeholder, cursor="▌")
        done = all(s.finished for s in snaps.values())
        # Drawing the elapsed time every pass also lets a click (Stop) interrupt this loop at once.
        status.caption(f"streaming… {time.monotonic() - started:.1f} s" if not done else "finishing…")
        if done:
            break
        with run_slots.released():
            time.sleep(POLL_S)
    st.rerun()


def _queue_prompt(text: str) -> None:
    """The demo script's "Next" (from its click, before the rerun): the prompt waits for the page to send it."""
    st.session_state[_QUEUED] = text


def _render_settings(
    state: CompareState, deployments: dict[str, Deployment], on_stage: bool
) -> tuple[tuple[str, Any], dict[str, tuple[str, Any]] | None]:
    """The shared settings, the tool settings and the demo script's picker; on stage also each pane's deployment
    and sync switch (kept off the panes). Returns the shared settings and, on stage, each pane's settings."""
    with st.expander("Shared system prompt and parameters", expanded=False):
        shared = settings_inputs(SHARED)
    panes = None
    if on_stage:
        panes = {}
        labels = state.labels()
        with st.container(border=True, key="compare_stage_panes"):
            st.caption("Each pane's deployment and whether it follows the shared settings")
            for pane in state.display_order():
                st.markdown(f"**{escape_markdown(labels[pane.uid])}**")
                panes[pane.uid] = render_pane_controls(state, pane, deployments, shared)
    render_tool_settings(state)
    with st.expander("Demo script", expanded=bool(demo_script.steps(DEMO_KEY)) and not on_stage):
        demo_script.render_demo_picker(DEMO_KEY)
    return shared, panes


def _render_body(
    state: CompareState,
    deployments: dict[str, Deployment],
    shared: tuple[str, Any],
    mask: BlindMask | None,
    staged: dict[str, tuple[str, Any]] | None,
) -> tuple[dict[str, DeltaGenerator], dict[str, tuple[str, dict[str, Any]]], dict[str, Exception]]:
    """The panes, the settings' mistakes, the metrics, the vote and the demo script's next prompt; returns the
    streaming placeholders, what each pane will be asked with and the mistakes that block sending. `staged`: each
    pane's settings when its controls were drawn in the stage's settings panel."""
    own: dict[str, tuple[str, Any]] = {}
    placeholders: dict[str, DeltaGenerator] = {}
    labels = state.labels()
    ordered = state.display_order()
    columns = st.columns(len(ordered), gap="small")
    for column, pane in zip(columns, ordered, strict=True):
        with column:
            placeholder, settings = render_pane(
                state,
                pane,
                labels[pane.uid],
                deployments,
                baseline=pane is state.panes[0],
                shared=shared,
                mask=mask,
                controls=None if staged is None else staged.get(pane.uid, shared),
            )
            if placeholder is not None:
                placeholders[pane.uid] = placeholder
            if not pane.sync:
                own[pane.uid] = settings
    asked, problems = _pane_settings(state, (shared[0], shared[1]), own)
    for source, err in problems.items():
        if source != SHARED:
            st.caption(f"In the settings of the pane **{labels[source]}**:")
        render_error(err, key="settings_shared" if source == SHARED else f"settings_{source}")
    render_metrics_table(state.turns, [p.uid for p in ordered], labels, None if state.hidden else state.panes[0].uid)
    render_vote(state)
    demo_script.render_demo_step(DEMO_KEY, _queue_prompt, disabled=state.running or bool(problems))
    return placeholders, asked, problems


def render() -> None:
    """The compare page."""
    switch_to_chat_if_requested()
    state = compare_state()
    deployments = all_deployments()
    open_link(state, deployments, lambda: _reachable_default(deployments))
    harvest(state, deployments)

    st.title("Compare")
    url_slot = st.empty()  # the URL's script, always in the same place so a rerun does not draw it again
    pane_style()
    if not deployments:
        st.info("No deployment is configured yet: add one in the sidebar.")
        return
    if not state.panes:
        _add_pane(state)  # deployments were added in the sidebar after the first visit
    if state.notice:
        st.warning(state.notice)
        if not state.running:  # a notice from starting a turn stays up while it streams
            state.notice = None
    mask = blind_mask_for(state, deployments)
    _render_toolbar(state, deployments, mask)

    on_stage = presenter.is_on()
    if on_stage:
        body = st.container()
        settings_area = st.expander("Settings", key="compare_stage_settings")
    else:
        settings_area = st.container()
        body = st.container()
    with settings_area:
        shared, staged = _render_settings(state, deployments, on_stage)
    with body:
        placeholders, asked, problems = _render_body(state, deployments, shared, mask, staged)
        status = st.empty()
    # After the panes: their settings widgets hold this run's values, which the link carries.
    sync_url(state, url_slot)

    typed = st.chat_input(
        "Send to every pane" if not problems else "Fix the settings above to send",
        key="compare.input",
        disabled=state.running or bool(problems),
    )
    queued = st.session_state.pop(_QUEUED, None)  # taken on every run: one that cannot be sent now is not sent later
    prompt = typed or queued
    retry, state.retry_pane = state.retry_pane, None
    if retry is not None and not state.running and not problems:
        retry_pane(state, retry, asked, deployments)
        st.rerun()
    if prompt and not state.running and not problems:
        start_turn(state, prompt, asked, deployments)
        st.rerun()
    if not problems:
        answer_automatically(state)
        if continue_panes(state, asked, deployments):
            st.rerun()
    _poll(state, placeholders, status, mask)
