"""Presenter mode on the chat page: the URL parameter and the sidebar switch, what the stage hides, plain-word error
cards, metrics as large figures, and a demo script stepped through with one click per prompt."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest

from services.error_words import KEY_SOURCES
from tests.app.conftest import all_text, send
from tests.fixtures.app_server import toml_deployment
from tests.fixtures.fault_server import FaultServer, Reply, chat_chunks, closed_port

STAGE_CSS_MARK = '[data-testid="stSidebar"]'
TRACE_LINK = re.compile(r"/traces\?trace=([0-9a-f]{32})")


def _page_text(at: AppTest) -> str:
    """Everything the page drew as text: markdown, captions, inputs, button labels, metrics and raw HTML."""
    parts = [all_text(at)]
    parts += [f"{b.label} {b.help or ''}" for b in at.button]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    parts += [str(h.proto.body) for h in at.get("html")]
    return "\n".join(parts)


def _on_stage(at: AppTest) -> bool:
    return any(STAGE_CSS_MARK in str(h.proto.body) for h in at.get("html"))


def _answering(fault_server: FaultServer) -> str:
    return fault_server.scenario(Reply(sse=chat_chunks(["Hello ", "there"]))).endpoint


def test_present_in_the_url_hides_the_sidebar_until_leave_is_clicked(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    at = app_with_config(toml_deployment("demo", _answering(fault_server)), {"present": "1"})
    assert at.sidebar.children == {}  # nothing of the sidebar reaches the page
    assert _on_stage(at) and "font-size: 1.4rem" in _page_text(at)
    assert at.subheader[0].value == "Chat with demo"
    at.button(key="presenter_leave").click().run()
    assert not at.exception
    assert "present" not in at.query_params
    assert not _on_stage(at)
    assert at.sidebar.selectbox[0].label == "Deployment"
    assert at.toggle(key="presenter_switch").value is False


def test_the_sidebar_switch_turns_it_on_and_a_page_switch_keeps_it(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    at = app_with_config(toml_deployment("demo", _answering(fault_server)))
    assert not _on_stage(at) and at.sidebar.children
    at.toggle(key="presenter_switch").set_value(True).run()
    assert not at.exception
    assert at.query_params["present"] == "1"
    assert _on_stage(at) and at.sidebar.children == {}
    # A page switch drops the query parameters: the session keeps the mode and writes it back.
    del at.query_params["present"]
    at.run()
    assert _on_stage(at) and at.query_params["present"] == "1"
    at.query_params["present"] = "0"
    at.run()
    assert not _on_stage(at) and "present" not in at.query_params


def _failing_deployments(fault_server: FaultServer) -> str:
    denied = Reply(status=401, json={"error": {"code": "401", "message": "Access denied due to invalid key."}})
    keyed = fault_server.scenario(denied).endpoint
    wrong_key = toml_deployment("keyed", keyed, key="wrong-key-0a1b", max_retries=0)
    return wrong_key + toml_deployment("gone", f"http://127.0.0.1:{closed_port()}", max_retries=0)


def test_an_error_card_on_stage_says_plain_words_without_key_source_host_or_ids(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    at = app_with_config(_failing_deployments(fault_server))
    send(at, "hi")
    backstage = _page_text(at)
    # Off stage the card names where the key came from and links its trace: the details the stage must hide.
    assert "came from the configuration file" in backstage
    [trace_id] = TRACE_LINK.findall(backstage)
    conversation_id = at.query_params["c"]
    at.toggle(key="presenter_switch").set_value(True).run()
    assert not at.exception
    stage = _page_text(at)
    assert "keyed could not be signed in to" in stage and "Ask the organiser" in stage
    for hidden in [*KEY_SOURCES.values(), trace_id, conversation_id, "Open its trace", "Request id", "401"]:
        assert hidden not in stage, hidden
    assert "127.0.0.1" not in stage  # the fault server's and the closed port's host
    assert at.button(key="retry_1").label == "Retry"  # still actionable on stage


def test_an_unreachable_endpoint_on_stage_does_not_name_its_host(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    at = app_with_config(_failing_deployments(fault_server), {"present": "1"})
    at.session_state["deployment_selected"] = "gone"
    at.run()
    send(at, "anyone there?")
    stage = _page_text(at)
    assert "Cannot reach gone" in stage and "not answering right now" in stage
    assert "127.0.0.1" not in stage and "unavailable" not in stage


def test_metrics_on_stage_are_large_figures_without_the_caption_strip(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    at = app_with_config(toml_deployment("demo", _answering(fault_server)), {"present": "1"})
    send(at, "hi")
    assert [m.label for m in at.metric] == ["First token", "Total time", "Speed", "Tokens"]
    assert at.metric[3].value == "7"  # 5 prompt + 2 completion tokens
    assert not any("first token" in c.value for c in at.caption)
    at.button(key="presenter_leave").click().run()
    assert at.metric.len == 0
    assert any("first token" in c.value and "tokens/s" in c.value for c in at.caption)


def test_a_typed_demo_script_is_saved_to_the_library_and_sent_one_click_per_prompt(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer, tmp_path: Path
) -> None:
    scenario = fault_server.scenario(Reply(sse=chat_chunks(["Hello ", "there"])))
    prompts = tmp_path / "prompts"
    at = app_with_config(
        toml_deployment("demo", scenario.endpoint), {"present": "1"}, PLAYGROUND_PROMPTS_DIR=str(prompts)
    )
    assert at.button.len == 0 or all(b.key != "chat_demo_next" for b in at.button)
    at.text_input(key="chat_demo_name").input("Launch demo")
    at.text_area(key="chat_demo_text").input("Say hello.\n\nName three colours.\n")
    at.button(key="chat_demo_save").click().run()
    assert not at.exception
    assert (prompts / "launch-demo.prompt.yml").is_file()
    assert "Saved as" in _page_text(at) and "2 prompts" in _page_text(at)
    first = at.button(key="chat_demo_next")
    assert first.label == "Next: Say hello\\."
    first.click().run()
    assert not at.exception
    assert [m.markdown[0].value for m in at.chat_message] == ["Say hello.", "Hello there"]
    second = at.button(key="chat_demo_next")
    assert second.label == "Next: Name three colours\\."
    second.click().run()
    assert [m.markdown[0].value for m in at.chat_message][2:] == ["Name three colours.", "Hello there"]
    assert "Demo script finished: all 2 prompts sent." in _page_text(at)
    sent = [r.json()["messages"] for r in scenario.requests if r.path.startswith("/chat/completions")]
    assert [[m["content"] for m in body if m["role"] == "user"] for body in sent] == [
        ["Say hello."],
        ["Say hello.", "Name three colours."],
    ]
    at.button(key="chat_demo_restart").click().run()
    assert at.button(key="chat_demo_next").label == "Next: Say hello\\."


def test_a_library_prompt_picked_as_the_script_sends_its_user_messages(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer, tmp_path: Path
) -> None:
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "tour.prompt.yml").write_text(
        "name: Product tour\nmessages:\n  - role: system\n    content: Be brief.\n"
        "  - role: user\n    content: What is {{thing}}?\n  - role: user\n    content: Thanks!\n"
        "testData:\n  - thing: Azure\n"
    )
    at = app_with_config(toml_deployment("demo", _answering(fault_server)), PLAYGROUND_PROMPTS_DIR=str(prompts))
    at.selectbox(key="chat_demo_pick").set_value("tour.prompt.yml").run()
    assert not at.exception
    at.button(key="chat_demo_next").click().run()
    assert at.chat_message[0].markdown[0].value == "What is Azure?"
    assert at.button(key="chat_demo_next").label == "Next: Thanks\\!"
