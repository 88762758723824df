"""The prompt library: the folder's prompt files listed with search, opened into the editor, and imported by upload.

A file that does not parse is listed with its error in words. Opening another prompt over unsaved changes asks first.
"""

from __future__ import annotations

import datetime

import streamlit as st

from app.components import prompt_draft
from services.prompts import (
    MAX_FILE_BYTES,
    PromptError,
    PromptSummary,
    import_prompt,
    list_prompts,
    load_prompt,
    prompts_dir,
)
from services.safe_markdown import code_span, escape_markdown

_IMPORT_ROUND = "prompts.import_round"
_CONFIRM_OPEN = "prompts.confirm_open"
LIST_HEIGHT_PX = 420
# The uploader's limit in MB (Streamlit's unit); import_prompt holds every file to MAX_FILE_BYTES as well.
UPLOAD_LIMIT_MB = 1


def _open(file_name: str) -> None:
    st.session_state[_CONFIRM_OPEN] = None
    try:
        prompt = load_prompt(file_name)
    except PromptError as err:
        prompt_draft.set_notice("error", escape_markdown(str(err)))
        return
    prompt_draft.open_in_editor(prompt)
    prompt_draft.set_notice(None)


def _ask_open(file_name: str, unsaved: bool) -> None:
    if unsaved:
        st.session_state[_CONFIRM_OPEN] = file_name
    else:
        _open(file_name)


def _new(unsaved: bool) -> None:
    if unsaved:
        st.session_state[_CONFIRM_OPEN] = ""  # "" stands for a new prompt
    else:
        prompt_draft.new_prompt()
        prompt_draft.set_notice(None)


def _confirmed() -> None:
    wanted = st.session_state.get(_CONFIRM_OPEN)
    st.session_state[_CONFIRM_OPEN] = None
    if wanted == "":
        prompt_draft.new_prompt()
        prompt_draft.set_notice(None)
    elif wanted:
        _open(wanted)


def _cancel_open() -> None:
    st.session_state[_CONFIRM_OPEN] = None


def _import(key: str) -> None:
    upload = st.session_state.get(key)
    if upload is None:
        return
    try:
        saved = import_prompt(upload.getvalue(), upload.name)
    except PromptError as err:
        # The file's name and the parser's message may quote the file: shown as text, never as markdown.
        prompt_draft.set_notice(
            "error", f"{escape_markdown(upload.name)} was not imported: {escape_markdown(str(err))}"
        )
        return
    lines = [f"Imported {escape_markdown(upload.name)} as {code_span(saved.path.name)}."]
    lines += [f"- {escape_markdown(text)}" for text in saved.notices]
    prompt_draft.set_notice("success", "\n".join(lines))
    # A new key empties the uploader, so the same file can be imported again after it is deleted.
    st.session_state[_IMPORT_ROUND] = st.session_state.get(_IMPORT_ROUND, 0) + 1


def _modified(row: PromptSummary) -> str:
    return datetime.datetime.fromtimestamp(row.modified).strftime("%Y-%m-%d %H:%M")


def _render_row(index: int, row: PromptSummary, opened: str | None, unsaved: bool) -> None:
    with st.container(border=True, key=f"prompts_row_{index}"):
        left, model, variables, when, action = st.columns([0.36, 0.2, 0.2, 0.12, 0.12], vertical_alignment="center")
        left.markdown(f"**{escape_markdown(row.name)}**")
        if row.description:
            left.caption(escape_markdown(row.description))
        left.caption(code_span(row.path.name))
        if row.error is not None:
            model.markdown(f":red[Cannot be read:] {escape_markdown(row.error)}")
        else:
            model.caption(f"model {code_span(row.model)}" if row.model else "no model named")
            variables.caption(", ".join(code_span(v) for v in row.variables) or "no variables")
        when.caption(_modified(row))
        if row.error is None:
            current = opened == row.path.name
            action.button(
                "Opened" if current else "Open",
                key=f"prompts.open.{row.path.name}",
                on_click=_ask_open,
                args=(row.path.name, unsaved),
                disabled=current,
                type="tertiary" if current else "secondary",
            )


def _render_confirm_open(wanted: str) -> None:
    what = "a new prompt" if wanted == "" else code_span(wanted)
    with st.container(border=True, key="prompts_confirm_open"):
        st.warning(f"The prompt open in the editor has unsaved changes. Discard them and open {what}?")
        row = st.container(horizontal=True, gap="small")
        row.button("Discard changes and open", key="prompts.open_confirm", on_click=_confirmed, type="primary")
        row.button("Keep editing", key="prompts.open_cancel", on_click=_cancel_open)


def render_library(opened: str | None, unsaved: bool) -> None:
    """The search box, "New prompt", the file list, and the import uploader.

    `opened` is the open prompt's file name (its row says so); `unsaved` makes opening another prompt ask first.
    """
    head = st.container(horizontal=True, vertical_alignment="bottom", gap="small")
    search = head.text_input(
        "Search prompts",
        key=prompt_draft.SEARCH_KEY,
        placeholder="name, description, model or variable",
        persist_state=prompt_draft.PERSIST,
    )
    head.button("New prompt", key="prompts.new", icon=":material/add:", on_click=_new, args=(unsaved,))
    wanted = st.session_state.get(_CONFIRM_OPEN)
    if wanted is not None:
        _render_confirm_open(wanted)
    folder = prompts_dir()
    rows = list_prompts(search=search or "")
    if not rows:
        if search:
            st.info("No prompt matches this search.")
        else:
            st.info(f"No prompt files in {code_span(str(folder))} yet: start a new one, or import a file.")
    else:
        st.caption(f"{len(rows)} prompt file{'s' if len(rows) != 1 else ''} in {code_span(str(folder))}")
        with st.container(height=LIST_HEIGHT_PX if len(rows) > 4 else "content", border=False):
            for index, row in enumerate(rows):
                _render_row(index, row, opened, unsaved)
    key = f"prompts.import.{st.session_state.get(_IMPORT_ROUND, 0)}"
    st.file_uploader(
        "Import a prompt file (.prompty, .prompt.yml)",
        type=["prompty", "yml", "yaml"],
        key=key,
        on_change=_import,
        args=(key,),
        max_upload_size=UPLOAD_LIMIT_MB,
        help=f"Added to the folder as it is, once it parses; at most {MAX_FILE_BYTES:,} bytes. "
        "A file is never overwritten: rename it if a prompt by that name exists.",
    )
