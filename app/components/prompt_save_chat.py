"""The chat page's "Save as prompt": the system prompt, the conversation and the parameters written as a `.prompty` or
`.prompt.yml` file in the prompt library, the last user message optionally made a variable (its text the sample)."""

from __future__ import annotations

import re

import streamlit as st

from app import chat_state
from app.chat_params import JsonFieldError, ParamValues, build_params
from app.components import prompt_draft, system_prompt
from services.config import Deployment
from services.prompts import (
    Prompt,
    PromptError,
    PromptFormat,
    PromptMessage,
    PromptVariable,
    load_prompt,
    model_ref_for,
    parameters_from_request,
    save_prompt,
)
from services.safe_markdown import code_span, escape_markdown
from services.transcript import ChatTurn

NAME_KEY = "chat_prompt_name"
FORMAT_KEY = "chat_prompt_format"
AS_VARIABLE_KEY = "chat_prompt_as_variable"
VARIABLE_KEY = "chat_prompt_variable"
_RESULT = "chat_prompt_saved"
_GOTO = "chat_prompt_goto"
FORMATS: dict[PromptFormat, str] = {"prompty": ".prompty", "prompt.yml": ".prompt.yml"}
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
JINJA_SYNTAX = ("{{", "{%", "{#")


def literal(text: str) -> str:
    """Chat text as a Jinja2 template that renders to exactly that text (braces kept inside `{% raw %}`)."""
    if not any(mark in text for mark in JINJA_SYNTAX):
        return text
    if "endraw" in text:
        raise PromptError("A message contains both template braces and 'endraw': it cannot be kept as literal text.")
    return "{% raw %}" + text + "{% endraw %}"


def prompt_from_chat(
    system: str,
    turns: list[ChatTurn],
    params: dict[str, object],
    deployment: Deployment,
    name: str,
    variable: str | None = None,
) -> tuple[Prompt, list[str]]:
    """The conversation as a prompt, and what it leaves out, in words.

    Failed prompts and the answers after the last user message (what the prompt would produce) are left out; with
    `variable`, the last user message becomes `{{variable}}` and its text the sample value.
    """
    notes: list[str] = []
    sent = [t for t in turns if not t.failed and t.role in ("user", "assistant") and (t.content or t.role == "user")]
    users = [index for index, turn in enumerate(sent) if turn.role == "user"]
    if users and users[-1] < len(sent) - 1:
        sent = sent[: users[-1] + 1]
        notes.append("The last answer is left out: it is what the prompt produces.")
    images = sum(len(turn.images) for turn in sent)
    if images:
        notes.append(f"{images} attached image(s) are left out: a prompt file holds text.")
    if any(turn.tool_calls for turn in sent):
        notes.append("Tool calls in the answers are left out (their text is kept).")
    messages = [PromptMessage(role="system", content=literal(system))] if system.strip() else []
    messages += [PromptMessage(role=turn.role, content=literal(turn.content)) for turn in sent]
    if not messages:
        raise PromptError("There is no system prompt and no message yet: nothing to save.")
    prompt = Prompt(
        name=name,
        description=f"Saved from a chat with {deployment.name}.",
        model=model_ref_for(deployment),
        parameters=parameters_from_request(params),
        messages=messages,
        syntax="jinja2",
    )
    if variable is not None:
        if not VARIABLE_NAME.match(variable):
            raise PromptError(f"{variable!r} cannot be a variable name: use letters, digits and _, not first a digit.")
        if not users:
            raise PromptError("There is no user message to make a variable of.")
        last = prompt.messages[-1]
        prompt.test_data = [{variable: sent[-1].content}]
        prompt.variables = {variable: PromptVariable(name=variable, type="string", declared=True)}
        last.content = "{{" + variable + "}}"
    return prompt, notes


def _save(deployment: Deployment, params: dict[str, object]) -> None:
    name = (st.session_state.get(NAME_KEY) or "").strip()
    fmt: PromptFormat = st.session_state.get(FORMAT_KEY) or "prompty"
    variable = (st.session_state.get(VARIABLE_KEY) or "").strip() if st.session_state.get(AS_VARIABLE_KEY) else None
    try:
        if not name:
            raise PromptError("Give the prompt a name.")
        prompt, notes = prompt_from_chat(
            system_prompt.system_prompt(), chat_state.turns(), params, deployment, name, variable
        )
        saved = save_prompt(prompt, None, fmt)
    except PromptError as err:
        st.session_state[_RESULT] = ("error", f"Not saved: {escape_markdown(str(err))}", None)
        return
    lines = [f"Saved {code_span(saved.path.name)} in the prompt library."]
    lines += [f"- {escape_markdown(text)}" for text in [*notes, *saved.notices]]
    st.session_state[_RESULT] = ("success", "\n".join(lines), saved.path.name)


def _open_saved(file_name: str) -> None:
    try:
        prompt_draft.open_in_editor(load_prompt(file_name))
    except PromptError as err:
        st.session_state[_RESULT] = ("error", escape_markdown(str(err)), None)
        return
    st.session_state[_GOTO] = True


def render_save_as_prompt(deployment: Deployment, values: ParamValues) -> None:
    """The form: name, format, the last user message as a variable or not, Save; then where it was saved."""
    if st.session_state.pop(_GOTO, False):
        st.switch_page(st.Page(lambda: None, title="Prompts", url_path="prompts"))
    try:
        params = build_params(values)  # as set in the panel: the file asks for them even where one is refused
    except JsonFieldError:
        params = None
    st.text_input("Prompt name", key=NAME_KEY, placeholder="e.g. Support answer", persist_state="session")
    st.radio("Format", list(FORMATS), key=FORMAT_KEY, format_func=FORMATS.get, horizontal=True, persist_state="session")
    as_variable = st.checkbox(
        "Make the last user message a variable",
        key=AS_VARIABLE_KEY,
        help="Its text becomes the variable's sample value, so the prompt runs on other input.",
        persist_state="session",
    )
    if as_variable:
        st.session_state.setdefault(VARIABLE_KEY, "question")
        st.text_input("Variable name", key=VARIABLE_KEY, persist_state="session")
    st.button(
        "Save as prompt",
        key="chat_prompt_save",
        icon=":material/description:",
        on_click=_save,
        args=(deployment, params or {}),
        disabled=params is None,
        help="The system prompt, the conversation and the parameters, as a file in the prompt library.",
    )
    if params is None:
        st.caption(":orange[Fix the parameter editors' JSON first.]")
    result = st.session_state.get(_RESULT)
    if result is not None:
        kind, text, file_name = result
        getattr(st, kind)(text)
        if file_name:
            st.button(
                "Open it on the Prompts page",
                key="chat_prompt_open",
                on_click=_open_saved,
                args=(file_name,),
                type="tertiary",
                icon=":material/open_in_new:",
            )
