"""The evaluation's prompt: one from the library, or a template typed in place with `{{column}}` variables."""

from __future__ import annotations

import streamlit as st

from app.components import eval_form
from app.components.eval_form import Problem
from services.prompts import Prompt, PromptError, PromptMessage, list_prompts, load_prompt, prompts_dir

SOURCE_KEY = "evf_prompt_source"
LIBRARY_KEY = "evf_prompt_file"
USER_KEY = "evf_template_user"
SYSTEM_KEY = "evf_template_system"
FROM_LIBRARY = "From the library"
TYPED = "Type a template"


def typed_prompt(user: str, system: str = "", name: str = "Typed template") -> Prompt:
    """A prompt from a typed user message and optional system prompt, with GitHub's `{{column}}` placeholders."""
    messages = [PromptMessage(role="system", content=system)] if system.strip() else []
    messages.append(PromptMessage(role="user", content=user))
    return Prompt(name=name, messages=messages, syntax="placeholders")


def _library_prompt() -> tuple[Prompt | None, list[Problem]]:
    saved = [row for row in list_prompts() if row.error is None]
    if not saved:
        return None, [Problem(f"The library ({prompts_dir()}) has no prompt that opens; type a template instead.")]
    labels = {row.file_name: f"{row.name} ({row.file_name}.{row.format})" for row in saved}
    eval_form.keep_choices(LIBRARY_KEY, list(labels))
    file_name = st.selectbox(
        "Saved prompt",
        list(labels),
        key=LIBRARY_KEY,
        index=None,
        format_func=labels.__getitem__,
        placeholder="Choose a prompt",
    )
    if file_name is None:
        return None, [Problem("Choose a prompt from the library.", quiet=True)]
    try:
        prompt = load_prompt(file_name)
    except PromptError as err:
        return None, [Problem(f"The prompt {file_name!r} does not open: {err}")]
    st.caption(f"{len(prompt.messages)} messages · variables: {', '.join(prompt.variables) or 'none'}")
    return prompt, []


def _typed_prompt() -> tuple[Prompt | None, list[Problem]]:
    st.text_area(
        "User message template",
        key=USER_KEY,
        height=100,
        placeholder="Answer in one word: {{question}}",
        help="Write {{column}} for a column of the dataset.",
    )
    st.text_area("System prompt (optional)", key=SYSTEM_KEY, height=68)
    user = str(eval_form.value(USER_KEY, "") or "")
    if not user.strip():
        return None, [Problem("Write the user message template.", quiet=True)]
    return typed_prompt(user, str(eval_form.value(SYSTEM_KEY, "") or "")), []


def render_prompt_pick() -> Prompt | None:
    """Draw the prompt choice and return the prompt (None while none is chosen, with the reason next to it)."""
    eval_form.seed(SOURCE_KEY, FROM_LIBRARY if list_prompts() else TYPED)
    source = st.radio("Prompt", [FROM_LIBRARY, TYPED], key=SOURCE_KEY, horizontal=True)
    prompt, problems = _library_prompt() if source == FROM_LIBRARY else _typed_prompt()
    eval_form.show(problems)
    return prompt
