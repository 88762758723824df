"""With sign-in on, saved conversations and traces belong to who made them: a user sees their own, an admin all."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from services.store.conversations import ConversationStore
from services.store.traces import TraceFilter, TraceStore
from services.transcript import ChatTurn, Transcript, to_json
from tests.app.conftest import all_text
from tests.app.test_sign_in import AUTH
from tests.app.test_traces_page import _row, open_traces, table
from tests.fixtures.app_server import toml_deployment

ALICE = {"is_logged_in": True, "sub": "alice-sub", "email": "Alice@Example.com", "name": "Alice Example"}
BOB = {"is_logged_in": True, "sub": "bob-sub", "email": "bob@example.com", "name": "Bob Example"}
ALICE_CONVERSATION = "aliceConversation0001a"
BOB_CONVERSATION = "bobConversation000001b"
DEPLOYMENT = toml_deployment("first", "http://127.0.0.1:9/first")  # never contacted: nothing is sent

MakeApp = Callable[..., AppTest]


def _save(conversation_id: str, owner: str | None, prompt: str) -> None:
    transcript = Transcript(
        deployment="first",
        messages=[ChatTurn(role="user", content=prompt), ChatTurn(role="assistant", content="Noted.")],
    )
    ConversationStore().save(conversation_id, to_json(transcript), owner=owner)


@pytest.fixture
def make_app(app_with_config: MakeApp, monkeypatch: pytest.MonkeyPatch) -> MakeApp:
    """make(user, query=None, page_open=True, **env): the app with sign-in on, as `user`, the saved list open."""
    monkeypatch.delenv("PLAYGROUND_ADMINS", raising=False)

    def make(user: dict[str, Any] | None, query: dict[str, str] | None = None, **env: str) -> AppTest:
        secrets = {"auth": AUTH} if user is not None else None
        at = app_with_config(DEPLOYMENT, query, secrets=secrets, user=user, **env)
        at.session_state["chat_saved_open"] = True
        at.run()
        assert not at.exception, at.exception
        return at

    return make


def _listed(at: AppTest) -> list[str]:
    return [button.label for button in at.button if button.key and button.key.startswith("chat_open_")]


def test_each_user_lists_only_their_own_conversations(make_app: MakeApp) -> None:
    _save(ALICE_CONVERSATION, "alice@example.com", "Alice plan for the sea")
    _save(BOB_CONVERSATION, "bob@example.com", "Bob note on rivers")
    alice = make_app(ALICE)
    assert [label.split(" · ")[0] for label in _listed(alice)] == ["Alice plan for the sea"]
    assert "Your conversations" in [expander.label for expander in alice.expander]
    bob = make_app(BOB)
    assert [label.split(" · ")[0] for label in _listed(bob)] == ["Bob note on rivers"]


def test_another_users_conversation_link_does_not_open_and_does_not_say_it_exists(make_app: MakeApp) -> None:
    _save(ALICE_CONVERSATION, "alice@example.com", "Alice secret plan")
    bob = make_app(BOB, {"c": ALICE_CONVERSATION})
    assert not bob.chat_message
    assert "Alice secret plan" not in all_text(bob)
    assert f"No saved conversation `{ALICE_CONVERSATION}` of yours" in all_text(bob)
    alice = make_app(ALICE, {"c": ALICE_CONVERSATION})
    assert [m.markdown[0].value for m in alice.chat_message] == ["Alice secret plan", "Noted."]


def test_an_admin_lists_everyones_conversations(make_app: MakeApp) -> None:
    _save(ALICE_CONVERSATION, "alice@example.com", "Alice plan for the sea")
    _save(BOB_CONVERSATION, "bob@example.com", "Bob note on rivers")
    admin = make_app(BOB, PLAYGROUND_ADMINS="BOB@example.com")
    assert sorted(label.split(" · ")[0] for label in _listed(admin)) == [
        "Alice plan for the sea",
        "Bob note on rivers",
    ]
    assert "All conversations" in [expander.label for expander in admin.expander]


def test_without_sign_in_every_saved_conversation_is_listed_and_opens_in_place(make_app: MakeApp) -> None:
    _save(ALICE_CONVERSATION, None, "First saved chat")
    at = make_app(None)
    assert "Saved conversations" in [expander.label for expander in at.expander]
    [label] = _listed(at)
    assert label.startswith("First saved chat")
    at.button(key=f"chat_open_{ALICE_CONVERSATION}").click().run()
    assert [m.markdown[0].value for m in at.chat_message] == ["First saved chat", "Noted."]
    assert at.query_params["c"] == ALICE_CONVERSATION


def _write_traces() -> tuple[str, str]:
    """One recent trace of Alice's and one of Bob's, straight to the store; their trace ids."""
    now = time.time_ns()
    alice = _row(0, now - 2_000_000_000, owner="alice@example.com", search="alice asks")
    bob = _row(1, now - 1_000_000_000, owner="bob@example.com", search="bob asks")
    store = TraceStore()
    store.write([alice, bob])
    store.close()
    assert store.count(TraceFilter()) == 2
    return alice["trace_id"], bob["trace_id"]


def test_the_traces_page_shows_a_user_only_their_own_calls(make_app: MakeApp) -> None:
    alice_trace, _ = _write_traces()
    bob = open_traces(make_app(BOB))
    assert len(table(bob)) == 1
    assert list(table(bob)["Tokens"]) == [1]  # Bob's row (written with 1 input token), not Alice's (0)
    # Alice's trace, opened by its link, reads as missing for Bob and opens for Alice.
    bob = open_traces(make_app(BOB), alice_trace)
    assert f"No trace `{alice_trace}` in the store" in all_text(bob)
    alice = open_traces(make_app(ALICE), alice_trace)
    assert "No trace" not in all_text(alice)
    assert len(table(alice)) == 1


def test_an_admin_sees_everyones_traces(make_app: MakeApp) -> None:
    _write_traces()
    admin = open_traces(make_app(ALICE, PLAYGROUND_ADMINS="alice@example.com"))
    assert len(table(admin)) == 2
