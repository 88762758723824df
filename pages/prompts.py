"""Prompts: the library of prompt files (Prompty `.prompty`, GitHub Models `.prompt.yml`), one opened to edit, fill
its variables, see the messages it renders to, and run it on a deployment (or continue it in chat or compare).

Files live in PLAYGROUND_PROMPTS_DIR (default `prompts/` in the data dir), so they can sit in a git repository.
"""

from __future__ import annotations

import streamlit as st

from app.chat_params import JsonFieldError
from app.components import presenter, prompt_draft
from app.components.compare_handoff import switch_to_chat_if_requested, switch_to_compare_if_requested
from app.components.prompt_editor import render_editor
from app.components.prompt_handoff import render_handoff
from app.components.prompt_inputs import render_preview, render_variables
from app.components.prompt_library import render_library
from app.components.prompt_run import last_run, render_answer, render_run_controls, stream_run
from app.components.prompt_save import render_file_actions
from services.prompts import chat_parameters


def _render_notice() -> None:
    found = prompt_draft.notice()
    if found is not None:
        kind, text = found
        getattr(st, kind)(text)


def render() -> None:
    """The Prompts page."""
    switch_to_chat_if_requested()
    switch_to_compare_if_requested()
    st.title("Prompts")
    if presenter.render_backstage_notice("Prompts"):
        return
    _render_notice()
    opened = prompt_draft.base()
    try:
        current = prompt_draft.draft() if opened is not None else None
    except JsonFieldError:
        current = None  # the editor below says what is wrong
    unsaved = opened is not None and (opened.path is None or (current is not None and prompt_draft.edited(current)))
    with st.expander("Library", expanded=True, key="prompts_library"):
        render_library(opened.path.name if opened is not None and opened.path is not None else None, unsaved)
    if opened is None:
        st.info("Open a prompt from the library, import a file, or start a new prompt.")
        return
    st.subheader(opened.name or "New prompt", anchor=False)
    left, right = st.columns([0.52, 0.48], gap="large")
    with left:
        current = render_editor(opened)
        render_file_actions(opened, current)
    with right:
        rendered = None
        if current is not None:
            values, problems = render_variables(current)
            rendered = render_preview(current, values) if not problems else None
        run = render_run_controls(current, rendered)
        params = chat_parameters(current) if current is not None else {}
        render_handoff(rendered, st.session_state.get(prompt_draft.DEPLOYMENT_KEY), params, opened.name)
        if run is not None:
            stream_run(run)
            st.rerun()
        render_answer(last_run())
