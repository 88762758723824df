"""Conversation ids that cannot be guessed, read-only share ids, and removal of old conversations (both engines)."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest

from services.store.conversations import (
    DEFAULT_RETENTION_DAYS,
    PURGE_INTERVAL_S,
    ConversationStore,
    ConversationStoreError,
    is_valid_id,
    new_conversation_id,
    retention_days_from_env,
)
from services.transcript import ChatTurn, Transcript, from_json, to_json

DAY = 86400.0
T0 = 1_900_000_000.0


class Clock:
    """A settable clock for the store (save times and purges)."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _json(text: str = "Hello") -> str:
    return to_json(Transcript(messages=[ChatTurn(role="user", content="Hi"), ChatTurn(role="assistant", content=text)]))


def test_new_ids_carry_128_random_bits() -> None:
    ids = [new_conversation_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 22 and is_valid_id(i) for i in ids)
    # 22 base64url characters hold 132 bits; all but the last character's low 4 carry entropy. Character
    # frequencies over the first 21 positions come out near uniform (64 symbols), as random bytes would.
    counts = Counter("".join(i[:21] for i in ids))
    total = sum(counts.values())
    entropy = -sum(n / total * math.log2(n / total) for n in counts.values())
    assert len(counts) == 64 and entropy > 5.95


@pytest.mark.parametrize(
    "bad", ["", "short", "savedConversation01", "a" * 21, "a" * 65, "../../etc/passwd", "a b" * 10, "é" * 22]
)
def test_ids_shorter_than_the_store_makes_or_not_url_safe_are_refused(database_url: str, bad: str) -> None:
    assert not is_valid_id(bad)
    store = ConversationStore()
    with pytest.raises(ValueError, match="Invalid conversation id"):
        store.save(bad, _json())
    assert store.load(bad) is None and store.load_shared(bad) is None and store.share_id(bad) is None


def test_a_short_id_already_in_the_store_never_loads(database_url: str) -> None:
    store = ConversationStore()
    store.save(new_conversation_id(), _json())
    with store.db.transaction() as tx:
        tx.execute("INSERT INTO conversations (id, transcript, updated) VALUES ('abc12345', ?, ?)", (_json(), T0))
    assert ConversationStore().load("abc12345") is None


def test_a_share_id_opens_the_conversation_and_reveals_nothing_of_its_id(database_url: str) -> None:
    store = ConversationStore()
    conversation_id = new_conversation_id()
    store.save(conversation_id, _json("first"))
    share_id = store.share_id(conversation_id)
    assert share_id is not None and is_valid_id(share_id) and len(share_id) == 22
    assert share_id != conversation_id and conversation_id not in share_id and share_id not in conversation_id
    shared = store.load_shared(share_id)
    assert shared is not None and from_json(shared).messages[1].content == "first"
    assert conversation_id not in shared
    # The share id is not a conversation id: it neither loads one nor is the conversation's own id.
    assert store.load(share_id) is None
    assert store.load_shared(conversation_id) is None


def test_the_same_conversation_keeps_one_share_id_that_follows_its_saves(database_url: str) -> None:
    store = ConversationStore()
    conversation_id = new_conversation_id()
    store.save(conversation_id, _json("first"))
    share_id = store.share_id(conversation_id)
    store.save(conversation_id, _json("second"))
    assert ConversationStore().share_id(conversation_id) == share_id
    shared = store.load_shared(share_id or "")
    assert shared is not None and from_json(shared).messages[1].content == "second"


def test_each_conversation_gets_its_own_share_id(database_url: str) -> None:
    store = ConversationStore()
    first, second = new_conversation_id(), new_conversation_id()
    store.save(first, _json("one"))
    store.save(second, _json("two"))
    assert store.share_id(first) != store.share_id(second)


def test_an_unsaved_conversation_cannot_be_shared(database_url: str) -> None:
    store = ConversationStore()
    assert store.share_id(new_conversation_id()) is None
    assert store.load_shared(new_conversation_id()) is None


def test_conversations_not_updated_within_the_retention_go_with_their_share_ids(database_url: str) -> None:
    clock = Clock()
    store = ConversationStore(retention_days=30, clock=clock)
    old, fresh = new_conversation_id(), new_conversation_id()
    store.save(old, _json("old"))
    old_share = store.share_id(old)
    clock.now = T0 + 20 * DAY
    store.save(fresh, _json("fresh"))
    clock.now = T0 + 31 * DAY
    assert store.purge_expired() == 1
    assert store.load(old) is None and store.load_shared(old_share or "") is None
    assert store.load(fresh) is not None
    # With the old conversation gone, its share id is gone from the store too.
    with store.db.transaction(write=False) as tx:
        assert tx.value("SELECT COUNT(*) FROM shares") == 0


def test_saving_again_keeps_a_conversation(database_url: str) -> None:
    clock = Clock()
    store = ConversationStore(retention_days=30, clock=clock)
    conversation_id = new_conversation_id()
    store.save(conversation_id, _json("first"))
    clock.now = T0 + 25 * DAY
    store.save(conversation_id, _json("second"))
    clock.now = T0 + 40 * DAY
    assert store.purge_expired() == 0
    assert store.load(conversation_id) is not None


def test_opening_a_store_purges_at_most_once_an_hour(database_url: str) -> None:
    clock = Clock()
    first, second = new_conversation_id(), new_conversation_id()
    ConversationStore(retention_days=1, clock=clock).save(first, _json())  # purges (nothing) at T0
    clock.now = T0 + DAY - 1800
    ConversationStore(retention_days=1, clock=clock).save(second, _json())  # purges (nothing) again
    # The first is past its retention now, but the last purge was half an hour ago: opening removes nothing.
    clock.now = T0 + DAY + 60
    assert ConversationStore(retention_days=1, clock=clock).load(first) is not None
    # An hour after that purge, opening the store removes it.
    clock.now = T0 + DAY - 1800 + PURGE_INTERVAL_S
    assert ConversationStore(retention_days=1, clock=clock).load(first) is None
    assert ConversationStore(retention_days=1, clock=clock).load(second) is not None


def test_retention_zero_keeps_conversations_forever(database_url: str) -> None:
    clock = Clock()
    store = ConversationStore(retention_days=0, clock=clock)
    conversation_id = new_conversation_id()
    store.save(conversation_id, _json())
    clock.now = T0 + 10_000 * DAY
    assert store.purge_expired() == 0
    assert ConversationStore(retention_days=0, clock=clock).load(conversation_id) is not None


def test_retention_comes_from_the_environment() -> None:
    assert retention_days_from_env({}) == DEFAULT_RETENTION_DAYS == 90
    assert retention_days_from_env({"PLAYGROUND_CONVERSATION_RETENTION_DAYS": "0"}) == 0
    assert retention_days_from_env({"PLAYGROUND_CONVERSATION_RETENTION_DAYS": " 7.5 "}) == 7.5
    for bad in ("soon", "-1", "nan", "inf"):
        with pytest.raises(ConversationStoreError, match="PLAYGROUND_CONVERSATION_RETENTION_DAYS must be a number"):
            retention_days_from_env({"PLAYGROUND_CONVERSATION_RETENTION_DAYS": bad})


def test_a_store_opened_with_a_bad_retention_setting_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAYGROUND_CONVERSATION_RETENTION_DAYS", "ninety")
    with pytest.raises(ConversationStoreError, match="not 'ninety'"):
        ConversationStore()
