"""The arena vote store on both engines: every blind vote kept with its prompt, panes, trace ids, owner, session tag
and time; a changed vote replaces the stored one; each user reads their own votes, an admin all."""

from __future__ import annotations

import pytest

from services.identity import ANONYMOUS, Viewer
from services.store.arena import ALL_BAD, MAX_PROMPT_CHARS, TIE, WIN, ArenaStore, VoteFilter

TURN = "a" * 32
ALICE = Viewer(owner="alice@example.com", name="Alice")
BOB = Viewer(owner="bob@example.com", name="Bob")
ADMIN = Viewer(owner="root@example.com", name="Root", is_admin=True)


def vote(store: ArenaStore, vote_id: str = TURN, **fields: object) -> None:
    values: dict[str, object] = {
        "prompt": "Which haiku is better?",
        "deployments": ["phi", "mistral"],
        "trace_ids": ["1" * 32, "1" * 32],
        "verdict": WIN,
        "winner_index": 1,
    }
    values.update(fields)
    store.record(vote_id, **values)  # type: ignore[arg-type]


def test_a_vote_is_read_back_by_a_new_store_with_everything_it_was_cast_with(database_url: str) -> None:
    vote(ArenaStore(), owner="alice@example.com", session_tag="  marketing   review ", when=1_700_000_000.0)
    [found] = ArenaStore().votes(ALICE)
    assert found.vote_id == TURN and found.owner == "alice@example.com"
    assert (found.prompt, found.deployments, found.trace_ids) == (
        "Which haiku is better?",
        ("phi", "mistral"),
        ("1" * 32, "1" * 32),
    )
    assert (found.verdict, found.winner_index, found.winner) == (WIN, 1, "mistral")
    assert found.session_tag == "marketing review"
    assert found.created == found.voted == 1_700_000_000.0


def test_changing_the_vote_on_a_turn_replaces_it_and_keeps_its_first_time(database_url: str) -> None:
    store = ArenaStore()
    vote(store, when=10.0)
    vote(store, verdict=TIE, winner_index=None, when=20.0)
    vote(store, verdict=ALL_BAD, winner_index=None, trace_ids=["1" * 32, "2" * 32], when=30.0)
    [found] = store.votes()
    assert (found.verdict, found.winner, found.created, found.voted) == (ALL_BAD, None, 10.0, 30.0)
    assert found.trace_ids == ("1" * 32, "2" * 32)  # a pane retried after the vote has its new trace
    assert store.version() == (1, 30.0)


def test_another_owner_cannot_overwrite_or_withdraw_a_vote(database_url: str) -> None:
    store = ArenaStore()
    vote(store, owner=ALICE.owner, winner_index=0, when=1.0)
    vote(store, owner=BOB.owner, winner_index=1, when=2.0)
    assert store.withdraw(TURN, BOB) is False
    [found] = store.votes(ADMIN)
    assert (found.owner, found.winner, found.voted) == (ALICE.owner, "phi", 1.0)
    assert store.withdraw(TURN, ALICE) is True
    assert store.votes(ADMIN) == [] and store.withdraw(TURN, ALICE) is False


def test_each_user_reads_their_own_votes_and_an_admin_or_sign_in_off_reads_all(database_url: str) -> None:
    store = ArenaStore()
    vote(store, "1" * 32, owner=ALICE.owner, when=1.0)
    vote(store, "2" * 32, owner=BOB.owner, when=2.0)
    vote(store, "3" * 32, owner=None, when=3.0)  # cast while sign-in was off
    assert [v.vote_id for v in store.votes(ALICE)] == ["1" * 32]
    assert [v.vote_id for v in store.votes(BOB)] == ["2" * 32]
    assert [v.vote_id for v in store.votes(ADMIN)] == ["1" * 32, "2" * 32, "3" * 32]
    assert len(store.votes(ANONYMOUS)) == 3
    assert store.load("2" * 32, ALICE) is None and store.load("2" * 32, BOB) is not None
    assert store.version(ALICE) == (1, 1.0) and store.version(ADMIN) == (3, 3.0)


def test_votes_filter_by_time_range_and_session_tag_oldest_first(database_url: str) -> None:
    store = ArenaStore()
    for number, (when, tag) in enumerate([(30.0, "marketing review"), (10.0, ""), (20.0, "marketing review")]):
        vote(store, f"{number:032d}", when=when, session_tag=tag)
    assert [v.voted for v in store.votes()] == [10.0, 20.0, 30.0]
    assert [v.voted for v in store.votes(filt=VoteFilter(since=15.0))] == [20.0, 30.0]
    assert [v.voted for v in store.votes(filt=VoteFilter(since=10.0, until=30.0))] == [10.0, 20.0]
    assert [v.voted for v in store.votes(filt=VoteFilter(session_tag="marketing review"))] == [20.0, 30.0]
    assert [v.voted for v in store.votes(filt=VoteFilter(session_tag=""))] == [10.0]
    assert store.session_tags() == ["", "marketing review"]
    assert store.version(filt=VoteFilter(session_tag="marketing review")) == (2, 30.0)


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"deployments": ["phi"], "trace_ids": [None]}, "2 to 4"),
        ({"deployments": ["a", "b", "c", "d", "e"], "trace_ids": [None] * 5}, "2 to 4"),
        ({"trace_ids": [None]}, "one trace id"),
        ({"verdict": "maybe"}, "Unknown verdict"),
        ({"verdict": TIE}, "names none"),
        ({"winner_index": None}, "names the winning pane"),
        ({"winner_index": 2}, "not one of the 2 panes"),
    ],
)
def test_a_vote_that_cannot_be_counted_is_refused(fields: dict[str, object], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        vote(ArenaStore(), **fields)
    assert ArenaStore().votes() == []


def test_a_bad_vote_id_is_refused_and_a_huge_prompt_is_cut() -> None:
    store = ArenaStore()
    with pytest.raises(ValueError, match="Invalid vote id"):
        vote(store, "x'; DROP TABLE arena_votes; --")
    vote(store, prompt="p" * (MAX_PROMPT_CHARS + 50))
    assert len(store.votes()[0].prompt) == MAX_PROMPT_CHARS
