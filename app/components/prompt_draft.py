"""The Prompts page's editor state: the prompt as opened (the base) and the editor's inputs, kept in session_state.

Every input of the page keeps its value for the whole session (`persist_state="session"`), so nothing typed is lost
on an error, a rerun or a visit to another page. The draft is the base with the inputs applied; it is built again on
every run (and inside callbacks, which see the inputs' new values).
"""

from __future__ import annotations

import json
from typing import Any, Literal

import streamlit as st

from app.chat_params import JSON_SCHEMA_PARAM, JsonFieldError, parse_json_editor, parse_stop_sequences
from services.prompts import (
    Prompt,
    PromptMessage,
    PromptParameters,
    PromptTemplateError,
    PromptVariable,
    prompt_variables,
)

PERSIST: Literal["session"] = "session"  # every input of the page: kept across reruns and other pages
_BASE = "prompts.base"
_MESSAGE_IDS = "prompts.message_ids"
_NEXT_ID = "prompts.next_id"
_NOTICE = "prompts.notice"
RUN_KEY = "prompts.run"  # the last run (app.components.prompt_run)
_INPUT = "prompts.in."
NAME_KEY = "prompts.in.name"
DESCRIPTION_KEY = "prompts.in.description"
SEARCH_KEY = "prompts.in.search"
DEPLOYMENT_KEY = "prompts.in.deployment"
NUMBERS: dict[str, type] = {
    "max_tokens": int,
    "temperature": float,
    "top_p": float,
    "seed": int,
    "presence_penalty": float,
    "frequency_penalty": float,
}
FORMATS = ("default", "text", "json_object", "json_schema")
NoticeKind = Literal["success", "info", "warning", "error"]


def role_key(message_id: int) -> str:
    """The key of a message's role picker."""
    return f"{_INPUT}role.{message_id}"


def text_key(message_id: int) -> str:
    """The key of a message's template editor."""
    return f"{_INPUT}text.{message_id}"


def param_key(name: str) -> str:
    """The key of a parameter's input (numbers, `stop`, `format`, `json_schema`, `extra`)."""
    return f"{_INPUT}param.{name}"


def variable_key(name: str) -> str:
    """The key of a variable's value input."""
    return f"{_INPUT}var.{name}"


def base() -> Prompt | None:
    """The prompt as opened or last saved (None: nothing is open)."""
    return st.session_state.get(_BASE)


def message_ids() -> list[int]:
    """The editor's messages, in order, by id (ids never repeat, so a removed message's inputs are not reused)."""
    return st.session_state.setdefault(_MESSAGE_IDS, [])


def json_key(name: str) -> str:
    """The key of a variable's "JSON value" switch (on when the sample gave a list, a number, an object...)."""
    return f"{_INPUT}json.{name}"


def is_json(name: str) -> bool:
    """True when the variable's value is typed as JSON."""
    return bool(st.session_state.get(json_key(name)))


def notice() -> tuple[NoticeKind, str] | None:
    """The page's one-off message (kind, markdown text), shown above the library."""
    return st.session_state.get(_NOTICE)


def set_notice(kind: NoticeKind | None, text: str = "") -> None:
    """Show `text` until it is replaced; None clears it."""
    st.session_state[_NOTICE] = (kind, text) if kind is not None else None


def _clear_inputs(*, keep: tuple[str, ...] = ()) -> None:
    """Forget the editor's inputs (the search box and the names in `keep` stay)."""
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(_INPUT)]:
        if key not in (SEARCH_KEY, *keep):
            del st.session_state[key]


def add_message(role: str, content: str) -> None:
    """Append a message to the editor (from a callback, or before the editor is drawn)."""
    new_id = st.session_state.get(_NEXT_ID, 0)
    st.session_state[_NEXT_ID] = new_id + 1
    message_ids().append(new_id)
    st.session_state[role_key(new_id)] = role
    st.session_state[text_key(new_id)] = content


def remove_message(message_id: int) -> None:
    """Take a message out of the editor (a callback)."""
    ids = message_ids()
    if message_id in ids:
        ids.remove(message_id)
    for key in (role_key(message_id), text_key(message_id)):
        st.session_state.pop(key, None)


def move_message(message_id: int, step: int) -> None:
    """Move a message up (-1) or down (+1) (a callback)."""
    ids = message_ids()
    index = ids.index(message_id)
    target = index + step
    if 0 <= target < len(ids):
        ids[index], ids[target] = ids[target], ids[index]


def _value_text(value: Any) -> tuple[str, bool]:
    """A variable's value as the text to edit, and whether it is edited as JSON."""
    if isinstance(value, str):
        return value, False
    return json.dumps(value, ensure_ascii=False, indent=2), True


def open_in_editor(prompt: Prompt, *, keep_values: bool = False) -> None:
    """Make `prompt` the base and fill every input from it (call from a callback, before the inputs are drawn).

    `keep_values` keeps the variable values typed so far and the deployment picked (after a save, which reloads the
    file as written); otherwise the run pane picks the deployment the file's model names again.
    """
    typed = (f"{_INPUT}var.", f"{_INPUT}json.")
    values = {k: v for k, v in st.session_state.items() if isinstance(k, str) and k.startswith(typed)}
    _clear_inputs(keep=(DEPLOYMENT_KEY,) if keep_values else ())
    if not keep_values:
        st.session_state.pop(RUN_KEY, None)  # another prompt: the last answer was to something else
    st.session_state[_BASE] = prompt
    st.session_state[_MESSAGE_IDS] = []
    for message in prompt.messages:
        add_message(message.role, message.content)
    st.session_state[NAME_KEY] = prompt.name
    st.session_state[DESCRIPTION_KEY] = prompt.description
    params = prompt.parameters
    for name, kind in NUMBERS.items():
        value = getattr(params, name)
        st.session_state[param_key(name)] = kind(value) if value is not None else None
    st.session_state[param_key("stop")] = "\n".join(params.stop or [])
    st.session_state[param_key("format")] = params.response_format or "default"
    st.session_state[param_key("json_schema")] = json.dumps(params.json_schema, indent=2) if params.json_schema else ""
    st.session_state[param_key("extra")] = json.dumps(params.extra, indent=2) if params.extra else ""
    for name, value in prompt.initial_values().items():
        st.session_state[variable_key(name)], st.session_state[json_key(name)] = _value_text(value)
    if keep_values:
        st.session_state.update(values)


