"""Blind votes on the compare page reach the arena store (AppTest against scripted streams on the fault server): the
prompt, every pane's deployment and trace id, the verdict, the voter, the session tag; a changed vote replaces the
stored one, and a store that cannot be written is said so without naming a pane."""

from __future__ import annotations

from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from services import tracing
from services.config import Deployment
from services.store.arena import ALL_BAD, TIE, WIN, ArenaStore
from services.store.location import DATABASE_URL_ENV, data_dir
from services.store.traces import TraceFilter, TraceStore
from tests.app.test_sign_in import AUTH
from tests.fixtures.fault_server import FaultServer, Reply, chat_chunks

ALICE = {"is_logged_in": True, "sub": "alice-sub", "email": "Alice@Example.com", "name": "Alice"}


def _script() -> None:
    from pages.compare import render

    render()


@pytest.fixture
def deployments(fault_server: FaultServer) -> dict[str, Deployment]:
    found = {}
    for name, words in (("fast", ["Hi", " there"]), ("slow", ["Hello", " friend"])):
        scenario = fault_server.scenario(Reply(sse=chat_chunks(words), chunk_delay=0.01))
        found[name] = Deployment(name=name, endpoint=scenario.endpoint, max_retries=0)
    return found


def blind_turn(deployments: dict[str, Deployment], prompt: str = "which is better?", **setup: Any) -> AppTest:
    """The compare page with panes fast and slow, blind mode on, one turn answered."""
    at = AppTest.from_function(_script, default_timeout=30)
    at.session_state["deployments_added"] = dict(deployments)
    at.query_params["panes"] = "fast,slow"
    for name, value in setup.items():
        setattr(at, name, value)
    at.run()
    at.toggle(key="compare.blind").set_value(True).run()
    at.chat_input(key="compare.input").set_value(prompt).run()
    assert not at.exception, at.exception
    return at


def label_of(at: AppTest, deployment: str) -> str:
    state = at.session_state["compare.state"]
    return next(label for uid, label in state.labels().items() if state.pane(uid).deployment == deployment)


def test_a_blind_vote_is_stored_with_prompt_panes_trace_ids_and_session_tag(deployments) -> None:
    at = blind_turn(deployments)
    at.text_input(key="compare.session_tag").input("marketing  review").run()
    at.radio(key="compare.vote.0").set_value(label_of(at, "slow")).run()
    assert not at.exception, at.exception
    [vote] = ArenaStore().votes()
    assert vote.prompt == "which is better?" and vote.deployments == ("fast", "slow")
    assert (vote.verdict, vote.winner, vote.owner, vote.session_tag) == (WIN, "slow", None, "marketing review")
    assert tracing.flush(10)
    [trace] = TraceStore(data_dir() / tracing.TRACE_FILE).traces(TraceFilter(operations=("chat",)))
    assert vote.trace_ids == (trace["trace_id"], trace["trace_id"])  # both panes' calls are the run's one trace
    assert "Votes are saved for the Leaderboard page." in [c.value for c in at.caption]


def test_changing_the_vote_replaces_the_stored_one(deployments) -> None:
    at = blind_turn(deployments)
    radio = at.radio(key="compare.vote.0")
    radio.set_value(label_of(at, "fast")).run()
    at.radio(key="compare.vote.0").set_value("Tie").run()
    [vote] = ArenaStore().votes()
    assert (vote.verdict, vote.winner) == (TIE, None)
    at.radio(key="compare.vote.0").set_value("All bad").run()
    [vote] = ArenaStore().votes()
    assert vote.verdict == ALL_BAD and vote.created < vote.voted


def test_each_turn_and_each_new_conversation_is_its_own_vote(deployments) -> None:
    at = blind_turn(deployments)
    at.radio(key="compare.vote.0").set_value(label_of(at, "fast")).run()
    at.chat_input(key="compare.input").set_value("and now?").run()
    at.radio(key="compare.vote.1").set_value(label_of(at, "slow")).run()
    at.button(key="compare.clear").click().run()
    at.chat_input(key="compare.input").set_value("fresh start").run()
    at.radio(key="compare.vote.0").set_value("Tie").run()
    votes = ArenaStore().votes()
    assert [(v.prompt, v.verdict, v.winner) for v in votes] == [
        ("which is better?", WIN, "fast"),
        ("and now?", WIN, "slow"),
        ("fresh start", TIE, None),
    ]
    assert len({v.vote_id for v in votes}) == 3


def test_the_session_tag_survives_blind_mode_off_and_on(deployments) -> None:
    at = blind_turn(deployments)
    at.text_input(key="compare.session_tag").input("board meeting").run()
    at.toggle(key="compare.blind").set_value(False).run()
    at.toggle(key="compare.blind").set_value(True).run()
    at.chat_input(key="compare.input").set_value("again").run()
    at.radio(key="compare.vote.1").set_value("Tie").run()
    assert [v.session_tag for v in ArenaStore().votes()] == ["board meeting"]


def test_a_signed_in_voter_owns_the_vote(deployments) -> None:
    at = blind_turn(deployments, secrets={"auth": AUTH}, user=ALICE)
    at.radio(key="compare.vote.0").set_value("Tie").run()
    assert not at.exception, at.exception
    assert [v.owner for v in ArenaStore().votes()] == ["alice@example.com"]


def test_a_store_that_cannot_be_written_is_said_without_naming_a_pane(deployments, monkeypatch) -> None:
    at = blind_turn(deployments)
    monkeypatch.setenv(DATABASE_URL_ENV, "mysql://nowhere/votes")
    at.radio(key="compare.vote.0").set_value(label_of(at, "fast")).run()
    assert not at.exception, at.exception
    [warning] = [w.value.replace("\\", "") for w in at.warning]  # drawn as escaped markdown
    assert "not saved for the Leaderboard" in warning and "PLAYGROUND_DATABASE_URL" in warning
    assert "fast" not in warning and "slow" not in warning
    assert at.session_state["compare.state"].tally() == {"fast": 1}  # still counted in this session
