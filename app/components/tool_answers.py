"""The form under an answer whose tool calls wait for results: per call, a result typed, canned or computed by a
built-in tool (shown in an editable box before it is sent), and one button that sends them all.

Drawn with the page's own `key`, so the compare page can draw one per pane. In presenter mode the calls are named by
their tool only (a call id is an internal id).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence

import streamlit as st

from app.components import presenter
from services.demo_tools import DEMO_TOOLS
from services.safe_markdown import code_span, escape_markdown
from services.tool_turns import CUT_RESULT, PendingCall, automatic_result, call_key

TYPED = "Type the result"
CANNED = "Canned result"
CUT_NOTE = (
    "cut off: the answer was stopped before this call's arguments were complete, so it cannot be run. It is "
    "answered “not run” when the results are sent."
)


def _builtin_label(name: str) -> str:
    return f"Built-in {DEMO_TOOLS[name].label.lower()}"


def source_options(call: PendingCall, canned: Mapping[str, str]) -> list[str]:
    """Where a call's result can come from, the one offered first first: canned, built-in, typed."""
    options = [CANNED] if call.name in canned else []
    if call.name in DEMO_TOOLS:
        options.append(_builtin_label(call.name))
    return [*options, TYPED]


def _result_for(call: PendingCall, source: str, canned: Mapping[str, str]) -> str | None:
    """The result `source` gives for `call` (None for a typed one)."""
    if source == TYPED:
        return None
    found = automatic_result(call, canned if source == CANNED else {}, demo_tools=source != CANNED)
    return found.content if found is not None else None


def _on_source(call: PendingCall, source_key: str, text_key: str, canned: dict[str, str]) -> None:
    result = _result_for(call, st.session_state[source_key], canned)
    if result is not None:
        st.session_state[text_key] = result


def _keys(key: str, index: int, call: PendingCall) -> tuple[str, str]:
    base = f"{key}_{index}_{call_key(call)}"
    return f"{base}_source", f"{base}_text"


def _ids_hidden(hide_ids: bool) -> bool:
    """True when call ids stay off the page: on stage, or where the caller hides them (a blind comparison)."""
    return hide_ids or presenter.is_on()


def _call_name(call: PendingCall, index: int, hide_ids: bool = False) -> str:
    """How the form names a call: its tool, else its id (ids hidden: its place in the list, never the id)."""
    return call.name or (f"call {index + 1}" if _ids_hidden(hide_ids) else call.id)


def _send(
    key: str,
    pending: Sequence[PendingCall],
    on_send: Callable[[list[tuple[PendingCall, str]]], None],
    hide_ids: bool = False,
) -> None:
    # A cut call cannot be run: it is answered as cut off, whatever the other calls get.
    results = [
        (call, CUT_RESULT if call.cut else st.session_state.get(_keys(key, i, call)[1], ""))
        for i, call in enumerate(pending)
    ]
    empty = [_call_name(call, i, hide_ids) for i, (call, text) in enumerate(results) if not text.strip()]
    if empty:
        names = ", ".join(code_span(name) for name in empty)
        st.session_state[f"{key}_error"] = f"Give a result for {names} first (any text: the model reads it as is)."
        return
    st.session_state[f"{key}_error"] = None
    on_send(results)


def _arguments(call: PendingCall) -> tuple[str, str]:
    try:
        return json.dumps(json.loads(call.arguments or "{}"), indent=2, ensure_ascii=False), "json"
    except json.JSONDecodeError:
        return call.arguments, "text"


def render_pending_calls(
    pending: Sequence[PendingCall],
    canned: Mapping[str, str],
    *,
    key: str,
    on_send: Callable[[list[tuple[PendingCall, str]]], None],
    hide_ids: bool = False,
) -> None:
    """A bordered form: each pending call with its arguments, where its result comes from, and the result itself
    (filled in for canned and built-in sources, editable); "Send results" calls `on_send([(call, result), ...])`.
    With `hide_ids` (or on stage) no call id is shown."""
    with st.container(border=True, key=f"{key}_pending"):
        if all(call.cut for call in pending):
            count = "call was" if len(pending) == 1 else "calls were"
            st.markdown(f"**:material/build: {len(pending)} tool {count} cut off**")
            st.caption("Send to let the model go on from there (answered *not run*), or type a message instead.")
        else:
            count = "call waits" if len(pending) == 1 else "calls wait"
            st.markdown(f"**:material/build: {len(pending)} tool {count} for a result**")
            st.caption(
                "Give each call's result, then send them: the model continues from there. Typing a message instead "
                "answers each call *not run*."
            )
        for index, call in enumerate(pending):
            source_key, text_key = _keys(key, index, call)
            options = source_options(call, canned)
            if text_key not in st.session_state:
                # First drawn: the result the first source gives is shown (and can be changed) before it is sent.
                st.session_state[source_key] = options[0]
                st.session_state[text_key] = _result_for(call, options[0], canned) or ""
            elif st.session_state.get(source_key) not in options:
                st.session_state[source_key] = TYPED  # its canned result was removed meanwhile
            call_id = "" if _ids_hidden(hide_ids) else f" · call {code_span(call.id)}"
            st.markdown(f"{index + 1}. {code_span(call.name or '?')}{call_id}")
            text, language = _arguments(call)
            st.code(text, language=language, wrap_lines=True)
            if call.cut:
                st.caption(f":orange[{CUT_NOTE}]")
                continue
            st.radio(
                "Result from",
                options,
                key=source_key,
                horizontal=True,
                on_change=_on_source,
                args=(call, source_key, text_key, dict(canned)),
            )
            st.text_area(f"Result of {escape_markdown(_call_name(call, index, hide_ids))}", key=text_key, height=90)
        if st.session_state.get(f"{key}_error"):
            st.error(st.session_state[f"{key}_error"])
        st.button(
            "Send results",
            key=f"{key}_send",
            type="primary",
            icon=":material/send:",
            on_click=_send,
            args=(key, list(pending), on_send, hide_ids),
        )
