"""The run pane's raw-text mode: the rendered prompt sent as one text to the classic `/completions` route (prompt in,
continuation out) instead of chat completions, with the route's own parameters (`echo`, `logprobs`, `suffix`, `stop`).

Offered unless the capability map (Models page) found that the deployment does not serve `/completions`; a
deployment never probed is allowed, and a 404/405 from it comes back as a card that says to use chat mode.
Parameters a deployment refuses on this route are kept apart from chat's (one deployment can take `stop` on one
route and not on the other), for this session.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from app.chat_params import parse_stop_sequences
from app.components.probe_store import stored_report
from app.components.prompt_draft import PERSIST
from services.errors import ModalityNotSupportedError
from services.http import COMPLETION_PARAMS
from services.probe import Status
from services.safe_markdown import code_span, escape_markdown
from services.schemas import ChatResult, CompletionResult

MODE_KEY = "prompts.text.mode"
ECHO_KEY = "prompts.text.echo"
LOGPROBS_KEY = "prompts.text.logprobs"
SUFFIX_KEY = "prompts.text.suffix"
STOP_KEY = "prompts.text.stop"
USE_CHAT_KEY = "prompts.text.use_chat"
CHAT_MODE = "Chat"
TEXT_MODE = "Text completion (/completions)"
ROUTE = "/completions"
# /completions stops after 16 tokens when max_tokens is not sent: a prompt that sets none gets this instead.
DEFAULT_MAX_TOKENS = 256
LOGPROBS_SHOWN = 50
# Chat-only parameters a prompt may ask for: /completions has no messages, tools or response formats.
CHAT_ONLY = ("response_format", "tools", "tool_choice")
_INPUTS = {"echo": ECHO_KEY, "logprobs": LOGPROBS_KEY, "suffix": SUFFIX_KEY}
_REFUSED = "prompts.text.refused"  # {deployment: {param: reason}}


def prompt_text(messages: list[dict[str, str]]) -> str:
    """The rendered messages as the one raw text `/completions` continues.

    A prompt of one user message is its text, as written (a raw prompt). Anything else becomes a plain transcript:
    each message as "Role: text" (System, User, Assistant, ...), separated by blank lines, ending with "Assistant:"
    for the model to continue; when the last message is the assistant's, the text ends with it (a prefill the model
    carries on). No model's chat template is applied: this is what a base model continues naturally.
    """
    if len(messages) == 1 and messages[0]["role"] == "user":
        return messages[0]["content"]
    parts = [f"{message['role'].capitalize()}: {message['content']}" for message in messages]
    if not messages or messages[-1]["role"] != "assistant":
        parts.append("Assistant:")
    return "\n\n".join(parts)


def refused(deployment_name: str) -> dict[str, str]:
    """Parameters this deployment refused on `/completions` in this session: param -> reason."""
    return dict(st.session_state.get(_REFUSED, {}).get(deployment_name, {}))


def retry_without(
    deployment_name: str, invalid_value: bool, param: str, drop_prompt_parameter: Callable[[str], None]
) -> None:
    """Leave a refused parameter out of the next text run (from a callback): a parameter the route does not take is
    left out for this deployment; a value it refused is emptied in the input that gave it (this mode's, or the
    prompt's through `drop_prompt_parameter`)."""
    if not invalid_value:
        st.session_state.setdefault(_REFUSED, {}).setdefault(deployment_name, {})[param] = (
            "rejected with 422 on /completions (parameter not supported)"
        )
    elif param in _INPUTS:
        st.session_state[_INPUTS[param]] = False if param == "echo" else None if param == "logprobs" else ""
    else:
        if param == "stop":
            st.session_state[STOP_KEY] = ""
        drop_prompt_parameter(param)


def use_chat_mode() -> None:
    """Switch the run pane to chat mode (a callback)."""
    st.session_state[MODE_KEY] = CHAT_MODE


def _availability(deployment_name: str) -> tuple[bool, str]:
    """(offered, a sentence on why) from the capability map's stored result, if it has been run."""
    report = stored_report(deployment_name)
    status = report.status("text_completion") if report is not None else Status.UNKNOWN
    name = code_span(deployment_name)
    if status == Status.NOT_SUPPORTED:
        detail = report.results["text_completion"].detail if report is not None else ""
        because = f" ({escape_markdown(detail)})" if detail else ""
        return False, (
            f"Text completion is not offered: the capability map found that {name} does not serve "
            f"`/completions`{because}. Runs go through chat completions."
        )
    if status == Status.SUPPORTED:
        return True, f"The capability map found `/completions` served by {name}."
    return True, (
        f"Not probed yet: if {name} does not serve `/completions`, the run says so (the Models page's capability "
        "map finds out beforehand)."
    )


def render_mode(deployment_name: str) -> str:
    """The mode choice; returns CHAT_MODE or TEXT_MODE (chat whenever text is not offered for this deployment)."""
    offered, why = _availability(deployment_name)
    if not offered:
        st.session_state[MODE_KEY] = CHAT_MODE
    st.session_state.setdefault(MODE_KEY, CHAT_MODE)
    mode = st.radio(
        "Send as",
        (CHAT_MODE, TEXT_MODE),
        key=MODE_KEY,
        horizontal=True,
        disabled=not offered,
        persist_state=PERSIST,
        help="Chat: the messages through chat completions. Text completion: the messages rendered as one raw text, "
        "continued by the classic `/completions` route (vLLM, llama.cpp, Ollama, the embedded endpoint).",
    )
    if not offered or mode == TEXT_MODE:
        st.caption(why)
    return str(mode)


def render_text_options() -> dict[str, Any]:
    """The inputs of this route's own parameters; returns the ones set (name -> value)."""
    st.session_state.setdefault(ECHO_KEY, False)
    st.session_state.setdefault(SUFFIX_KEY, "")
    st.session_state.setdefault(STOP_KEY, "")
    row = st.columns([0.45, 0.55], vertical_alignment="bottom")
    echo = row[0].checkbox(
        "echo", key=ECHO_KEY, persist_state=PERSIST, help="Return the prompt before its continuation."
    )
    logprobs = row[1].number_input(
        "logprobs",
        min_value=0,
        max_value=5,
        step=1,
        value=None,
        key=LOGPROBS_KEY,
        persist_state=PERSIST,
        placeholder="not sent",
        help="Return each token's log probability and this many likeliest alternatives (where served).",
    )
    suffix = st.text_input(
        "suffix", key=SUFFIX_KEY, persist_state=PERSIST, help="Text that follows the completion (fill-in-the-middle)."
    )
    stop = st.text_area(
        "Stop sequences for the text, one per line",
        key=STOP_KEY,
        height=68,
        persist_state=PERSIST,
        help="Sent with the prompt's own stop sequences; with a transcript, `User:` keeps the model from writing "
        "the next user turn.",
    )
    options: dict[str, Any] = {}
    if echo:
        options["echo"] = True
    if logprobs is not None:
        options["logprobs"] = int(logprobs)
    if suffix:
        options["suffix"] = suffix
    sequences = parse_stop_sequences(stop or "")
    if sequences:
        options["stop"] = sequences
    return options


def text_parameters(prompt_params: dict[str, Any], options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The prompt's parameters and this mode's options as /completions parameters (max_tokens always set), and the
    chat-only ones left out with why. Names the route does not know go as model extras (pass-through)."""
    params: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    left_out: dict[str, str] = {}
    for name, value in prompt_params.items():
        if name in CHAT_ONLY:
            left_out[name] = "a chat parameter: /completions does not take it"
        elif name in COMPLETION_PARAMS:
            params[name] = value
        else:
            extras[name] = value
    for name, value in options.items():
        if name == "stop":
            own = params.get("stop") or []
            own = [own] if isinstance(own, str) else list(own)
            value = list(dict.fromkeys([*own, *value]))
        params[name] = value
    params.setdefault("max_tokens", DEFAULT_MAX_TOKENS)
    if extras:
        params["model_extras"] = extras
    return params, left_out


def sendable_extras(params: dict[str, Any], unsupported: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """`params` without the model extras this deployment refused, and those left out with why."""
    extras = params.get("model_extras")
    if not extras:
        return params, {}
    kept = {name: value for name, value in extras.items() if name not in unsupported}
    left_out = {name: unsupported[name] for name in extras if name in unsupported}
    params = {name: value for name, value in params.items() if name != "model_extras"}
    if kept:
        params["model_extras"] = kept
        params["extra_parameters"] = "pass-through"
    return params, left_out


def render_text_preview(text: str) -> None:
    """The raw text Run sends, shown before sending."""
    st.markdown("**Text to send**")
    with st.container(border=True, key="prompts_text_to_send"):
        st.code(text, language=None, wrap_lines=True)


def chat_result(result: CompletionResult, echoed: str) -> ChatResult:
    """A text completion as the chat page's answer (its content without the `echoed` prompt in front)."""
    text = result.text[len(echoed) :] if echoed and result.text.startswith(echoed) else result.text
    return ChatResult(
        content=text,
        finish_reason=result.finish_reason,
        usage=result.usage,
        metrics=result.metrics,
        content_filtered=result.content_filtered,
        content_filter_results=result.content_filter_results,
        stopped=result.stopped,
        model=result.model,
        response_id=result.response_id,
    )


def echoed_prefix(result: CompletionResult, prompt: str, params: dict[str, Any]) -> str:
    """The prompt as the endpoint echoed it in front of the text ("" when echo was not asked or not done)."""
    return prompt if params.get("echo") and result.text.startswith(prompt) else ""


def not_served(error: Exception | None) -> ModalityNotSupportedError | None:
    """The error when it is the answer of a deployment without the `/completions` route (404/405), else None."""
    return error if isinstance(error, ModalityNotSupportedError) and error.route == ROUTE else None


def render_not_served(deployment_name: str, error: ModalityNotSupportedError, on_use_chat: Callable[[], None]) -> None:
    """The card for a deployment that serves chat but not `/completions`, with a button to run in chat mode."""
    with st.container(border=True, key="errcard_prompt_run"):
        st.markdown(f"**:red[{escape_markdown(deployment_name)} does not serve /completions]**")
        st.markdown(
            f"The deployment answered HTTP {error.status or 404} on the text completion route `/completions`: it "
            "offers chat completions only. Use **Chat** mode to run this prompt."
        )
        st.button("Run in chat mode", key=USE_CHAT_KEY, icon=":material/chat:", on_click=on_use_chat)


def render_logprobs(logprobs: dict[str, Any] | None) -> None:
    """The tokens and their log probabilities, first LOGPROBS_SHOWN, as a small table (when the endpoint sent them)."""
    if not logprobs:
        return
    tokens = list(logprobs.get("tokens") or [])
    values = list(logprobs.get("token_logprobs") or [])
    if not tokens:
        return
    shown = tokens[:LOGPROBS_SHOWN]
    rows: dict[str, list[Any]] = {
        "token": [repr(str(token)) for token in shown],
        "logprob": [values[i] if i < len(values) else None for i in range(len(shown))],
    }
    tops = logprobs.get("top_logprobs")
    if isinstance(tops, list) and any(isinstance(top, dict) and top for top in tops):
        rows["likeliest"] = [_alternatives(tops[i] if i < len(tops) else None) for i in range(len(shown))]
    more = f" (first {LOGPROBS_SHOWN} of {len(tokens)})" if len(tokens) > LOGPROBS_SHOWN else ""
    st.caption(f"Token log probabilities{more}")
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="prompts_logprobs")


def _alternatives(top: Any) -> str:
    """One token's likeliest alternatives as "'a' -0.12, 'b' -2.30"."""
    if not isinstance(top, dict):
        return ""
    return ", ".join(f"{token!r} {value:.2f}" for token, value in top.items() if isinstance(value, int | float))
