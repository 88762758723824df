"""The conversation store on both engines: save/load by id, survival across instances, and no keys stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr

from services.config import Deployment
from services.store.conversations import (
    STORE_FILE,
    ConversationStore,
    ConversationStoreError,
    is_valid_id,
    new_conversation_id,
)
from services.store.location import data_dir
from services.transcript import ChatTurn, Transcript, TurnMetrics, from_json, to_json

SECRET = "sk-test-secret-2718281828459045"


def _transcript(text: str = "Hello") -> Transcript:
    return Transcript(
        deployment="smollm2-135m-instruct",
        system_prompt="Be brief.",
        parameters={"temperature": 0.2, "max_tokens": 8},
        messages=[
            ChatTurn(role="user", content="Hi"),
            ChatTurn(
                role="assistant",
                content=text,
                deployment="smollm2-135m-instruct",
                metrics=TurnMetrics(ttft_s=0.1, total_s=0.5, tokens_per_s=12.0, prompt_tokens=5, completion_tokens=3),
            ),
        ],
    )


def test_a_saved_conversation_loads_back_from_a_new_store_on_the_same_database(database_url: str) -> None:
    conversation_id = new_conversation_id()
    ConversationStore().save(conversation_id, to_json(_transcript()))
    loaded = ConversationStore().load(conversation_id)
    assert loaded is not None
    assert from_json(loaded) == _transcript()


def test_saving_again_replaces_the_conversation(database_url: str) -> None:
    store = ConversationStore()
    conversation_id = new_conversation_id()
    store.save(conversation_id, to_json(_transcript("first")))
    store.save(conversation_id, to_json(_transcript("second")))
    loaded = store.load(conversation_id)
    assert loaded is not None and from_json(loaded).messages[1].content == "second"


def test_unknown_and_malformed_ids_load_as_none(database_url: str) -> None:
    store = ConversationStore()
    store.save(new_conversation_id(), to_json(_transcript()))
    assert store.load(new_conversation_id()) is None
    assert store.load("../../etc/passwd") is None
    assert store.load("") is None


def test_save_refuses_a_bad_id_or_a_text_that_is_not_a_transcript(database_url: str) -> None:
    store = ConversationStore()
    with pytest.raises(ValueError, match="Invalid conversation id"):
        store.save("a b", to_json(_transcript()))
    with pytest.raises(ValueError, match="Not a chat transcript"):
        store.save(new_conversation_id(), '{"messages": []}')


def test_the_store_defaults_to_the_data_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path / "data"))
    conversation_id = new_conversation_id()
    ConversationStore().save(conversation_id, to_json(_transcript()))
    assert (tmp_path / "data" / STORE_FILE).is_file()
    assert ConversationStore().load(conversation_id) is not None


def test_no_key_reaches_the_store(database_url: str) -> None:
    deployment = Deployment(name="smollm2-135m-instruct", endpoint="http://127.0.0.1:1/x", key=SecretStr(SECRET))
    transcript = _transcript().model_copy(update={"deployment": deployment.name})
    # Even a hand-made JSON carrying key fields is stored without them.
    data = json.loads(to_json(transcript))
    data["key"] = SECRET
    data["parameters_key"] = SECRET
    data["messages"][0]["api_key"] = SECRET
    store = ConversationStore()
    conversation_id = new_conversation_id()
    store.save(conversation_id, json.dumps(data))
    loaded = store.load(conversation_id)
    assert loaded is not None and SECRET not in loaded
    assert from_json(loaded) == transcript
    with store.db.transaction(write=False) as tx:
        rows = tx.execute("SELECT * FROM conversations").fetchall()
    assert rows and SECRET not in repr(rows)
    for path in data_dir().iterdir():
        assert SECRET.encode() not in path.read_bytes(), path


def test_new_ids_are_random_and_valid() -> None:
    ids = {new_conversation_id() for _ in range(50)}
    assert len(ids) == 50 and all(is_valid_id(i) for i in ids)


def test_an_unusable_location_raises_a_store_error_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = ConversationStore(blocker / "sub" / "c.sqlite")
    with pytest.raises(ConversationStoreError, match="cannot be opened"):
        store.save(new_conversation_id(), to_json(_transcript()))
