"""A compare pane whose turn failed shows the prompt marked, and leaves it out of that pane's later history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from services.transcript import FAILED_MARK
from tests.fixtures.app_server import toml_deployment
from tests.fixtures.fault_server import FaultServer, Reply, chat_chunks

BLOCKED = "Tell me about the forbiddenfruit"
FILTER_BODY = {"status": 400, "code": "content_filter", "message": "The response was filtered", "param": "messages"}


def _script() -> None:
    from pages.compare import render

    render()


def _compare_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, panes: dict[str, str]) -> AppTest:
    """The compare page with one pane per `name: endpoint` (no retries, so a failure shows at once)."""
    config = tmp_path / "deployments.toml"
    config.write_text("".join(toml_deployment(name, endpoint, max_retries=0) for name, endpoint in panes.items()))
    for name in ("PLAYGROUND_LOCAL_ENDPOINT", "AZUREAI_ENDPOINT_URL", "AZUREAI_ENDPOINT_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PLAYGROUND_CONFIG", str(config))
    at = AppTest.from_function(_script, default_timeout=30)
    at.query_params["panes"] = ",".join(panes)
    at.run()
    return at


def test_a_pane_that_failed_a_turn_does_not_send_that_prompt_again(
    fault_server: FaultServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocking = fault_server.scenario(Reply(status=400, json=FILTER_BODY), Reply(sse=chat_chunks(["fine"])))
    open_ = fault_server.scenario(Reply(sse=chat_chunks(["answered"])))
    at = _compare_app(tmp_path, monkeypatch, {"blocking": blocking.endpoint, "open": open_.endpoint})
    at.chat_input(key="compare.input").set_value(BLOCKED).run()
    assert not at.exception, at.exception
    assert [c.value for c in at.caption].count(f":orange[{FAILED_MARK}]") == 1  # only the pane that failed
    at.chat_input(key="compare.input").set_value("next question").run()
    assert not at.exception, at.exception

    def users(messages: list[dict[str, Any]]) -> list[str]:
        return [m["content"] for m in messages if m["role"] == "user"]

    # The failed pane sends only the new prompt; the other pane keeps the turn it answered.
    assert users(blocking.requests[1].json()["messages"]) == ["next question"]
    assert users(open_.requests[1].json()["messages"]) == [BLOCKED, "next question"]
    assert "fine" in [m.value for m in at.markdown]


def test_retry_sends_the_failed_turn_again_to_that_pane_alone(
    fault_server: FaultServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first chat fails with 503 (no retries configured); the second answers.
    flaky = fault_server.scenario(Reply(status=503, json={"error": {"code": "busy", "message": "try later"}}))
    open_ = fault_server.scenario(Reply(sse=chat_chunks(["answered"])))
    at = _compare_app(tmp_path, monkeypatch, {"flaky": flaky.endpoint, "open": open_.endpoint})
    at.chat_input(key="compare.input").set_value("Hello there").run()
    assert not at.exception, at.exception
    assert [c.value for c in at.caption].count(f":orange[{FAILED_MARK}]") == 1
    chats_before = [r for r in flaky.requests if r.path.endswith("/chat/completions")]
    open_before = len([r for r in open_.requests if r.path.endswith("/chat/completions")])

    flaky.replies[:] = [Reply(sse=chat_chunks(["recovered"]))]
    at.button(key="retry_p1_0").click().run()
    assert not at.exception, at.exception
    chats = [r for r in flaky.requests if r.path.endswith("/chat/completions")]
    assert len(chats) == len(chats_before) + 1
    assert [m["content"] for m in chats[-1].json()["messages"] if m["role"] == "user"] == ["Hello there"]
    # The other pane's answer stays; nothing more was sent to it.
    assert len([r for r in open_.requests if r.path.endswith("/chat/completions")]) == open_before
    texts = [m.value for m in at.markdown]
    assert "recovered" in texts and "answered" in texts
    assert f":orange[{FAILED_MARK}]" not in [c.value for c in at.caption]
