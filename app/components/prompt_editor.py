"""The template editor: name, description, one role and text per message with the variables each uses (listed live),
and the model parameters the prompt asks for."""

from __future__ import annotations

import streamlit as st

from app.chat_params import JsonFieldError
from app.components import prompt_draft
from app.components.prompt_draft import PERSIST, param_key
from services.prompt_model import ROLES
from services.prompts import Prompt, PromptTemplateError, is_reference, variables_in
from services.safe_markdown import code_span, escape_markdown

SYNTAX_NOTES = {
    "jinja2": "Jinja2 templates: `{{ name }}` for a variable, `{% if %}` / `{% for %}` for logic (Prompty's syntax).",
    "placeholders": "GitHub Models placeholders: each exact `{{name}}` is replaced by its value, nothing else is "
    "read as template.",
    "mustache": "Mustache templates: `{{name}}` (HTML-escaped), `{{{name}}}` as is, `{{#list}}…{{/list}}`.",
}
_NUMBER_INPUTS = (
    ("max_tokens", "Max tokens", {"min_value": 1, "max_value": 128_000, "step": 16}),
    ("temperature", "Temperature", {"min_value": 0.0, "max_value": 2.0, "step": 0.1}),
    ("top_p", "Top p", {"min_value": 0.0, "max_value": 1.0, "step": 0.05}),
    ("seed", "Seed", {"min_value": 0, "max_value": 2**31 - 1, "step": 1}),
    ("presence_penalty", "Presence penalty", {"min_value": -2.0, "max_value": 2.0, "step": 0.1}),
    ("frequency_penalty", "Frequency penalty", {"min_value": -2.0, "max_value": 2.0, "step": 0.1}),
)


def _render_model(opened: Prompt) -> None:
    """What the file says about its model, as written (a `${env:...}` reference is shown, never resolved)."""
    model = opened.model
    parts = []
    if model.deployment:
        parts.append(f"deployment {code_span(model.deployment)}")
    if model.type:
        parts.append(f"type {code_span(model.type)}")
    if model.endpoint:
        shown = model.endpoint if is_reference(model.endpoint) else model.endpoint[:120]
        parts.append(f"endpoint {code_span(shown)}")
    if model.api == "completion":
        parts.append("api `completion`")
    if parts:
        st.caption("The file asks for " + ", ".join(parts) + ".")


def _render_message(position: int, message_id: int, count: int, syntax: str) -> None:
    with st.container(border=True, key=f"prompts_message_{message_id}"):
        head = st.container(horizontal=True, vertical_alignment="center", gap="small")
        head.selectbox(
            f"Role of message {position + 1}",
            ROLES,
            key=prompt_draft.role_key(message_id),
            label_visibility="collapsed",
            width=140,
            persist_state=PERSIST,
        )
        head.caption(f"message {position + 1}")
        head.button(
            "",
            key=f"prompts.up.{message_id}",
            icon=":material/arrow_upward:",
            help="Move up",
            on_click=prompt_draft.move_message,
            args=(message_id, -1),
            disabled=position == 0,
            type="tertiary",
        )
        head.button(
            "",
            key=f"prompts.down.{message_id}",
            icon=":material/arrow_downward:",
            help="Move down",
            on_click=prompt_draft.move_message,
            args=(message_id, 1),
            disabled=position == count - 1,
            type="tertiary",
        )
        head.button(
            "",
            key=f"prompts.remove.{message_id}",
            icon=":material/delete:",
            help="Remove this message",
            on_click=prompt_draft.remove_message,
            args=(message_id,),
            type="tertiary",
        )
        text = st.text_area(
            f"Template of message {position + 1}",
            key=prompt_draft.text_key(message_id),
            height=120,
            label_visibility="collapsed",
            persist_state=PERSIST,
        )
        try:
            found = variables_in(text or "", syntax)  # type: ignore[arg-type]
        except PromptTemplateError as err:
            st.caption(f":red[{escape_markdown(str(err))}]")
            return
        if found:
            st.caption("Variables: " + ", ".join(code_span(name) for name in found))


def _add_message() -> None:
    roles = [st.session_state.get(prompt_draft.role_key(i)) for i in prompt_draft.message_ids()]
    prompt_draft.add_message("assistant" if roles and roles[-1] == "user" else "user", "")


def _render_parameters() -> None:
    st.caption("Left empty, a parameter is not sent (the deployment's default applies).")
    columns = st.columns(3)
    for index, (name, label, options) in enumerate(_NUMBER_INPUTS):
        columns[index % 3].number_input(
            label, key=param_key(name), placeholder="default", persist_state=PERSIST, **options
        )
    st.text_area("Stop sequences, one per line", key=param_key("stop"), height=68, persist_state=PERSIST)
    fmt = st.selectbox("Response format", prompt_draft.FORMATS, key=param_key("format"), persist_state=PERSIST)
    if fmt == "json_schema":
        st.text_area(
            "JSON schema",
            key=param_key("json_schema"),
            height=140,
            help='{"name": ..., "schema": {...}, "strict": true}, or the bare schema',
            persist_state=PERSIST,
        )
    st.text_area(
        "Other parameters (JSON object)",
        key=param_key("extra"),
        height=80,
        placeholder='optional, e.g. {"tools": [...], "tool_choice": "auto"}',
        help="Sent as they are (tools, tool_choice, ...); a ${env:...} reference is kept in the file but not sent.",
        persist_state=PERSIST,
    )


def render_editor(opened: Prompt) -> Prompt | None:
    """Draw the editor for the open prompt; return the draft, or None while a parameter editor's JSON is invalid."""
    row = st.container(horizontal=True, gap="small")
    row.text_input("Name", key=prompt_draft.NAME_KEY, placeholder="e.g. Text summarizer", persist_state=PERSIST)
    row.text_input("Description", key=prompt_draft.DESCRIPTION_KEY, persist_state=PERSIST)
    _render_model(opened)
    st.markdown("**Messages**")
    st.caption(SYNTAX_NOTES.get(opened.syntax, ""))
    ids = list(prompt_draft.message_ids())
    for position, message_id in enumerate(ids):
        _render_message(position, message_id, len(ids), opened.syntax)
    st.button("Add message", key="prompts.add_message", icon=":material/add:", on_click=_add_message)
    with st.expander("Model parameters", expanded=False):
        _render_parameters()
    try:
        current = prompt_draft.draft()
    except JsonFieldError as err:
        st.error(f"{escape_markdown(str(err))} Fix it to run or save the prompt.")
        return None
    if current.variables:
        st.caption("Variables in this prompt: " + ", ".join(code_span(name) for name in current.variables))
    else:
        st.caption("This prompt has no variables.")
    return current
