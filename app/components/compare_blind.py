"""Blind mode for demos: a vote per turn, names revealed on demand, and the session's tally.

Every vote is also saved to the arena vote store (services.store.arena) with the prompt, the panes' deployments and
trace ids, the voter and the session tag typed here, so the Leaderboard page counts it; changing the vote on a turn
replaces the saved one, and "Withdraw vote" deletes it.
"""

from __future__ import annotations

import secrets

import streamlit as st

from app.auth import current_viewer
from app.components.compare_state import CompareState
from services.compare_model import ALL_BAD, TIE, PaneReply, Turn
from services.errors import InferenceError
from services.safe_markdown import escape_markdown
from services.store import arena
from services.store.arena import ArenaStore, ArenaStoreError

TIE_TEXT = "Tie"
ALL_BAD_TEXT = "All bad"
TAG_WIDGET = "compare.session_tag"
# Each voted turn's key in the store, kept with the session (the tag box keeps its own value too).
_VOTE_IDS = "arena.vote_ids"
_PROBLEM = "arena.save_problem"
_RADIO_ROUND = "arena.radio_round"  # turn index -> how many times its vote was withdrawn (the radio's key suffix)


def session_tag() -> str:
    """The session tag typed in blind mode ("" when none), as the store keeps it."""
    return arena.clean_tag(st.session_state.get(TAG_WIDGET, ""))


def _vote_id(state: CompareState, turn: Turn) -> str:
    """The turn's key in the vote store: made on its first vote and kept while the turn is in the conversation."""
    known: list[tuple[Turn, str]] = st.session_state.setdefault(_VOTE_IDS, [])
    for seen, vote_id in known:
        if seen is turn:
            return vote_id
    # Turns of a cleared conversation cannot be voted on again: their keys are dropped.
    known[:] = [(seen, vote_id) for seen, vote_id in known if any(seen is t for t in state.turns)]
    vote_id = secrets.token_hex(16)
    known.append((turn, vote_id))
    return vote_id


def _trace_id(reply: PaneReply) -> str | None:
    """The trace of the call that made the reply: its metrics carry it, a failed call's error too."""
    if reply.metrics is not None and reply.metrics.trace_id:
        return reply.metrics.trace_id
    return reply.error.trace_id if isinstance(reply.error, InferenceError) else None


def _save(state: CompareState, turn: Turn) -> None:
    """Save (or replace, or withdraw) the turn's vote in the arena store; a failure is kept to be shown."""
    st.session_state.pop(_PROBLEM, None)
    replies = list(turn.replies.values())
    if len(replies) < 2:
        return  # one answer alone compares nothing
    # The voter judged each pane's last answer (after its tool rounds): its call's trace is the one to keep.
    last_answers = [turn.chain(pane_id)[-1] for pane_id in turn.replies]
    vote_id = _vote_id(state, turn)
    viewer = current_viewer()
    try:
        store = ArenaStore()
        if turn.vote is None:
            store.withdraw(vote_id, viewer)
            return
        verdict = {TIE: arena.TIE, ALL_BAD: arena.ALL_BAD}.get(turn.vote, arena.WIN)
        store.record(
            vote_id,
            prompt=turn.prompt,
            deployments=[reply.deployment for reply in replies],
            trace_ids=[_trace_id(reply) for reply in last_answers],
            verdict=verdict,
            winner_index=list(turn.replies).index(turn.vote) if verdict == arena.WIN else None,
            owner=viewer.owner,
            session_tag=session_tag(),
        )
    except (ArenaStoreError, ValueError) as exc:
        # The store's message names the file or database, never a deployment: safe while blind.
        st.session_state[_PROBLEM] = f"The vote counts in this session but was not saved for the Leaderboard: {exc}"


def _radio_key(index: int) -> str:
    """The vote radio's key for turn `index`: a withdrawn vote gives it a new key (a radio cannot be cleared in
    place, so it is drawn afresh with nothing chosen)."""
    drawn = st.session_state.get(_RADIO_ROUND, {}).get(index, 0)
    return f"compare.vote.{index}" if not drawn else f"compare.vote.{index}.{drawn}"


def _on_vote(state: CompareState, index: int, options: dict[str, str], key: str) -> None:
    choice = st.session_state.get(key)
    if index < len(state.turns):
        state.turns[index].vote = options.get(choice) if choice else None
        _save(state, state.turns[index])


def _withdraw(state: CompareState, index: int) -> None:
    """Take back the vote on turn `index`: its stored row is deleted and the radio shows no choice again."""
    if index < len(state.turns):
        state.turns[index].vote = None
        _save(state, state.turns[index])
    rounds: dict[int, int] = st.session_state.setdefault(_RADIO_ROUND, {})
    rounds[index] = rounds.get(index, 0) + 1


def _render_tag() -> None:
    st.text_input(
        "Session tag",
        key=TAG_WIDGET,
        placeholder="e.g. marketing review",
        max_chars=arena.MAX_TAG_CHARS,
        persist_state="session",
        help="Saved with each vote, so the Leaderboard can show this session's votes alone",
    )


def render_vote(state: CompareState) -> None:
    """In blind mode: the session tag, the vote for the last finished turn (which was better, tie, all bad) and
    the reveal button."""
    if not state.blind:
        return
    if not state.turns or state.running:
        _render_tag()
        return
    index = len(state.turns) - 1
    turn = state.turns[index]
    labels = state.labels()
    options = {labels[p.uid]: p.uid for p in state.display_order() if p.uid in turn.replies}
    options |= {TIE_TEXT: TIE, ALL_BAD_TEXT: ALL_BAD}
    current = next((text for text, value in options.items() if value == turn.vote), None)
    key = _radio_key(index)
    st.session_state[key] = current
    with st.container(border=True, key="compare_vote"):
        st.radio(
            f"Which answer to turn {index + 1} was better?",
            list(options),
            key=key,
            horizontal=True,
            on_change=_on_vote,
            args=(state, index, options, key),
        )
        if turn.vote is not None:
            st.button(
                "Withdraw vote",
                key="compare.withdraw",
                icon=":material/undo:",
                type="tertiary",
                help="Take this vote back: it is removed from the Leaderboard's votes",
                on_click=_withdraw,
                args=(state, index),
            )
        if st.session_state.get(_PROBLEM):
            st.warning(escape_markdown(st.session_state[_PROBLEM]))
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
        _render_tag()
        st.caption("Votes are saved for the Leaderboard page.")
