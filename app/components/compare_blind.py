"""Blind mode for demos: a vote per turn, names revealed on demand, and the session's tally."""

from __future__ import annotations

import streamlit as st

from app.components.compare_state import CompareState
from services.compare_model import ALL_BAD, TIE

TIE_TEXT = "Tie"
ALL_BAD_TEXT = "All bad"


def _on_vote(state: CompareState, index: int, options: dict[str, str]) -> None:
    choice = st.session_state.get(f"compare.vote.{index}")
    if index < len(state.turns):
        state.turns[index].vote = options.get(choice) if choice else None


def render_vote(state: CompareState) -> None:
    """The vote for the last finished turn (which was better, tie, all bad) and the reveal button."""
    if not state.blind or not state.turns or state.running:
        return
    index = len(state.turns) - 1
    turn = state.turns[index]
    labels = state.labels()
    options = {labels[p.uid]: p.uid for p in state.display_order() if p.uid in turn.replies}
    options |= {TIE_TEXT: TIE, ALL_BAD_TEXT: ALL_BAD}
    current = next((text for text, value in options.items() if value == turn.vote), None)
    st.session_state[f"compare.vote.{index}"] = current
    with st.container(border=True, key="compare_vote"):
        st.radio(
            f"Which answer to turn {index + 1} was better?",
            list(options),
            key=f"compare.vote.{index}",
            horizontal=True,
            on_change=_on_vote,
            args=(state, index, options),
        )
        cols = st.columns(2)
        if not state.revealed:
            cols[0].button("Reveal names", key="compare.reveal", on_click=lambda: setattr(state, "revealed", True))
        tally = state.tally()
        votes = sum(tally.values())
        if state.revealed:
            text = ", ".join(f"{name.replace(ALL_BAD, 'all bad')}: {count}" for name, count in tally.most_common())
            cols[1].markdown(f"**Tally this session:** {text or 'no votes yet'}")
        else:
            cols[1].caption(f"{votes} vote(s) recorded this session; reveal names to see the tally.")
