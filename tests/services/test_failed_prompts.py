"""A prompt whose request failed stays in the transcript and the comparison, marked, and is never sent again."""

from __future__ import annotations

import itertools
import json
from typing import Any

from services.client import InferenceClient
from services.compare_export import export_html
from services.compare_model import PaneReply, Turn, pane_messages, reply_from_snapshot
from services.compare_run import PaneJob, run_turn
from services.config import Deployment
from services.errors import ContentFilterError, EndpointUnavailableError
from services.transcript import FAILED_MARK, ChatTurn, Transcript, api_messages, from_json, to_json, to_markdown
from tests.fixtures.fault_server import CONTENT_FILTER_BODY, FaultServer, Reply, chat_chunks, closed_port

BLOCKED = "Tell me about the forbiddenfruit"
FILTER_BODY = CONTENT_FILTER_BODY


def _no_user_twice_in_a_row(messages: list[dict[str, Any]]) -> bool:
    roles = [m["role"] for m in messages]
    return all(not (a == b == "user") for a, b in itertools.pairwise(roles))


def test_api_messages_leave_out_a_failed_prompt_and_its_missing_answer() -> None:
    turns = [
        ChatTurn(role="user", content="hello"),
        ChatTurn(role="assistant", content="hi"),
        ChatTurn(role="user", content=BLOCKED, failed=True, failure="blocked by the content filter"),
        ChatTurn(role="assistant", content=""),
        ChatTurn(role="user", content="what is 2+2?"),
    ]
    messages = api_messages("Be brief.", turns)
    assert [m["content"] for m in messages] == ["Be brief.", "hello", "hi", "what is 2+2?"]
    assert _no_user_twice_in_a_row(messages)


def test_the_mark_survives_a_json_round_trip_and_shows_in_markdown() -> None:
    failed = ChatTurn(role="user", content=BLOCKED, failed=True, failure="phi: The response was filtered")
    transcript = Transcript(deployment="phi", messages=[failed])
    again = from_json(to_json(transcript))
    assert again.messages[0].failed and again.messages[0].failure == "phi: The response was filtered"
    assert f"*({FAILED_MARK}: phi: The response was filtered)*" in to_markdown(transcript)


def test_a_transcript_saved_before_the_mark_existed_still_imports_unmarked() -> None:
    old = {
        "format": "model-playground/chat",
        "version": 1,
        "messages": [{"role": "user", "content": "hi", "stopped": False}, {"role": "assistant", "content": "hello"}],
    }
    transcript = from_json(json.dumps(old))
    assert [turn.failed for turn in transcript.messages] == [False, False]
    assert FAILED_MARK not in to_markdown(transcript)


def test_a_pane_leaves_a_turn_it_failed_out_of_its_history_but_keeps_a_partial_answer() -> None:
    blocked = PaneReply("p1", "phi", "", "error", error=ContentFilterError("filtered", deployment="phi", status=400))
    partial = PaneReply("p1", "phi", "Once upon", "error", error=EndpointUnavailableError("cut", host="h", reason="r"))
    turns = [Turn(BLOCKED, {"p1": blocked}), Turn("a story", {"p1": partial})]
    messages = pane_messages(turns, "p1", "", "next")
    assert messages == [
        {"role": "user", "content": "a story"},
        {"role": "assistant", "content": "Once upon"},
        {"role": "user", "content": "next"},
    ]
    assert blocked.failed and not partial.failed


def _run(turns: list[Turn], deployment: Deployment, prompt: str, **params: Any) -> PaneReply:
    client = InferenceClient(deployment)
    try:
        job = PaneJob("p1", deployment, client, pane_messages(turns, "p1", "", prompt), params)
        snap = run_turn([job], timeout=120)["p1"]
    finally:
        client.close()
    reply = reply_from_snapshot(snap, deployment)
    turns.append(Turn(prompt, {"p1": reply}))
    return reply


def test_after_a_blocked_prompt_the_next_turn_of_the_pane_is_answered(local_deployments: dict[str, Deployment]) -> None:
    chat = local_deployments["smollm2-135m-instruct"]
    turns: list[Turn] = []
    first = _run(turns, chat, BLOCKED, max_tokens=4)
    assert isinstance(first.error, ContentFilterError) and first.failed
    second = _run(turns, chat, "Say hello.", max_tokens=4)
    # The embedded endpoint blocks any request that carries the term: an answer means it was not sent again.
    assert second.status == "done" and second.text.strip()


def test_the_request_after_a_blocked_prompt_carries_neither_it_nor_two_user_messages(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(status=400, json=FILTER_BODY), Reply(sse=chat_chunks(["Hi", "!"])))
    deployment = Deployment(name="filtered", endpoint=scenario.endpoint, max_retries=0)
    turns: list[Turn] = []
    assert _run(turns, deployment, BLOCKED).failed
    assert _run(turns, deployment, "second").text == "Hi!"
    sent = scenario.requests[1].json()["messages"]
    assert sent == [{"role": "user", "content": "second"}]


def test_after_an_unreachable_endpoint_the_next_request_has_one_user_message(fault_server: FaultServer) -> None:
    gone = Deployment(name="gone", endpoint=f"http://127.0.0.1:{closed_port()}", max_retries=0, connect_timeout=2)
    turns: list[Turn] = []
    assert isinstance(_run(turns, gone, "anyone there?").error, EndpointUnavailableError)
    # The same pane, now pointed at a server that answers (as after choosing another deployment).
    scenario = fault_server.scenario(Reply(sse=chat_chunks(["yes"])))
    back = Deployment(name="gone", endpoint=scenario.endpoint, max_retries=0)
    assert _run(turns, back, "hello again").text == "yes"
    sent = scenario.requests[0].json()["messages"]
    assert sent == [{"role": "user", "content": "hello again"}] and _no_user_twice_in_a_row(sent)


def test_the_compare_export_marks_a_failed_turn_of_a_pane() -> None:
    blocked = PaneReply("p1", "phi", "", "error", error=ContentFilterError("filtered", deployment="phi", status=400))
    fine = PaneReply("p2", "mistral", "hello", "done")
    page = export_html([Turn(BLOCKED, {"p1": blocked, "p2": fine})], ["p1", "p2"], {"p1": "phi", "p2": "mistral"}, {})
    assert page.count(FAILED_MARK) == 1
    assert f"{FAILED_MARK} (left out of this pane's later history)" in page
