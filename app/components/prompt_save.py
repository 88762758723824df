"""The open prompt's file: save (same file, or a new name), duplicate, delete with confirmation, export either format.

A save passes the token of the file as it was loaded: a file changed on disk by someone else since is never
overwritten silently; the page says so and offers to reload it or to save these changes as a copy. After a save the
file is read back, so the editor shows what was written.
"""

from __future__ import annotations

import streamlit as st

from app.chat_params import JsonFieldError
from app.components import prompt_draft
from app.components.prompt_draft import PERSIST
from app.state import all_deployments
from services.prompts import (
    Prompt,
    PromptConflictError,
    PromptError,
    PromptFormat,
    SavedPrompt,
    delete_prompt,
    dump_prompt,
    list_prompts,
    load_prompt,
    model_ref_for,
    save_prompt,
    slug,
)
from services.safe_markdown import code_span, escape_markdown

_CONFLICT = "prompts.conflict"
_CONFIRM_DELETE = "prompts.confirm_delete"
FILE_KEY = "prompts.in.file"
FORMAT_KEY = "prompts.in.format"
EXTENSIONS: dict[PromptFormat, str] = {"prompty": ".prompty", "prompt.yml": ".prompt.yml"}


def _stem(prompt: Prompt) -> str:
    """The library name of the open file, or one made from the prompt's name."""
    if prompt.path is not None:
        lower = prompt.path.name.lower()
        for ext in (".prompty", ".prompt.yml", ".prompt.yaml"):
            if lower.endswith(ext):
                return prompt.path.name[: -len(ext)]
    return slug(prompt.name)


def _current() -> Prompt | None:
    """The draft as a save writes it (the variable values as its sample); None after saying why it cannot be."""
    try:
        current = prompt_draft.draft(with_sample=True)
    except JsonFieldError as err:
        prompt_draft.set_notice("error", f"{escape_markdown(str(err))} Nothing was saved.")
        return None
    deployment = all_deployments().get(st.session_state.get(prompt_draft.DEPLOYMENT_KEY) or "")
    if deployment is not None and not (current.model.deployment or current.model.endpoint):
        current.model = model_ref_for(deployment)  # a prompt made here names the deployment it was run on
    return current


def _failed(err: PromptError) -> None:
    prompt_draft.set_notice("error", f"Not saved: {escape_markdown(str(err))}")


def _opened_saved(saved: SavedPrompt, verb: str) -> None:
    """Read the file back into the editor (what was written), keeping the variable values and the deployment."""
    try:
        written = load_prompt(saved.path.name)
    except PromptError as err:
        prompt_draft.set_notice(
            "error",
            f"{verb} {code_span(saved.path.name)}, but it reads back with an error: {escape_markdown(str(err))}",
        )
        return
    prompt_draft.open_in_editor(written, keep_values=True)
    st.session_state[_CONFLICT] = None
    lines = [f"{verb} {code_span(saved.path.name)}."] + [f"- {escape_markdown(text)}" for text in saved.notices]
    prompt_draft.set_notice("success", "\n".join(lines))


def _save() -> None:
    opened, current = prompt_draft.base(), _current()
    if opened is None or current is None:
        return
    try:
        if opened.path is not None:
            saved = save_prompt(current, opened.path.name, expected_token=opened.token)
        else:
            name = (st.session_state.get(FILE_KEY) or "").strip() or None
            saved = save_prompt(current, name, st.session_state.get(FORMAT_KEY) or "prompty")
    except PromptConflictError as err:
        st.session_state[_CONFLICT] = str(err)
        return
    except PromptError as err:
        _failed(err)
        return
    _opened_saved(saved, "Saved")


def _save_as() -> None:
    current = _current()
    name = (st.session_state.get(FILE_KEY) or "").strip()
    if current is None:
        return
    if not name:
        prompt_draft.set_notice("error", "Not saved: give the new file a name.")
        return
    current.path, current.token = None, None
    try:
        saved = save_prompt(current, name, st.session_state.get(FORMAT_KEY) or "prompty")
    except PromptError as err:
        _failed(err)
        return
    _opened_saved(saved, "Saved as")


def copy_names(stem: str, title: str) -> tuple[str, str]:
    """A free file name and a free prompt name for a copy: "<stem>-copy" (-copy-2, ...), "<title> (copy)" (...)."""
    rows = list_prompts()
    files = {row.file_name.lower() for row in rows}
    names = {row.name.strip().lower() for row in rows if row.error is None}
    new_stem = next(
        c for c in (f"{stem}-copy", *(f"{stem}-copy-{n}" for n in range(2, 10_000))) if c.lower() not in files
    )
    new_title, counter = f"{title} (copy)", 2
    while new_title.lower() in names:
        new_title, counter = f"{title} (copy {counter})", counter + 1
    return new_stem, new_title


def _save_copy(verb: str) -> None:
    """Save the draft under a new file and prompt name, in the open file's format; the open file stays as it is."""
    opened, current = prompt_draft.base(), _current()
    if opened is None or current is None:
        return
    stem, title = copy_names(_stem(opened), current.name or _stem(opened))
    copy = current.model_copy(update={"name": title, "path": None, "token": None})
    try:
        saved = save_prompt(copy, stem, opened.source_format or "prompty")
    except PromptError as err:
        _failed(err)
        return
    _opened_saved(saved, verb)


