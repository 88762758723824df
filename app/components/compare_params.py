"""System prompt and parameters for the compare page: one shared set, and a per-pane set when a pane is unsynced."""

from __future__ import annotations

import math
from typing import Any

import streamlit as st

from app.chat_params import JSON_SCHEMA_PARAM, JsonFieldError, ParamValues, build_params, parse_stop_sequences
from app.components.param_panel import SIMPLE_PARAMS

_SAVED = "compare.saved_settings"
SHARED = "compare.shared"
_MAX_TEXT = 100_000  # a text field longer than this in a link is not one the page wrote
FORMATS = ("default", "text", "json_object", "json_schema")
EXTRA_MODES = ("pass-through", "drop", "error")


def on_name(name: str) -> str:
    """The field name of a numeric control's on/off switch (its key is f"{prefix}.{on_name(name)}")."""
    return f"{name}_on"


# The numeric controls, as on the chat panel: each shows its default and is sent only once its switch is on.
NUMBERS = ("temperature", "top_p", "max_tokens", "seed", "presence_penalty", "frequency_penalty")
# Widget name -> default value; the widgets' session_state keys are f"{prefix}.{name}".
FIELDS: dict[str, Any] = {
    "system": "",
    **{name: SIMPLE_PARAMS[name][2]["value"] for name in NUMBERS},
    **{on_name(name): False for name in NUMBERS},
    "stop": "",
    "format": "default",
    "json_schema": "",
    "tools": "",
    "tool_choice": "auto",
    "model_extras": "",
    "extra_parameters": "pass-through",
}
# Request parameters that are only ever left out together with another one (named instead).
_FOLLOWERS = ("tool_choice", "extra_parameters")


def pane_prefix(uid: str) -> str:
    """The session_state prefix of a pane's own settings widgets."""
    return f"compare.{uid}"


def copy_settings(source_prefix: str, target_prefix: str) -> None:
    """Start a pane's own settings from the shared ones (used when its sync is switched off)."""
    for name, default in FIELDS.items():
        st.session_state[f"{target_prefix}.{name}"] = st.session_state.get(f"{source_prefix}.{name}", default)


def _restore(prefix: str) -> None:
    """Streamlit forgets a widget's value on runs where it is not drawn (another page): bring it back."""
    saved: dict[str, Any] = st.session_state.setdefault(_SAVED, {})
    for name, default in FIELDS.items():
        key = f"{prefix}.{name}"
        if key not in st.session_state:
            st.session_state[key] = saved.get(key, default)


def _remember(prefix: str) -> None:
    saved: dict[str, Any] = st.session_state.setdefault(_SAVED, {})
    for name in FIELDS:
        saved[f"{prefix}.{name}"] = st.session_state.get(f"{prefix}.{name}")


def settings_inputs(prefix: str) -> tuple[str, ParamValues]:
    """Draw the inputs; return the system prompt and the panel values (a control switched off sends nothing)."""
    _restore(prefix)
    st.text_area("System prompt", key=f"{prefix}.system", height=80, placeholder="optional")
    for row in (NUMBERS[:4], NUMBERS[4:]):
        for col, name in zip(st.columns(len(row)), row, strict=True):
            with col:
                _number_input(prefix, name)
    st.text_area("Stop sequences, one per line", key=f"{prefix}.stop", height=68, placeholder="optional")
    fmt = st.selectbox(
        "Response format", FORMATS, key=f"{prefix}.format", help="json_object is JSON mode; json_schema needs a schema"
    )
    if fmt == "json_schema":
        st.text_area("JSON schema", key=f"{prefix}.json_schema", height=100)
    tools = st.text_area(
        "Tools (JSON list of function definitions)", key=f"{prefix}.tools", height=80, placeholder="optional"
    )
    if tools.strip():
        st.text_input("Tool choice", key=f"{prefix}.tool_choice", help="auto, none, required, or a function name")
    extras = st.text_area(
        "model_extras (JSON object of parameters the API does not define)",
        key=f"{prefix}.model_extras",
        height=68,
        placeholder='optional, e.g. {"top_k": 40}',
    )
    if extras.strip():
        st.selectbox(
            "extra-parameters",
            EXTRA_MODES,
            key=f"{prefix}.extra_parameters",
            help="What the endpoint does with parameters the API does not define.",
        )
    _remember(prefix)
    return current_settings(prefix)


def _number_input(prefix: str, name: str) -> None:
    """A switch named for the parameter, and its value below it (greyed, showing the default, while off)."""
    label, _kind, options = SIMPLE_PARAMS[name]
    options = {k: v for k, v in options.items() if k != "value"}
    on = st.checkbox(label, key=f"{prefix}.{on_name(name)}")
    st.number_input(label, key=f"{prefix}.{name}", disabled=not on, label_visibility="collapsed", **options)


