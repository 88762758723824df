"""The evaluation form's memory: what the user typed survives errors, reruns and visits to other pages.

Every value widget of the form has a key starting with PREFIX. Streamlit forgets a widget's value on a run where the
widget is not drawn (another page), so each run of this page copies the values into a plain session dict and puts
back the ones Streamlit dropped. Problems found when checking the form are kept per field, so each shows next to
its field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import streamlit as st

from services.safe_markdown import escape_markdown

PREFIX = "evf_"
_SAVED = "evals.saved_inputs"
_TRIED = "evals.tried"


def remember() -> None:
    """Keep the form's current values, and restore those a visit to another page dropped (once per page run)."""
    saved: dict[str, Any] = st.session_state.setdefault(_SAVED, {})
    for key in list(st.session_state.keys()):
        if isinstance(key, str) and key.startswith(PREFIX):
            saved[key] = st.session_state[key]
    for key, value in saved.items():
        if key not in st.session_state:
            st.session_state[key] = value


def value(key: str, default: Any = None) -> Any:
    """The form field's value (its default before it was drawn)."""
    return st.session_state.get(key, default)


def seed(key: str, default: Any) -> None:
    """Give a field its first value (widgets are drawn with their key only, so nothing typed is overwritten)."""
    if key not in st.session_state:
        st.session_state[key] = default


def keep_choices(key: str, options: Sequence[Any], *, many: bool = False) -> None:
    """Drop a remembered choice that is no longer offered (a deployment or prompt that went away)."""
    if key not in st.session_state:
        return
    current = st.session_state[key]
    if many:
        st.session_state[key] = [item for item in current or [] if item in options]
    elif current not in options:
        del st.session_state[key]


def mark_tried() -> None:
    """Run was pressed: from now on, fields still empty say so too."""
    st.session_state[_TRIED] = True


def tried() -> bool:
    """True once Run was pressed (until a run starts)."""
    return bool(st.session_state.get(_TRIED))


def reset_tried() -> None:
    """A run started: empty fields go quiet again."""
    st.session_state[_TRIED] = False


@dataclass(frozen=True)
class Problem:
    """Something that stops the run, in words; `quiet` ones (a field left empty) show only once Run was pressed."""

    text: str
    quiet: bool = False


def show(problems: Sequence[Problem]) -> None:
    """Draw the field's problems (the words may hold names the user typed: shown as text, never as markdown)."""
    for problem in problems:
        if problem.quiet and not tried():
            continue
        st.error(escape_markdown(problem.text), icon=":material/error:")
