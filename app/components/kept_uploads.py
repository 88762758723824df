"""Uploaded files kept in the session, so they outlive a visit to another page or tab.

Streamlit forgets a file_uploader's files once a run does not draw it. These helpers copy the files into session
state when the uploader changes, and hand them back as the current input when the uploader comes back empty.
Each file is bounded by the server's upload limit (`server.maxUploadSize`); the kept set by `MAX_KEPT_BYTES`.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

# Kept bytes per list of files: enough for a hundred large photos, small next to the process's memory.
MAX_KEPT_BYTES = 200 * 2**20


@dataclass(frozen=True)
class KeptFile:
    """An uploaded file's name and bytes, as kept in the session."""

    name: str
    data: bytes


def remember_one(widget_key: str, kept_key: str) -> None:
    """on_change of a single-file uploader: keep its file, or forget it when the user removed it."""
    upload = st.session_state.get(widget_key)
    if upload is None:
        st.session_state.pop(kept_key, None)
    else:
        st.session_state[kept_key] = KeptFile(upload.name, upload.getvalue())


def kept_one(kept_key: str) -> KeptFile | None:
    """The file kept under `kept_key`, if any."""
    return st.session_state.get(kept_key)


def keep_one(kept_key: str, file: KeptFile) -> None:
    """Make `file` the kept file (for input that did not come through the uploader, such as a moved paste)."""
    st.session_state[kept_key] = file


def forget(kept_key: str) -> None:
    """Drop what is kept under `kept_key`."""
    st.session_state.pop(kept_key, None)


def remember_many(widget_key: str, current_key: str) -> None:
    """on_change of a multi-file uploader: keep the files it now holds (within MAX_KEPT_BYTES)."""
    files = st.session_state.get(widget_key) or []
    st.session_state[current_key] = _bounded([KeptFile(f.name, f.getvalue()) for f in files])


def carry_over(widget_key: str, current_key: str, earlier_key: str) -> None:
    """Call before drawing a multi-file uploader: when it comes back empty after a run that did not draw it, the
    files it held move to `earlier_key` (shown apart, with a way to remove them)."""
    current: list[KeptFile] = st.session_state.get(current_key) or []
    if widget_key in st.session_state or not current:
        return
    earlier: list[KeptFile] = st.session_state.get(earlier_key) or []
    st.session_state[earlier_key] = _bounded(earlier + [f for f in current if f not in earlier])
    st.session_state[current_key] = []


def kept_many(earlier_key: str) -> list[KeptFile]:
    """Files uploaded before the uploader was last drawn afresh."""
    return list(st.session_state.get(earlier_key) or [])


def _bounded(files: list[KeptFile]) -> list[KeptFile]:
    kept: list[KeptFile] = []
    total = 0
    for file in files:
        total += len(file.data)
        if total > MAX_KEPT_BYTES:
            break
        kept.append(file)
    return kept


def size_text(size: int) -> str:
    """A byte count as people read it (KB below a megabyte)."""
    return f"{size / 2**20:.1f} MB" if size >= 2**20 else f"{max(size / 2**10, 0.1):.1f} KB"
