"""Whose conversation is it: the first owner keeps it, others cannot read, list or overwrite it but can open its
share link; admins and the anonymous viewer (sign-in off) see all. On both engines, and across app processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from services.identity import ANONYMOUS, Viewer
from services.store.conversations import (
    TITLE_CHARS,
    ConversationOwnedError,
    ConversationStore,
    ConversationStoreError,
    new_conversation_id,
    title_of,
)
from services.transcript import ChatTurn, Transcript, from_json, to_json

ROOT = Path(__file__).resolve().parents[2]
ANN = Viewer(owner="ann@example.com", name="Ann")
BOB = Viewer(owner="bob@example.com", name="Bob")
ADMIN = Viewer(owner="root@example.com", name="Root", is_admin=True)


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        self.now += 1.0  # every save a second later: the list order is the save order
        return self.now


def _json(prompt: str, answer: str = "Sure.") -> str:
    return to_json(
        Transcript(messages=[ChatTurn(role="user", content=prompt), ChatTurn(role="assistant", content=answer)])
    )


@pytest.fixture
def store(database_url: str) -> ConversationStore:
    return ConversationStore(clock=Clock())


def test_a_second_owner_cannot_read_list_or_overwrite_the_first_owners_conversation(store: ConversationStore) -> None:
    anns = new_conversation_id()
    store.save(anns, _json("Ann's question"), owner=ANN.owner)
    assert store.load(anns, BOB) is None
    assert store.list_for(BOB) == []
    assert store.share_id(anns, BOB) is None
    with pytest.raises(ConversationOwnedError, match="belongs to someone else") as caught:
        store.save(anns, _json("Bob was here"), owner=BOB.owner)
    assert isinstance(caught.value, PermissionError) and isinstance(caught.value, ConversationStoreError)
    # Ann's conversation is as she left it, and still hers.
    loaded = store.load(anns, ANN)
    assert loaded is not None and from_json(loaded).messages[0].content == "Ann's question"
    assert [summary.id for summary in store.list_for(ANN)] == [anns]


def test_the_second_owner_can_open_the_first_owners_share_link(store: ConversationStore) -> None:
    anns = new_conversation_id()
    store.save(anns, _json("Look at this"), owner=ANN.owner)
    share = store.share_id(anns, ANN)
    assert share is not None
    shared = store.load_shared(share)  # anyone holding the link, signed in as anyone
    assert shared is not None and from_json(shared).messages[0].content == "Look at this"
    assert store.load(share, BOB) is None  # a share id never opens the conversation itself


def test_the_owner_saves_again_and_keeps_the_conversation(store: ConversationStore) -> None:
    anns = new_conversation_id()
    store.save(anns, _json("first"), owner=ANN.owner)
    store.save(anns, _json("second"), owner=ANN.owner)
    loaded = store.load(anns, ANN)
    assert loaded is not None and from_json(loaded).messages[0].content == "second"
    # With sign-in off (no owner) anyone may save over it, and it stays Ann's.
    store.save(anns, _json("third"))
    assert store.load(anns, BOB) is None and [s.title for s in store.list_for(ANN)] == ["third"]


def test_a_conversation_from_before_sign_in_is_not_claimed_by_a_signed_in_user(store: ConversationStore) -> None:
    old = new_conversation_id()
    store.save(old, _json("made with sign-in off"))
    assert store.load(old, ANN) is None and store.list_for(ANN) == []
    with pytest.raises(ConversationOwnedError):
        store.save(old, _json("mine now"), owner=ANN.owner)
    assert store.load(old, ADMIN) is not None


def test_admins_and_the_anonymous_viewer_see_all(store: ConversationStore) -> None:
    anns, bobs, nobodys = new_conversation_id(), new_conversation_id(), new_conversation_id()
    store.save(anns, _json("from Ann"), owner=ANN.owner)
    store.save(bobs, _json("from Bob"), owner=BOB.owner)
    store.save(nobodys, _json("from before sign-in"))
    for viewer in (ADMIN, ANONYMOUS):
        assert [summary.id for summary in store.list_for(viewer)] == [nobodys, bobs, anns]
        assert all(store.load(conversation, viewer) is not None for conversation in (anns, bobs, nobodys))
        assert store.share_id(bobs, viewer) is not None
    assert [summary.id for summary in store.list_for(BOB)] == [bobs]


def test_my_conversations_are_listed_newest_first_with_their_first_prompt_as_title(store: ConversationStore) -> None:
    ids = [new_conversation_id() for _ in range(4)]
    long_prompt = "Explain   the difference\nbetween " + "very " * 30 + "long words"
    for n, conversation in enumerate(ids):
        store.save(conversation, _json(long_prompt if n == 3 else f"Question {n}"), owner=ANN.owner)
    store.save(ids[0], _json("Question 0, edited"), owner=ANN.owner)  # saved again: now the newest
    found = store.list_for(ANN, limit=3)
    assert [summary.id for summary in found] == [ids[0], ids[3], ids[2]]
    assert found[0].title == "Question 0, edited"
    assert found[1].title.startswith("Explain the difference between very") and found[1].title.endswith("…")
    assert len(found[1].title) <= TITLE_CHARS
    assert found[0].updated > found[1].updated
    assert title_of(to_json(Transcript(messages=[ChatTurn(role="assistant", content="no prompt")]))) == ""


_SAVE = """
import sys
from services.store.conversations import ConversationStore
from services.transcript import ChatTurn, Transcript, to_json
conversation_id, owner = sys.argv[1], sys.argv[2]
text = to_json(Transcript(messages=[ChatTurn(role="user", content="Saved by the first process")]))
ConversationStore().save(conversation_id, text, owner=owner)
"""
_LOAD = """
import sys
from services.identity import Viewer
from services.store.conversations import ConversationStore
conversation_id, owner = sys.argv[1], sys.argv[2]
store = ConversationStore()
viewer = Viewer(owner=owner)
text = store.load(conversation_id, viewer)
listed = [summary.id for summary in store.list_for(viewer)]
assert text is not None and "Saved by the first process" in text, text
assert listed == [conversation_id], listed
print("seen", store.list_for(viewer)[0].title)
"""


def test_two_app_processes_on_one_postgresql_see_each_others_saved_conversations(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLAYGROUND_DATABASE_URL", postgres_url)
    conversation_id = new_conversation_id()
    # Each process has its own data directory: only the database is shared.
    for script, data in ((_SAVE, "first"), (_LOAD, "second")):
        monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(ROOT / ".pytest-unused" / data))
        done = subprocess.run(
            [sys.executable, "-c", script, conversation_id, ANN.owner or ""],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "seen Saved by the first process"
    assert not (ROOT / ".pytest-unused").exists()  # neither process wrote a SQLite file
