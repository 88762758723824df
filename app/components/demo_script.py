"""The demo script: a saved list of prompts the presenter sends one click at a time ("Next: <prompt>").

Two parts, each under a caller's `key` so the chat page and the compare page keep their own place in a script:
`render_demo_picker(key)` chooses a prompt-library file as the script (or saves a typed list as one), and
`render_demo_step(key, on_send)` draws the "Next" button that hands the next prompt to `on_send`. The script and the
step reached live in the session (not in widgets), so they survive a visit to another page.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from services.demo_script import DemoScriptError, load_steps, save_script, script_choices
from services.safe_markdown import code_span, escape_markdown

LABEL_CHARS = 70


def _state(key: str, part: str) -> str:
    return f"{key}_demo_{part}"


def steps(key: str) -> list[str]:
    """The chosen script's prompts, in order ([] while none is chosen)."""
    return list(st.session_state.get(_state(key, "steps"), []))


def step_index(key: str) -> int:
    """How many of the script's prompts have been sent (the next one's index)."""
    return int(st.session_state.get(_state(key, "step"), 0))


def use_script(key: str, file_name: str | None, script: list[str]) -> None:
    """Make `script` (from the library file `file_name`) the one to step through, from its first prompt."""
    st.session_state[_state(key, "file")] = file_name
    st.session_state[_state(key, "steps")] = list(script)
    st.session_state[_state(key, "step")] = 0


def restart(key: str) -> None:
    """Go back to the script's first prompt."""
    st.session_state[_state(key, "step")] = 0


def _set_message(key: str, kind: str | None, text: str = "") -> None:
    st.session_state[_state(key, "message")] = (kind, text) if kind else None


def _picked(key: str) -> None:
    file_name = st.session_state.get(_state(key, "pick")) or None
    _set_message(key, None)
    if file_name is None:
        use_script(key, None, [])
        return
    try:
        use_script(key, file_name, load_steps(file_name))
    except DemoScriptError as err:
        use_script(key, None, [])
        _set_message(key, "error", escape_markdown(str(err)))


def _save_typed(key: str) -> None:
    name = st.session_state.get(_state(key, "name"), "")
    text = st.session_state.get(_state(key, "text"), "")
    try:
        saved, script = save_script(name, text)
    except DemoScriptError as err:
        _set_message(key, "error", escape_markdown(str(err)))
        return
    use_script(key, saved.path.name, script)
    st.session_state[_state(key, "name")] = ""
    st.session_state[_state(key, "text")] = ""
    count = f"{len(script)} prompt{'s' if len(script) != 1 else ''}"
    _set_message(key, "success", f"Saved as {code_span(saved.path.name)} in the prompt library ({count}).")


def render_demo_picker(key: str) -> None:
    """Choose the demo script from the prompt library, or type prompts (one a line) and save them as a new script."""
    rows = script_choices()
    names = {row.path.name: row.name or row.file_name for row in rows}
    chosen = st.session_state.get(_state(key, "file"))
    options = ["", *names]
    if chosen and chosen not in names:
        options.append(chosen)  # removed from the library since: still the script in use
    st.session_state[_state(key, "pick")] = chosen or ""
    st.selectbox(
        "Demo script",
        options,
        key=_state(key, "pick"),
        format_func=lambda name: names.get(name, name) if name else "None",
        on_change=_picked,
        args=(key,),
        help="A prompt file's user messages, sent one at a time with “Next”.",
    )
    message = st.session_state.get(_state(key, "message"))
    if message:
        kind, text = message
        (st.error if kind == "error" else st.success)(text)
    with st.popover("New demo script", icon=":material/playlist_add:"):
        st.text_input("Name", key=_state(key, "name"), placeholder="Launch demo")
        st.text_area("Prompts, one a line", key=_state(key, "text"), height=140)
        st.button("Save as demo script", key=_state(key, "save"), on_click=_save_typed, args=(key,))


def _send_next(key: str, on_send: Callable[[str], None]) -> None:
    script, index = steps(key), step_index(key)
    if index >= len(script):
        return
    st.session_state[_state(key, "step")] = index + 1
    on_send(script[index])


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= LABEL_CHARS else flat[: LABEL_CHARS - 1] + "…"


def render_demo_step(key: str, on_send: Callable[[str], None], *, disabled: bool = False) -> None:
    """The "Next: <prompt>" button (sends the script's next prompt through `on_send(text)` from its click), the
    step reached, and "Start over"; nothing while no script is chosen."""
    script, index = steps(key), step_index(key)
    if not script:
        return
    row = st.container(horizontal=True, gap="small", vertical_alignment="center", key=_state(key, "bar"))
    if index < len(script):
        row.button(
            f"Next: {escape_markdown(_short(script[index]))}",
            key=_state(key, "next"),
            on_click=_send_next,
            args=(key, on_send),
            type="primary",
            icon=":material/play_arrow:",
            disabled=disabled,
            help=escape_markdown(script[index]) if len(script[index]) > LABEL_CHARS else None,
        )
        row.caption(f"Demo script: prompt {index + 1} of {len(script)}")
    else:
        row.caption(f"Demo script finished: all {len(script)} prompts sent.")
    if index > 0:
        row.button(
            "Start over",
            key=_state(key, "restart"),
            on_click=restart,
            args=(key,),
            type="tertiary",
            icon=":material/replay:",
            disabled=disabled,
        )
