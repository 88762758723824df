"""System prompt and parameters for the compare page: one shared set, and a per-pane set when a pane is unsynced."""

from __future__ import annotations

from typing import Any

import streamlit as st

from app.chat_params import JsonFieldError, ParamValues, build_params

_SAVED = "compare.saved_settings"
FORMATS = ("default", "text", "json_object", "json_schema")
DEFAULT_MAX_TOKENS = 256
# Widget name -> default value; the widgets' session_state keys are f"{prefix}.{name}".
FIELDS: dict[str, Any] = {
    "system": "",
    "temperature": None,
    "top_p": None,
    "max_tokens": DEFAULT_MAX_TOKENS,
    "seed": None,
    "format": "default",
    "json_schema": "",
    "tools": "",
    "tool_choice": "auto",
}


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
    """Draw the inputs; return the system prompt and the panel values (unset inputs send nothing)."""
    _restore(prefix)
    st.text_area("System prompt", key=f"{prefix}.system", height=80, placeholder="optional")
    cols = st.columns(4)
    cols[0].number_input(
        "Temperature", min_value=0.0, max_value=2.0, step=0.1, key=f"{prefix}.temperature", placeholder="default"
    )
    cols[1].number_input("Top p", min_value=0.0, max_value=1.0, step=0.05, key=f"{prefix}.top_p")
    cols[2].number_input("Max tokens", min_value=1, max_value=32768, step=16, key=f"{prefix}.max_tokens")
    cols[3].number_input("Seed", min_value=0, step=1, key=f"{prefix}.seed", placeholder="none")
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
    _remember(prefix)
    return current_settings(prefix)


def current_settings(prefix: str) -> tuple[str, ParamValues]:
    """The system prompt and panel values held in session state under `prefix` (unset inputs send nothing)."""
    get = st.session_state.get
    fmt = get(f"{prefix}.format") or "default"
    tools = get(f"{prefix}.tools") or ""
    max_tokens, seed = get(f"{prefix}.max_tokens"), get(f"{prefix}.seed")
    values = ParamValues(
        temperature=get(f"{prefix}.temperature"),
        top_p=get(f"{prefix}.top_p"),
        max_tokens=int(max_tokens) if max_tokens is not None else None,
        seed=int(seed) if seed is not None else None,
        response_format=None if fmt == "default" else fmt,
        json_schema=get(f"{prefix}.json_schema") or "",
        tools=tools,
        tool_choice=(get(f"{prefix}.tool_choice") or "auto").strip() if tools.strip() else None,
    )
    return get(f"{prefix}.system") or "", values


def request_params(values: ParamValues, unsupported: dict[str, str]) -> tuple[dict[str, Any], JsonFieldError | None]:
    """The request parameters, or the editor mistake that stops anything from being sent."""
    try:
        return build_params(values, set(unsupported)), None
    except JsonFieldError as err:
        return {}, err
