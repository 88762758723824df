"""Leaderboard: the blind votes of the Compare page as ratings, fitted the way LMArena publishes them.

Reads the arena vote store (services.store.arena) under the filters, fits the ratings (services.arena_ratings) once
per change of the votes (cached), and lays out the standings, notes, charts, the Elo-style table and the exports.
With sign-in on a user sees the leaderboard of their own votes; an admin, or everyone with sign-in off, all votes.
"""

from __future__ import annotations

import streamlit as st

from app.auth import current_viewer
from app.components.leaderboard_filters import render_filters
from app.components.leaderboard_view import (
    render_charts,
    render_exports,
    render_notes,
    render_online,
    render_standings,
)
from services.arena_ratings import DEFAULT_ROUNDS, Leaderboard, leaderboard
from services.identity import Viewer
from services.safe_markdown import escape_markdown
from services.store.arena import ArenaStore, ArenaStoreError, VoteFilter

URL_PATH = "leaderboard"


@st.cache_data(show_spinner="Fitting the ratings…", max_entries=16)
def _board(
    where: str,
    viewer: tuple[str | None, bool],
    filt: tuple[float | None, float | None, str | None],
    version: tuple[int, float],
) -> Leaderboard:
    # `where` (the store, without a password), the viewer, the filter and the votes' version are the cache key.
    owner, admin = viewer
    votes = ArenaStore().votes(Viewer(owner=owner, is_admin=admin), VoteFilter(*filt))
    return leaderboard(votes, rounds=DEFAULT_ROUNDS)


def _render_empty(filtered: bool) -> None:
    if filtered:
        st.info("No vote matches these filters.")
        return
    st.info(
        "No votes yet. On the Compare page, turn on Blind mode, send a prompt and pick the better answer: every "
        "vote is counted here."
    )
    st.page_link(
        st.Page(lambda: None, title="Compare", url_path="compare"),
        label="Go to Compare",
        icon=":material/compare_arrows:",
    )


def render() -> None:
    """The Leaderboard page."""
    st.title("Leaderboard")
    st.caption(
        "Ratings from the blind votes on the Compare page: a Bradley-Terry fit with bootstrap 95% intervals, on "
        "LMArena's scale (1000 is average; 100 points apart, the higher wins about 64% of the time)."
    )
    viewer = current_viewer()
    if not viewer.sees_all:
        st.caption("These are your own votes.")
    try:
        store = ArenaStore()
        filt = render_filters(store.session_tags(viewer))
        version = store.version(viewer, filt)
        if version[0] == 0:
            _render_empty(filt != VoteFilter())
            return
        board = _board(
            store.where, (viewer.owner, viewer.is_admin), (filt.since, filt.until, filt.session_tag), version
        )
        counts = st.container(horizontal=True)
        counts.metric("Votes", f"{board.votes:,}")
        counts.metric(
            "Battles",
            f"{board.battles:,}",
            help="Pairwise results: a vote for one of n panes makes n - 1, a tie among n panes n(n - 1)/2",
        )
        counts.metric("Deployments", len(board.standings))
        if not board.standings:
            st.info("These votes compare no two different deployments yet.")
            return
        render_notes(board)
        render_standings(board)
        render_exports(board, store, viewer, filt)
        render_charts(board)
        render_online(board)
    except ArenaStoreError as err:
        st.error(f"The vote store cannot be read: {escape_markdown(str(err))}")
