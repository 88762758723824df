"""The system prompt editor with built-in presets and the user's own, saved for the session."""

from __future__ import annotations

import streamlit as st

from app.chat_state import SYSTEM_PROMPT_KEY

BUILT_IN_PRESETS: dict[str, str] = {
    "Helpful assistant": "You are a helpful assistant.",
    "Concise": "You are a helpful assistant. Answer in at most two sentences.",
    "JSON only": "Answer only with a JSON object, no prose and no code fences.",
    "Teacher": "You are a patient teacher. Explain step by step, with one short example.",
    "None": "",
}
_USER_PRESETS = "chat_user_presets"
_PRESET_PICK = "chat_preset_pick"
_PRESET_NAME = "chat_preset_name"


def user_presets() -> dict[str, str]:
    """Presets the user saved in this session: name -> prompt."""
    return st.session_state.setdefault(_USER_PRESETS, {})


def all_presets() -> dict[str, str]:
    """Built-in presets, then the user's (a user preset may not shadow a built-in one)."""
    return {**BUILT_IN_PRESETS, **{f"★ {name}": text for name, text in user_presets().items()}}


def _apply_preset() -> None:
    name = st.session_state.get(_PRESET_PICK)
    presets = all_presets()
    if name in presets:
        st.session_state[SYSTEM_PROMPT_KEY] = presets[name]


def _save_preset() -> None:
    name = (st.session_state.get(_PRESET_NAME) or "").strip()
    if name:
        user_presets()[name] = st.session_state.get(SYSTEM_PROMPT_KEY, "")
        st.session_state[_PRESET_PICK] = f"★ {name}"
        st.session_state[_PRESET_NAME] = ""


def system_prompt() -> str:
    """The current system prompt text."""
    return st.session_state.get(SYSTEM_PROMPT_KEY, BUILT_IN_PRESETS["Helpful assistant"])


def set_system_prompt(text: str) -> None:
    """Replace the system prompt (call from a callback, before the editor is drawn)."""
    st.session_state[SYSTEM_PROMPT_KEY] = text


def render_system_prompt() -> str:
    """Draw the preset picker and the editor; return the prompt."""
    st.session_state.setdefault(SYSTEM_PROMPT_KEY, BUILT_IN_PRESETS["Helpful assistant"])
    # Nothing is picked at first; set through session_state so no widget default competes with kept state.
    st.session_state.setdefault(_PRESET_PICK, None)
    st.selectbox(
        "Preset", list(all_presets()), key=_PRESET_PICK, on_change=_apply_preset, placeholder="Choose a preset…"
    )
    text = st.text_area("System prompt", key=SYSTEM_PROMPT_KEY, height=100)
    row = st.container(horizontal=True, vertical_alignment="bottom", gap="small")
    row.text_input("Save as preset", key=_PRESET_NAME, placeholder="preset name", label_visibility="collapsed")
    row.button("Save preset", key="chat_preset_save", on_click=_save_preset)
    return text
