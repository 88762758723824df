"""The chat parameter panel: every API parameter, each off until switched on (an unset control sends nothing)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from app.chat_params import JSON_SCHEMA_PARAM, ParamValues, parse_stop_sequences

SCHEMA_EXAMPLE = """{
  "name": "answer",
  "schema": {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"]
  },
  "strict": true
}"""
TOOLS_EXAMPLE = """[
  {
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {
      "type": "object",
      "properties": {"city": {"type": "string"}},
      "required": ["city"]
    }
  }
]"""
# name -> (label, kind, widget options)
SIMPLE_PARAMS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "temperature": ("Temperature", "slider", {"min_value": 0.0, "max_value": 2.0, "value": 0.7, "step": 0.05}),
    "top_p": ("Top p", "slider", {"min_value": 0.0, "max_value": 1.0, "value": 1.0, "step": 0.05}),
    "max_tokens": ("Max tokens", "int", {"min_value": 1, "max_value": 128_000, "value": 256, "step": 1}),
    "presence_penalty": ("Presence penalty", "slider", {"min_value": -2.0, "max_value": 2.0, "value": 0.0}),
    "frequency_penalty": ("Frequency penalty", "slider", {"min_value": -2.0, "max_value": 2.0, "value": 0.0}),
    "seed": ("Seed", "int", {"min_value": 0, "max_value": 2**31 - 1, "value": 42, "step": 1}),
}


def on_key(name: str) -> str:
    """The session_state key of a parameter's on/off switch."""
    return f"p_{name}_on"


def value_key(name: str) -> str:
    """The session_state key of a parameter's value widget."""
    return f"p_{name}"


def _switch(name: str, label: str, unsupported: dict[str, str]) -> bool:
    reason = unsupported.get(name)
    if reason is not None:
        # The deployment rejected it: switch it off and say why, so it is never sent again by accident.
        st.session_state[on_key(name)] = False
        st.checkbox(label, key=on_key(name), disabled=True)
        st.caption(f":orange[Not supported by this deployment: {reason}]")
        return False
    return st.checkbox(label, key=on_key(name))


def _simple(name: str, unsupported: dict[str, str]) -> Any:
    label, kind, options = SIMPLE_PARAMS[name]
    if not _switch(name, label, unsupported):
        return None
    options = dict(options)
    default = options.pop("value")
    key = value_key(name)
    st.session_state.setdefault(key, default)
    if kind == "slider":
        return float(st.slider(label, key=key, label_visibility="collapsed", **options))
    return int(st.number_input(label, key=key, label_visibility="collapsed", **options))


def render_param_panel(unsupported: dict[str, str]) -> ParamValues:
    """Draw the panel and return its values; `unsupported` (param -> reason) disables the refused controls."""
    values = ParamValues()
    for name in ("temperature", "top_p", "max_tokens", "presence_penalty", "frequency_penalty", "seed"):
        setattr(values, name, _simple(name, unsupported))
    if _switch("stop", "Stop sequences", unsupported):
        text = st.text_area("Stop sequences, one per line", key=value_key("stop"), height=68)
        values.stop = parse_stop_sequences(text)
    if _switch("response_format", "Response format", unsupported):
        formats = ("text", "json_object", "json_schema")
        if JSON_SCHEMA_PARAM in unsupported:
            formats = formats[:2]
            st.caption(f":orange[json_schema is not supported by this deployment: {unsupported[JSON_SCHEMA_PARAM]}]")
            if st.session_state.get(value_key("response_format")) == "json_schema":
                st.session_state[value_key("response_format")] = "json_object"
        values.response_format = st.radio(
            "Response format",
            formats,
            key=value_key("response_format"),
            horizontal=True,
            label_visibility="collapsed",
        )
        if values.response_format == "json_schema":
            st.session_state.setdefault(value_key("json_schema"), SCHEMA_EXAMPLE)
            values.json_schema = st.text_area("JSON schema", key=value_key("json_schema"), height=180)
    if _switch("tools", "Tools (function definitions)", unsupported):
        st.session_state.setdefault(value_key("tools"), TOOLS_EXAMPLE)
        values.tools = st.text_area("Tools JSON", key=value_key("tools"), height=200)
        choice = st.text_input(
            "tool_choice", key=value_key("tool_choice"), help="auto, none, required, or a function name"
        ).strip()
        values.tool_choice = choice or None
    if _switch("model_extras", "model_extras", unsupported):
        st.session_state.setdefault(value_key("model_extras"), "{}")
        values.model_extras = st.text_area("model_extras JSON", key=value_key("model_extras"), height=100)
        values.extra_parameters = st.selectbox(
            "extra-parameters",
            ("pass-through", "drop", "error"),
            key=value_key("extra_parameters"),
            help="What the endpoint does with parameters the API does not define.",
        )
    return values


def switch_off(name: str) -> None:
    """Switch a parameter's control off (it is then not sent); model_extras keys switch off the whole editor."""
    known = on_key(name) in st.session_state
    st.session_state[on_key(name if known else "model_extras")] = False


def load_values(values: ParamValues) -> None:
    """Set the panel's widgets from values (call from a callback, before the panel is drawn)."""
    for name in SIMPLE_PARAMS:
        value = getattr(values, name)
        st.session_state[on_key(name)] = value is not None
        if value is not None:
            st.session_state[value_key(name)] = value
    st.session_state[on_key("stop")] = values.stop is not None
    st.session_state[value_key("stop")] = "\n".join(values.stop or [])
    st.session_state[on_key("response_format")] = values.response_format is not None
    if values.response_format is not None:
        st.session_state[value_key("response_format")] = values.response_format
    if values.json_schema:
        st.session_state[value_key("json_schema")] = values.json_schema
    st.session_state[on_key("tools")] = bool(values.tools)
    if values.tools:
        st.session_state[value_key("tools")] = values.tools
        st.session_state[value_key("tool_choice")] = values.tool_choice or ""
    st.session_state[on_key("model_extras")] = bool(values.model_extras)
    if values.model_extras:
        st.session_state[value_key("model_extras")] = values.model_extras
        st.session_state[value_key("extra_parameters")] = values.extra_parameters or "pass-through"
