"""Run a prompt: its rendered messages as one completion on a deployment, streamed with Stop, then the answer with
the chat page's metrics line, error card and one-click repair of a refused parameter.

Two modes: chat (the messages through chat completions) and text completion (the messages rendered as one raw text
and continued by `/completions`; app.components.prompt_completion has that mode's parts).

The stream is read by app.stream_pump.StreamPump (as on the chat page) inside one `tracing.action("prompt run")`,
so a run is one trace. `send_run` is the one place a run is sent.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from app import chat_state, run_slots, state
from app.chat_params import JSON_SCHEMA_PARAM
from app.chat_state import ChatEntry
from app.components import chat_pane, prompt_completion, prompt_draft
from app.components.error_card import render_error, render_filtered_answer
from app.components.metrics_strip import render_metrics
from app.components.safe_markdown import render_untrusted
from app.stream_pump import StreamPump
from services import tracing
from services.client import ChatStream, InferenceClient
from services.config import Deployment
from services.prompts import Prompt, chat_parameters, choose_deployment
from services.safe_markdown import code_span, escape_markdown
from services.schemas import CompletionResult

_PENDING = "prompts.run_pending"
_RUN = prompt_draft.RUN_KEY
_LOCK = "prompts.run_lock"
STOP_KEY = "prompts.stop"


@dataclass
class PromptRun:
    """One run: where it went, what was sent, and (once it ended) the answer as the chat page keeps one."""

    deployment: str
    messages: list[dict[str, str]]
    params: dict[str, Any]
    entry: ChatEntry | None = None
    prompt_name: str = ""
    left_out: dict[str, str] = field(default_factory=dict)
    mode: str = prompt_completion.CHAT_MODE
    text: str = ""  # text mode: the raw text sent (prompt_completion.prompt_text of the messages)
    echoed: str = ""  # text mode with echo: the prompt as the endpoint returned it in front of the answer
    logprobs: dict[str, Any] | None = None  # text mode: the tokens' log probabilities, when asked for and served

    @property
    def as_text(self) -> bool:
        """True when the run went to `/completions`."""
        return self.mode == prompt_completion.TEXT_MODE


def send_run(client: InferenceClient, run: PromptRun) -> ChatStream:
    """Send a run: one streamed chat completion of the rendered messages, or in text mode one streamed text
    completion (`/completions`) of the rendered text."""
    if run.as_text:
        return client.stream_complete_text(run.text, **run.params)
    return client.stream_chat(run.messages, **run.params)


def last_run() -> PromptRun | None:
    """The newest run of this session (streaming, finished, stopped or failed)."""
    return st.session_state.get(_RUN)


def request_run() -> None:
    """Ask the page to run the prompt on this run (a callback)."""
    st.session_state[_PENDING] = True


def _lock() -> threading.Lock:
    return st.session_state.setdefault(_LOCK, threading.Lock())


def wait_for_run(timeout_s: float = 5.0) -> None:
    """Wait until a run stopped by a click has saved its partial answer (the click's run shows it)."""
    lock = _lock()
    with run_slots.released():
        acquired = lock.acquire(timeout=timeout_s)
    if acquired:
        lock.release()


def sendable(params: dict[str, Any], unsupported: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The parameters this deployment takes, and the ones left out with why (learned from its 422s and probes)."""
    sent = {name: value for name, value in params.items() if name not in unsupported}
    if JSON_SCHEMA_PARAM in unsupported and (sent.get("response_format") or {}).get("type") == "json_schema":
        del sent["response_format"]
    if "tools" not in sent:
        sent.pop("tool_choice", None)
    left_out = {
        name: unsupported.get(name, unsupported.get(JSON_SCHEMA_PARAM, "")) for name in params if name not in sent
    }
    return sent, left_out


def _retry_without(deployment_name: str, invalid_value: bool, param: str) -> None:
    run = last_run()
    if run is not None and run.as_text:
        prompt_completion.retry_without(deployment_name, invalid_value, param, prompt_draft.drop_parameter)
    elif invalid_value:
        # The deployment knows the parameter, only this value was refused: take it out of the prompt's parameters.
        prompt_draft.drop_parameter(param)
    else:
        state.mark_unsupported(deployment_name, param, "rejected with 422 (parameter not supported)")
    request_run()


def _default_deployment(current: Prompt, deployments: dict[str, Deployment]) -> str | None:
    matched = choose_deployment(current, deployments)
    if matched is not None:
        return matched
    selected = state.selected_deployment()
    return selected.name if selected is not None else next(iter(deployments), None)


def _render_deployment(current: Prompt, deployments: dict[str, Deployment]) -> Deployment | None:
    names = list(deployments)
    if not names:
        st.info("No deployment is configured yet: add one in the sidebar to run the prompt.")
        return None
    key = prompt_draft.DEPLOYMENT_KEY
    if st.session_state.get(key) not in names:
        st.session_state[key] = _default_deployment(current, deployments)
    name = st.selectbox("Run on", names, key=key, persist_state=prompt_draft.PERSIST)
    wanted = current.model.deployment
    if wanted:
        matched = choose_deployment(current, deployments)
        if matched is None:
            st.caption(f"The file asks for {code_span(wanted)}, which is not configured here.")
        elif matched == name:
            st.caption(f"The file asks for {code_span(wanted)}: this deployment.")
        else:
            st.caption(f"The file asks for {code_span(wanted)}, configured here as {code_span(matched)}.")
    return deployments[name]


def _describe(params: dict[str, Any], left_out: dict[str, str]) -> None:
    names = [name for name in params if name not in ("model_extras", "extra_parameters")]
    names += list(params.get("model_extras") or {})
    shown = ", ".join(f"{code_span(name)}" for name in names) or "none (the deployment's defaults)"
    st.caption(f"Parameters sent: {shown}")
    for name, reason in left_out.items():
        st.caption(f":orange[{code_span(name)} is left out: {escape_markdown(reason) or 'refused by this deployment'}]")


def render_run_controls(current: Prompt | None, rendered: list[dict[str, str]] | None) -> PromptRun | None:
    """The deployment, the parameters to send and Run; returns the run to stream now (after a click on Run)."""
    wait_for_run()
    pending = bool(st.session_state.pop(_PENDING, False))
    deployments = state.all_deployments()
    deployment = _render_deployment(current, deployments) if current is not None else None
    mode = prompt_completion.render_mode(deployment.name) if deployment is not None else prompt_completion.CHAT_MODE
    params: dict[str, Any] = {}
    left_out: dict[str, str] = {}
    text = ""
    if current is not None and deployment is not None and mode == prompt_completion.TEXT_MODE:
        params, left_out = _text_params(current, deployment.name)
        if rendered is not None:
            text = prompt_completion.prompt_text(rendered)
            prompt_completion.render_text_preview(text)
        _describe(params, left_out)
    elif current is not None and deployment is not None:
        params, left_out = sendable(chat_parameters(current), state.unsupported_params(deployment.name))
        _describe(params, left_out)
    ready = deployment is not None and rendered is not None
    st.button(
        "Run",
        key="prompts.run_button",
        type="primary",
        icon=":material/play_arrow:",
        on_click=request_run,
        disabled=not ready or pending,
        help="The text above continued by /completions on this deployment, streamed."
        if mode == prompt_completion.TEXT_MODE
        else "One completion of the messages above on this deployment, streamed.",
    )
    if not (pending and ready and current is not None and deployment is not None and rendered is not None):
        return None
    run = PromptRun(
        deployment.name, rendered, params, prompt_name=current.name, left_out=left_out, mode=mode, text=text
    )
    st.session_state[_RUN] = run
    return run


def _text_params(current: Prompt, deployment_name: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Text mode's inputs drawn, and the /completions parameters to send with the ones left out (and why)."""
    options = prompt_completion.render_text_options()
    wanted, chat_only = prompt_completion.text_parameters(chat_parameters(current), options)
    refused = prompt_completion.refused(deployment_name)
    params, left_out = sendable(wanted, refused)
    params, extras_left_out = prompt_completion.sendable_extras(params, refused)
    return params, {**chat_only, **left_out, **extras_left_out}


def stream_run(run: PromptRun) -> None:
    """Stream the run into the page with a Stop button; the answer (partial after Stop) is kept on `run`.

    As on the chat page: a click on Stop makes Streamlit stop this script run at its next redraw, and the `finally`
    block closes the connection and keeps what arrived (no st.session_state access there: it raises once a stop is
    requested); the next run waits on the lock to show it.
    """
    deployment = state.all_deployments()[run.deployment]
    client = state.get_client(deployment)
    lock = _lock()
    with st.container(border=True, key="prompts_streaming"):
        st.caption(f"Answer from {code_span(run.deployment)}")
        placeholder = st.empty()
        placeholder.markdown(":gray[…]")
        st.button("Stop", key=STOP_KEY, icon=":material/stop_circle:")
        lock.acquire()
        with tracing.action("prompt run"):  # the pump's thread carries the action: the run is one trace
            pump = StreamPump(lambda: send_run(client, run))
        try:
            chat_pane.follow_stream(pump, placeholder)
        finally:
            try:
                interrupted = not pump.done.is_set()
                pump.stop()
                error = pump.error
                result = pump.result()
                if isinstance(result, CompletionResult):
                    run.echoed = prompt_completion.echoed_prefix(result, run.text, run.params)
                    run.logprobs = result.logprobs
                    result = prompt_completion.chat_result(result, run.echoed)
                run.entry = chat_state.entry_from_result(
                    result, run.deployment, error, stopped=interrupted and error is None
                )
            finally:
                lock.release()


def render_answer(run: PromptRun | None) -> None:
    """The last run's answer with its metrics, or its error card (Retry, Retry without <param>)."""
    if run is None or run.entry is None:
        return
    entry = run.entry
    with st.container(border=True, key="prompts_answer"):
        route = " (text completion, `/completions`)" if run.as_text else ""
        st.caption(f"Answer from {code_span(run.deployment)}{route}")
        if run.echoed:
            st.caption("The prompt, echoed (`echo`):")
            st.code(run.echoed, language=None, wrap_lines=True)
        if entry.turn.content:
            render_untrusted(entry.turn.content)
        for call in entry.turn.tool_calls:
            st.code(str(call.get("function", call)), language="json", wrap_lines=True)
        if entry.turn.stopped:
            st.caption(
                ":orange[■ stopped: the answer is partial]"
                if entry.turn.content
                else ":orange[■ stopped before the first token: nothing arrived]"
            )
        if entry.filter_results is not None or entry.turn.finish_reason == "content_filter":
            render_filtered_answer(entry.filter_results, key="prompt_run")
        not_served = prompt_completion.not_served(entry.error) if run.as_text else None
        if not_served is not None:
            prompt_completion.render_not_served(run.deployment, not_served, _run_in_chat_mode)
        elif entry.error is not None:
            invalid = bool(getattr(entry.error, "invalid_value", False))
            render_error(
                entry.error,
                key="prompt_run",
                on_retry_without=functools.partial(_retry_without, run.deployment, invalid),
                on_retry=request_run,
            )
        answered_by = state.all_deployments().get(run.deployment)
        if entry.metrics is not None and answered_by is not None:
            render_metrics(entry.metrics, answered_by)
        prompt_completion.render_logprobs(run.logprobs)


def _run_in_chat_mode() -> None:
    prompt_completion.use_chat_mode()
    request_run()
