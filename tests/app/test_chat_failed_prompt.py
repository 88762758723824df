"""A failed prompt stays on the chat page, marked, with Edit and Retry, and is never sent again as history."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from streamlit.testing.v1 import AppTest

from services.store.conversations import ConversationStore
from services.transcript import FAILED_MARK, from_json, to_markdown
from tests.app.conftest import all_text, cap_tokens, send
from tests.fixtures.app_server import toml_deployment
from tests.fixtures.fault_server import CONTENT_FILTER_BODY, FaultServer, Reply, Scenario, chat_chunks, closed_port

BLOCKED = "Tell me about the forbiddenfruit please"
FILTER_BODY = CONTENT_FILTER_BODY


# The sidebar asks every deployment for /info once when the app starts: each scenario answers that first.
INFO = Reply(json={"model_name": "fault-model", "model_type": "chat-completion", "model_provider_name": "test"})


def _chats(scenario: Scenario) -> list[list[dict[str, Any]]]:
    """The `messages` of every chat request the scenario received, in order (the /info GETs left out)."""
    return [r.json()["messages"] for r in scenario.requests if r.method == "POST"]


def _user_contents(messages: list[dict[str, Any]]) -> list[str]:
    return [m["content"] for m in messages if m["role"] == "user"]


def _no_user_twice_in_a_row(messages: list[dict[str, Any]]) -> bool:
    roles = [m["role"] for m in messages]
    return all(not (a == b == "user") for a, b in itertools.pairwise(roles))


def test_after_a_blocked_prompt_the_next_message_is_answered(local_app: AppTest) -> None:
    cap_tokens(local_app)
    send(local_app, BLOCKED)
    assert "The prompt was blocked by the content filter" in all_text(local_app)
    assert FAILED_MARK in local_app.chat_message[0].caption[0].value
    send(local_app, "Say hello.")
    # The embedded endpoint blocks every request that carries the term: an answer proves it was left out.
    assert len(local_app.chat_message) == 4
    assert local_app.chat_message[3].markdown[0].value.strip()
    assert local_app.chat_message[0].markdown[0].value == BLOCKED  # still on the page, to read and edit
    assert [e.turn.failed for e in local_app.session_state["chat_entries"] if e.turn.role == "user"] == [True, False]


def test_the_request_after_a_blocked_prompt_has_no_blocked_message_even_on_another_deployment(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    blocking = fault_server.scenario(INFO, Reply(status=400, json=FILTER_BODY), Reply(sse=chat_chunks(["again"])))
    other = fault_server.scenario(INFO, Reply(sse=chat_chunks(["Hello", " there"])))
    at = app_with_config(
        toml_deployment("blocking", blocking.endpoint, max_retries=0) + toml_deployment("other", other.endpoint)
    )
    send(at, BLOCKED)
    assert "blocked by the content filter" in all_text(at)
    send(at, "first answerable")
    sent = _chats(blocking)[1]
    assert _user_contents(sent) == ["first answerable"] and _no_user_twice_in_a_row(sent)
    at.sidebar.selectbox(key="deployment_selected").set_value("other").run()
    send(at, "second answerable")
    sent = _chats(other)[0]
    assert _user_contents(sent) == ["first answerable", "second answerable"]
    assert _no_user_twice_in_a_row(sent) and all(BLOCKED not in str(m["content"]) for m in sent)
    assert at.chat_message[-1].markdown[0].value == "Hello there"


def test_after_an_unreachable_endpoint_the_next_request_has_no_two_user_messages_in_a_row(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    answering = fault_server.scenario(INFO, Reply(sse=chat_chunks(["I am here"])))
    at = app_with_config(
        toml_deployment("gone", f"http://127.0.0.1:{closed_port()}", max_retries=0)
        + toml_deployment("answering", answering.endpoint)
    )
    send(at, "anyone there?")
    assert "Cannot reach gone" in all_text(at)
    assert FAILED_MARK in at.chat_message[0].caption[0].value
    at.sidebar.selectbox(key="deployment_selected").set_value("answering").run()
    send(at, "hello?")
    sent = _chats(answering)[0]
    assert _user_contents(sent) == ["hello?"] and _no_user_twice_in_a_row(sent)
    assert at.chat_message[-1].markdown[0].value == "I am here"


def test_retry_sends_the_failed_prompt_again_and_clears_its_mark(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    flaky = fault_server.scenario(INFO, Reply(status=400, json=FILTER_BODY), Reply(sse=chat_chunks(["fine now"])))
    at = app_with_config(toml_deployment("flaky", flaky.endpoint, max_retries=0))
    send(at, "try me")
    at.button(key="retry_1").click().run()
    assert not at.exception, at.exception
    assert _user_contents(_chats(flaky)[1]) == ["try me"]
    assert [m.markdown[0].value for m in at.chat_message] == ["try me", "fine now"]
    assert FAILED_MARK not in all_text(at)


def test_edit_and_resend_fixes_a_failed_prompt(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    picky = fault_server.scenario(INFO, Reply(status=400, json=FILTER_BODY), Reply(sse=chat_chunks(["ok"])))
    at = app_with_config(toml_deployment("picky", picky.endpoint, max_retries=0))
    send(at, BLOCKED)
    at.button(key="chat_edit_0").click().run()
    at.text_area(key="chat_edit_text_0").input("Tell me about apples please").run()
    at.button(key="chat_resend_0").click().run()
    assert not at.exception, at.exception
    assert _user_contents(_chats(picky)[1]) == ["Tell me about apples please"]
    assert [m.markdown[0].value for m in at.chat_message] == ["Tell me about apples please", "ok"]
    assert FAILED_MARK not in all_text(at)


def test_a_saved_failed_prompt_keeps_its_mark_in_the_export_and_after_a_reload_offers_retry(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    scenario = fault_server.scenario(INFO, Reply(status=400, json=FILTER_BODY), Reply(sse=chat_chunks(["answered"])))
    config = toml_deployment("filtered", scenario.endpoint, max_retries=0)
    at = app_with_config(config)
    send(at, BLOCKED)
    conversation_id = at.session_state["chat_conversation_id"]
    saved = from_json(ConversationStore().load(conversation_id) or "")
    [user] = saved.messages  # the answer that never came is not exported
    assert user.failed and "filtered" in (user.failure or "")
    assert f"*({FAILED_MARK}: " in to_markdown(saved)

    reloaded = app_with_config(config, query={"c": conversation_id})
    [message] = reloaded.chat_message
    assert FAILED_MARK in message.caption[0].value
    reloaded.button(key="chat_retry_prompt_0").click().run()
    assert not reloaded.exception, reloaded.exception
    assert [m.markdown[0].value for m in reloaded.chat_message] == [BLOCKED, "answered"]


def test_clear_starts_a_new_conversation_id_and_the_old_id_still_opens_the_old_conversation(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    scenario = fault_server.scenario(INFO, Reply(sse=chat_chunks(["one"])), Reply(sse=chat_chunks(["two"])))
    config = toml_deployment("plain", scenario.endpoint)
    at = app_with_config(config)
    send(at, "first conversation")
    old_id = at.session_state["chat_conversation_id"]
    assert at.query_params["c"] in (old_id, [old_id])
    at.button(key="chat_clear").click().run()
    assert len(at.chat_message) == 0
    assert "c" not in at.query_params
    send(at, "second conversation")
    new_id = at.session_state["chat_conversation_id"]
    assert new_id != old_id and at.query_params["c"] in (new_id, [new_id])
    old = from_json(ConversationStore().load(old_id) or "")
    assert [m.content for m in old.messages] == ["first conversation", "one"]
    reopened = app_with_config(config, query={"c": old_id})
    assert [m.markdown[0].value for m in reopened.chat_message] == ["first conversation", "one"]
