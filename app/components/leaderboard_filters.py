"""The Leaderboard's filters: a time range (a recent span or dates in UTC) and a session tag; the choices survive a
visit to another page."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence

import streamlit as st

from services.store.arena import VoteFilter

ALL_TIME = "All time"
CUSTOM = "Dates (UTC)"
RANGES: dict[str, float | None] = {
    ALL_TIME: None,
    "Last hour": 3600.0,
    "Last 24 hours": 86400.0,
    "Last 7 days": 7 * 86400.0,
    "Last 30 days": 30 * 86400.0,
    CUSTOM: None,
}
ALL_SESSIONS = "\x00all"  # an option value no typed tag can be (tags are one printable line)
RANGE_KEY = "leaderboard.range"
DATES_KEY = "leaderboard.dates"
TAG_KEY = "leaderboard.tag"
PERSIST = "session"


def _day_start(day: dt.date) -> float:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()


def time_window(choice: str, dates: Sequence[dt.date], now: float) -> tuple[float | None, float | None]:
    """(since, until) in epoch seconds for a range choice: a span back from `now`, or whole UTC days from the
    first date to the last (one date: that day)."""
    if choice == CUSTOM and dates:
        first, last = dates[0], dates[-1]
        return _day_start(first), _day_start(last + dt.timedelta(days=1))
    span = RANGES.get(choice)
    return (now - span if span is not None else None), None


def _tag_label(tag: str) -> str:
    if tag == ALL_SESSIONS:
        return "All sessions"
    return tag or "(no tag)"


def render_filters(tags: Sequence[str], now: Callable[[], float] = time.time) -> VoteFilter:
    """The filter row; returns the votes it selects."""
    row = st.container(horizontal=True, vertical_alignment="bottom", key="leaderboard_filters")
    choice = row.selectbox("Time range", list(RANGES), key=RANGE_KEY, persist_state=PERSIST, width=200)
    dates: Sequence[dt.date] = ()
    if choice == CUSTOM:
        today = dt.datetime.now(dt.UTC).date()
        picked = row.date_input(
            "Dates (UTC)", (today - dt.timedelta(days=7), today), key=DATES_KEY, persist_state=PERSIST, width=260
        )
        dates = tuple(picked) if isinstance(picked, tuple | list) else (picked,) if picked else ()
    options = [ALL_SESSIONS, *tags]
    if st.session_state.get(TAG_KEY, ALL_SESSIONS) not in options:
        st.session_state[TAG_KEY] = ALL_SESSIONS  # the tag's votes are gone, or the filters narrowed past it
    tag = row.selectbox(
        "Session tag",
        options,
        key=TAG_KEY,
        format_func=_tag_label,
        persist_state=PERSIST,
        width=260,
        help="The tag typed in the Compare page's blind mode when the votes were cast",
    )
    # A recent span starts on a whole minute, so the figures computed for it stay cached for that minute.
    since, until = time_window(choice, dates, float(int(now()) // 60 * 60))
    return VoteFilter(since=since, until=until, session_tag=None if tag == ALL_SESSIONS else tag)