def _number(prefix: str, name: str) -> Any:
    """The control's value when its switch is on, else None (not sent)."""
    get = st.session_state.get
    value = get(f"{prefix}.{name}")
    if not get(f"{prefix}.{on_name(name)}") or value is None:
        return None
    return int(value) if SIMPLE_PARAMS[name][1] == "int" else float(value)


def current_settings(prefix: str) -> tuple[str, ParamValues]:
    """The system prompt and panel values held in session state under `prefix` (unset inputs send nothing)."""
    get = st.session_state.get
    fmt = get(f"{prefix}.format") or "default"
    tools = get(f"{prefix}.tools") or ""
    extras = get(f"{prefix}.model_extras") or ""
    values = ParamValues(
        temperature=_number(prefix, "temperature"),
        top_p=_number(prefix, "top_p"),
        max_tokens=_number(prefix, "max_tokens"),
        presence_penalty=_number(prefix, "presence_penalty"),
        frequency_penalty=_number(prefix, "frequency_penalty"),
        stop=parse_stop_sequences(get(f"{prefix}.stop") or ""),
        seed=_number(prefix, "seed"),
        response_format=None if fmt == "default" else fmt,
        json_schema=get(f"{prefix}.json_schema") or "",
        tools=tools,
        tool_choice=(get(f"{prefix}.tool_choice") or "auto").strip() if tools.strip() else None,
        model_extras=extras,
        extra_parameters=(get(f"{prefix}.extra_parameters") or "pass-through") if extras.strip() else None,
    )
    return get(f"{prefix}.system") or "", values


def request_params(values: ParamValues, unsupported: dict[str, str]) -> tuple[dict[str, Any], JsonFieldError | None]:
    """The request parameters, or the editor mistake that stops anything from being sent."""
    try:
        return build_params(values, set(unsupported)), None
    except JsonFieldError as err:
        return {}, err


def not_sent(values: ParamValues, unsupported: dict[str, str]) -> dict[str, str]:
    """The settings in force that build_params leaves out for this deployment: param -> reason.

    A key of model_extras is named on its own; json_schema refused while JSON mode works is named
    "response_format (json_schema)". Nothing is named while an editor holds invalid JSON (its card says so).
    """
    if not unsupported:
        return {}
    try:
        wanted, sent = build_params(values), build_params(values, set(unsupported))
    except JsonFieldError:
        return {}
    left_out: dict[str, str] = {}
    for name in wanted:
        if name in sent or name in _FOLLOWERS:
            continue
        if name in unsupported:
            left_out[name] = unsupported[name]
        elif name == "response_format" and JSON_SCHEMA_PARAM in unsupported:
            left_out["response_format (json_schema)"] = unsupported[JSON_SCHEMA_PARAM]
    kept_extras = sent.get("model_extras", {})
    for name in wanted.get("model_extras", {}):
        if name not in kept_extras and name in unsupported and "model_extras" not in left_out:
            left_out[name] = unsupported[name]
    return left_out


def changed_settings(prefix: str) -> dict[str, Any]:
    """The settings under `prefix` that differ from the defaults, by field name (what a share link carries)."""
    saved: dict[str, Any] = st.session_state.get(_SAVED, {})
    changed: dict[str, Any] = {}
    for name, default in FIELDS.items():
        key = f"{prefix}.{name}"
        value = st.session_state[key] if key in st.session_state else saved.get(key, default)
        if value is not None and value != default:
            changed[name] = value
    return changed


def _clean_value(name: str, value: Any) -> Any:
    """`value` if the field `name` can hold it (type, range, choices), else None."""
    default = FIELDS[name]
    if isinstance(default, bool):
        return value if isinstance(value, bool) else None
    if name in NUMBERS:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return None
        _label, kind, options = SIMPLE_PARAMS[name]
        if kind == "int" and value != int(value):
            return None
        number = int(value) if kind == "int" else float(value)
        return number if options["min_value"] <= number <= options["max_value"] else None
    if not isinstance(value, str) or len(value) > _MAX_TEXT:
        return None
    choices = {"format": FORMATS, "extra_parameters": EXTRA_MODES}.get(name)
    return value if choices is None or value in choices else None


def load_settings(prefix: str, values: dict[str, Any]) -> None:
    """Set the settings under `prefix` from a link: every field to its default, then each value the field can
    hold (a value of the wrong type or out of range is left at the default, never given to a widget)."""
    for name, default in FIELDS.items():
        value = _clean_value(name, values[name]) if name in values else None
        st.session_state[f"{prefix}.{name}"] = default if value is None else value
