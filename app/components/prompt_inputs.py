"""The prompt's variables as input fields (prefilled from its sample or first test data row), and the messages they
render to, shown before anything is sent; a template error is told in words with its line and variable."""

from __future__ import annotations

import streamlit as st

from app.components import prompt_draft
from app.components.prompt_draft import PERSIST
from services.prompts import Prompt, PromptError, PromptUndefinedError, render_messages
from services.safe_markdown import code_span, escape_markdown


def render_variables(current: Prompt) -> tuple[dict[str, object], list[str]]:
    """One input per variable; returns the values and a sentence per value that cannot be used."""
    names = list(current.variables)
    if not names:
        return {}, []
    st.markdown("**Variables**")
    for name in names:
        key = prompt_draft.variable_key(name)
        st.session_state.setdefault(key, "")
        variable = current.variables[name]
        text = st.text_area(
            name,
            key=key,
            height=68,
            help=escape_markdown(variable.description) if variable.description else None,
            persist_state=PERSIST,
        )
        as_json = st.checkbox(
            "JSON value",
            key=prompt_draft.json_key(name),
            help="Read the value as JSON (a list to loop over, an object with fields, a number).",
            persist_state=PERSIST,
        )
        if not as_json and not (text or "").strip():
            st.caption(f":orange[{code_span(name)} is empty: the template gets an empty text.]")
    values, problems = prompt_draft.variable_values(names)
    for problem in problems:
        st.error(escape_markdown(problem))
    return values, problems


def render_preview(current: Prompt, values: dict[str, object]) -> list[dict[str, str]] | None:
    """The rendered messages (what Run sends), or None after telling why the template does not render."""
    st.markdown("**Messages to send**")
    try:
        rendered = render_messages(current, values)
    except PromptUndefinedError as err:
        fix = f"Give {code_span(err.variable)} a value" if err.variable else "Give the variable the fields it uses"
        st.error(
            f"Template error: {escape_markdown(str(err))} {fix}, or take it out of the template: nothing is sent "
            "until then."
        )
        return None
    except PromptError as err:
        st.error(f"Template error: {escape_markdown(str(err))} Nothing is sent until it is fixed.")
        return None
    if not rendered:
        st.warning("The template renders to no message: there is nothing to send.")
        return None
    for index, message in enumerate(rendered):
        with st.container(border=True, key=f"prompts_rendered_{index}"):
            st.caption(message["role"])
            st.code(message["content"], language=None, wrap_lines=True)
    return rendered