def new_prompt() -> None:
    """Open an empty prompt: a system message and a user message with one variable (a callback)."""
    open_in_editor(
        Prompt(
            messages=[
                PromptMessage(role="system", content="You are a helpful assistant."),
                PromptMessage(role="user", content="{{question}}"),
            ],
            variables={"question": PromptVariable(name="question")},
            syntax="jinja2",
        )
    )


def close_editor() -> None:
    """Nothing open any more (after a delete)."""
    _clear_inputs()
    st.session_state.pop(RUN_KEY, None)
    st.session_state[_BASE] = None
    st.session_state[_MESSAGE_IDS] = []


def _json_schema(text: str) -> dict[str, Any] | None:
    if not text.strip():
        return None
    value = parse_json_editor("JSON schema", text)
    if not isinstance(value, dict):
        raise JsonFieldError("JSON schema", "expected an object")
    # A bare schema is accepted and wrapped, as in the chat page's editor.
    return dict(value) if "schema" in value else {"name": "response", "schema": value}


def parameters() -> PromptParameters:
    """The parameters as the inputs hold them; JsonFieldError when an editor's JSON does not parse."""
    get = st.session_state.get
    out = PromptParameters()
    for name, kind in NUMBERS.items():
        value = get(param_key(name))
        setattr(out, name, kind(value) if value is not None else None)
    out.stop = parse_stop_sequences(get(param_key("stop")) or "")
    fmt = get(param_key("format")) or "default"
    if fmt != "default":
        out.response_format = fmt
        if fmt == "json_schema":
            out.json_schema = _json_schema(get(param_key("json_schema")) or "")
            if out.json_schema is None:
                raise JsonFieldError("JSON schema", "the json_schema format needs a schema")
    extra_text = get(param_key("extra")) or ""
    if extra_text.strip():
        extra = parse_json_editor("Other parameters", extra_text)
        if not isinstance(extra, dict):
            raise JsonFieldError("Other parameters", "expected an object of parameter names and values")
        out.extra = extra
    return out


def messages() -> list[PromptMessage]:
    """The message templates as the editor holds them."""
    get = st.session_state.get
    return [PromptMessage(role=get(role_key(i)) or "user", content=get(text_key(i)) or "") for i in message_ids()]


def variable_values(names: list[str]) -> tuple[dict[str, Any], list[str]]:
    """The values typed for `names`, and a sentence for each JSON value that does not parse."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name in names:
        text = st.session_state.get(variable_key(name), "")
        if is_json(name):
            try:
                values[name] = json.loads(text)
            except json.JSONDecodeError as err:
                problems.append(f"{name}: not JSON ({err.msg} at line {err.lineno}, column {err.colno}).")
        else:
            values[name] = text
    return values, problems


def draft(*, with_sample: bool = False) -> Prompt:
    """The base with the editor's inputs applied; JsonFieldError when a parameter editor holds invalid JSON.

    Variables follow the templates (declared ones are kept). `with_sample` writes the values typed for the variables
    into the first test data row (Prompty's `sample`), as a save does.
    """
    opened = base() or Prompt()
    out = opened.model_copy(
        deep=True,
        update={
            "name": (st.session_state.get(NAME_KEY) or "").strip(),
            "description": st.session_state.get(DESCRIPTION_KEY) or "",
            "messages": messages(),
            "parameters": parameters(),
        },
    )
    try:
        found = prompt_variables(out)
    except PromptTemplateError:
        found = list(opened.variables)  # a template that does not parse: keep what was known
    variables = {name: opened.variables.get(name) or PromptVariable(name=name) for name in found}
    variables.update({name: v for name, v in opened.variables.items() if v.declared and name not in variables})
    out.variables = variables
    if with_sample and variables:
        values, _ = variable_values([n for n in variables if variable_key(n) in st.session_state])
        row = dict(out.test_data[0]) if out.test_data else {}
        row.update(values)
        out.test_data = [row, *out.test_data[1:]]
    return out


def edited(current: Prompt) -> bool:
    """True when the draft differs from the base in what the editor shows (unsaved changes)."""
    opened = base()
    if opened is None:
        return False
    if opened.path is None:
        return True

    def shown(p: Prompt) -> tuple[Any, ...]:
        return (p.name, p.description, [(m.role, m.content) for m in p.messages], p.parameters.model_dump())

    return shown(current) != shown(opened)


def drop_parameter(name: str) -> None:
    """Stop sending a parameter whose value the deployment refused (a callback: the input is emptied)."""
    if name in NUMBERS:
        st.session_state[param_key(name)] = None
    elif name == "stop":
        st.session_state[param_key("stop")] = ""
    elif name in ("response_format", JSON_SCHEMA_PARAM):
        st.session_state[param_key("format")] = "default"
    else:
        try:
            extra = json.loads(st.session_state.get(param_key("extra")) or "{}")
        except json.JSONDecodeError:
            return
        if isinstance(extra, dict) and name in extra:
            del extra[name]
            if name == "tools":
                extra.pop("tool_choice", None)
            st.session_state[param_key("extra")] = json.dumps(extra, indent=2) if extra else ""