def _reload() -> None:
    opened = prompt_draft.base()
    st.session_state[_CONFLICT] = None
    if opened is None or opened.path is None:
        return
    try:
        prompt = load_prompt(opened.path.name)
    except PromptError as err:
        prompt_draft.set_notice("error", f"Cannot reload: {escape_markdown(str(err))}")
        return
    prompt_draft.open_in_editor(prompt, keep_values=True)
    prompt_draft.set_notice("info", f"Reloaded {code_span(opened.path.name)} from disk: your changes were discarded.")


def _ask_delete(on: bool) -> None:
    st.session_state[_CONFIRM_DELETE] = on


def _delete() -> None:
    opened = prompt_draft.base()
    st.session_state[_CONFIRM_DELETE] = False
    if opened is None or opened.path is None:
        return
    try:
        delete_prompt(opened.path.name, expected_token=opened.token)
    except PromptError as err:
        prompt_draft.set_notice("error", f"Not deleted: {escape_markdown(str(err))}")
        return
    prompt_draft.close_editor()
    prompt_draft.set_notice("success", f"Deleted {code_span(opened.path.name)}.")


def _render_conflict(message: str) -> None:
    with st.container(border=True, key="prompts_conflict"):
        st.warning(f"Not saved: {escape_markdown(message)}")
        st.caption("Your changes are still in the editor.")
        row = st.container(horizontal=True, gap="small")
        row.button("Reload from disk", key="prompts.conflict_reload", on_click=_reload, icon=":material/refresh:")
        row.button(
            "Save mine as a copy",
            key="prompts.conflict_copy",
            on_click=_save_copy,
            args=("Saved your changes as",),
            type="primary",
            icon=":material/file_copy:",
        )


def _render_confirm_delete(opened: Prompt) -> None:
    assert opened.path is not None
    with st.container(border=True, key="prompts_confirm_delete"):
        st.warning(f"Delete {code_span(opened.path.name)} from the folder? This cannot be undone.")
        row = st.container(horizontal=True, gap="small")
        row.button("Delete for good", key="prompts.delete_confirm", on_click=_delete, type="primary")
        row.button("Cancel", key="prompts.delete_cancel", on_click=_ask_delete, args=(False,))


def _render_exports(opened: Prompt, current: Prompt) -> None:
    stem = _stem(opened) if opened.path is not None else slug(current.name)
    row = st.container(horizontal=True, gap="small")
    notes: list[str] = []
    for fmt, ext in EXTENSIONS.items():
        try:
            dumped = dump_prompt(current, fmt)
        except PromptError as err:
            notes.append(f"Cannot export as {ext}: {escape_markdown(str(err))}")
            continue
        row.download_button(
            f"Export {ext}",
            data=dumped.text,
            file_name=stem + ext,
            mime="text/yaml",
            key=f"prompts.export.{fmt}",
            icon=":material/download:",
            on_click="ignore",
        )
        notes += [f"{ext}: {escape_markdown(text)}" for text in dumped.notices]
    for note in notes:
        st.caption(note)


def render_file_actions(opened: Prompt, current: Prompt | None) -> None:
    """The file line, Save / Duplicate / Delete, "Save as a new file", the exports and any conflict or question."""
    conflict = st.session_state.get(_CONFLICT)
    if conflict:
        _render_conflict(conflict)
    if opened.path is not None and st.session_state.get(_CONFIRM_DELETE):
        _render_confirm_delete(opened)
    st.session_state.setdefault(FORMAT_KEY, opened.source_format or "prompty")
    if opened.path is not None:
        unsaved = current is not None and prompt_draft.edited(current)
        st.caption(f"File {code_span(opened.path.name)}" + (" · :orange[unsaved changes]" if unsaved else ""))
    else:
        row = st.container(horizontal=True, gap="small")
        row.text_input(
            "File name",
            key=FILE_KEY,
            placeholder=slug(current.name) if current is not None and current.name else "from the name",
            persist_state=PERSIST,
        )
        row.selectbox("Format", list(EXTENSIONS), key=FORMAT_KEY, format_func=EXTENSIONS.get, persist_state=PERSIST)
    row = st.container(horizontal=True, gap="small")
    row.button(
        "Save", key="prompts.save", type="primary", icon=":material/save:", on_click=_save, disabled=current is None
    )
    if opened.path is not None:
        row.button(
            "Duplicate",
            key="prompts.duplicate",
            icon=":material/file_copy:",
            on_click=_save_copy,
            args=("Duplicated as",),
            disabled=current is None,
            help="A copy of the prompt as it is in the editor, under a new name; this file stays as it is on disk.",
        )
        row.button("Delete", key="prompts.delete", icon=":material/delete:", on_click=_ask_delete, args=(True,))
        with st.expander("Save as a new file"):
            st.text_input("New file name", key=FILE_KEY, placeholder="e.g. summarize-v2", persist_state=PERSIST)
            st.selectbox("Format", list(EXTENSIONS), key=FORMAT_KEY, format_func=EXTENSIONS.get, persist_state=PERSIST)
            st.button("Save as", key="prompts.save_as", on_click=_save_as, disabled=current is None)
    if current is not None:
        _render_exports(opened, current)
