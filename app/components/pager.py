"""A page-number input over a long list: back to page 1 whenever what is listed changes."""

from __future__ import annotations

import math

import streamlit as st


def render_pager(total: int, size: int, signature: str, *, key: str, noun: str) -> tuple[int, bool]:
    """Draw "Page" and "<Noun> a–b of total · page p of n" for `size` items a page, kept under `key`; return the
    first item's offset and whether `signature` (the filter, sorting, run...) changed since the last draw."""
    pages = max(1, math.ceil(total / size))
    shown = f"{key}__signature"
    changed = st.session_state.get(shown) != signature
    if changed:
        st.session_state[shown] = signature
        st.session_state[key] = 1
    if int(st.session_state.get(key) or 1) > pages:
        st.session_state[key] = pages
    row = st.columns([1.4, 6], vertical_alignment="center")
    page = row[0].number_input("Page", min_value=1, max_value=pages, step=1, key=key)
    offset = (int(page) - 1) * size
    first, last = (offset + 1, min(offset + size, total)) if total else (0, 0)
    row[1].caption(f"{noun} {first:,}–{last:,} of {total:,} · page {int(page)} of {pages}")
    return offset, changed
