"""The Leaderboard's figures: the standings with their intervals, the notes a small or split sample needs, the
ratings chart, the win-rate heatmap, the online Elo-style table and the CSV downloads."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from services.arena_export import standings_csv, votes_csv
from services.arena_ratings import K_FACTOR, MIN_BATTLES, Leaderboard
from services.identity import Viewer
from services.store.arena import ArenaStore, VoteFilter

CHART_HEIGHT = 420


def standings_frame(board: Leaderboard) -> pd.DataFrame:
    """One row per deployment, best first: rank, rating, 95% interval (as LMArena shows it) and the tallies."""
    rows = [
        {
            "Rank": s.rank,
            "Deployment": s.deployment,
            "Rating": round(s.rating),
            "95% CI": f"+{round(s.upper - s.rating)} / -{round(s.rating - s.lower)}",
            "Wins": s.wins,
            "Losses": s.losses,
            "Ties": s.ties,
            "All bad": s.all_bad,
            "Votes": s.votes,
        }
        | ({"Group": s.group} if board.groups > 1 else {})
        for s in board.standings
    ]
    return pd.DataFrame(rows)


def online_frame(board: Leaderboard) -> pd.DataFrame:
    """The online Elo-style ratings, highest first, with the battles each played."""
    ordered = sorted(board.standings, key=lambda s: (-s.online, s.deployment))
    rows = [{"Deployment": s.deployment, "Elo": round(s.online), "Battles": s.battles} for s in ordered]
    return pd.DataFrame(rows)


def render_notes(board: Leaderboard) -> None:
    """What the reader must know before trusting the order: too few votes, or deployments that never met."""
    if board.needs_more_votes:
        fewest = min((s.battles for s in board.standings), default=0)
        st.info(
            f"More votes are needed: {board.votes:,} vote(s) so far, and some deployment has only {fewest} "
            f"comparison(s). Until each has about {MIN_BATTLES}, the intervals stay wide and the order can change "
            "with the next few votes; deployments whose intervals overlap share a rank."
        )
    if board.groups > 1:
        st.warning(
            f"The deployments fall into {board.groups} groups that were never compared with each other (the Group "
            "column): ratings can be compared only within a group."
        )


def render_standings(board: Leaderboard) -> None:
    """The standings table."""
    st.dataframe(
        standings_frame(board),
        hide_index=True,
        key="leaderboard_table",
        column_config={
            "Rank": st.column_config.NumberColumn(help="1 + how many deployments are better beyond their intervals"),
            "Rating": st.column_config.NumberColumn(help="Bradley-Terry rating (LMArena's scale: 1000 is average)"),
            "95% CI": st.column_config.TextColumn(help="Bootstrap 95% interval around the rating"),
            "Votes": st.column_config.NumberColumn(help="Votes on turns where this deployment answered"),
        },
    )


def ratings_figure(board: Leaderboard) -> go.Figure:
    """Each rating as a point with its 95% interval as error bars, best first."""
    standings = board.standings
    figure = go.Figure(
        go.Scatter(
            x=[s.deployment for s in standings],
            y=[s.rating for s in standings],
            mode="markers",
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [s.upper - s.rating for s in standings],
                "arrayminus": [s.rating - s.lower for s in standings],
            },
            hovertemplate="%{x}: %{y:.0f}<extra></extra>",
        )
    )
    figure.update_layout(
        title="Rating with 95% interval", yaxis_title="Rating", height=CHART_HEIGHT, margin={"t": 50, "b": 10}
    )
    return figure


def win_rate_figure(board: Leaderboard) -> go.Figure:
    """The row deployment's share of wins against the column deployment (ties left out; blank where none)."""
    names = board.deployments
    rates = board.win_rate
    text = [["" if math.isnan(v) else f"{v:.2f}" for v in row] for row in rates]
    figure = go.Figure(
        go.Heatmap(
            z=np.where(np.isnan(rates), None, rates).tolist(),
            x=names,
            y=names,
            text=text,
            texttemplate="%{text}",
            colorscale="RdBu",
            zmin=0.0,
            zmax=1.0,
            hovertemplate="%{y} beat %{x} in %{z:.0%} of their decided battles<extra></extra>",
        )
    )
    figure.update_layout(
        title="Win rate (row beats column)",
        xaxis={"side": "top"},
        yaxis={"autorange": "reversed"},
        height=CHART_HEIGHT,
        margin={"t": 90, "b": 10},
    )
    return figure


def render_charts(board: Leaderboard) -> None:
    """The ratings chart and the win-rate heatmap side by side."""
    left, right = st.columns(2)
    left.plotly_chart(ratings_figure(board), key="leaderboard_ratings_chart")
    right.plotly_chart(win_rate_figure(board), key="leaderboard_win_rate")


def render_online(board: Leaderboard) -> None:
    """The online Elo-style table, with what makes it differ from the fitted ratings."""
    st.subheader("Elo-style ratings", anchor=False)
    st.caption(
        f"Votes replayed in the order they were cast, each moving both sides by K={K_FACTOR:g} times the surprise "
        "(as LMArena's online Elo). It depends on the order of the votes; the fitted ratings above do not."
    )
    st.dataframe(online_frame(board), hide_index=True, key="leaderboard_online")


def _votes_file(store: ArenaStore, viewer: Viewer, filt: VoteFilter) -> Callable[[], str]:
    def build() -> str:
        return votes_csv(store.votes(viewer, filt))

    return build


def render_exports(board: Leaderboard, store: ArenaStore, viewer: Viewer, filt: VoteFilter) -> None:
    """Downloads of the standings and of the votes behind them (made when clicked)."""
    row = st.container(horizontal=True, gap="small", vertical_alignment="center")
    row.download_button(
        "Export CSV",
        standings_csv(board),
        file_name="leaderboard.csv",
        mime="text/csv",
        key="leaderboard_export",
        icon=":material/download:",
        on_click="ignore",
    )
    row.download_button(
        "Export votes CSV",
        _votes_file(store, viewer, filt),
        file_name="leaderboard-votes.csv",
        mime="text/csv",
        key="leaderboard_export_votes",
        icon=":material/download:",
        on_click="ignore",
    )
