"""Blind mode keeps the panes anonymous to the end (AppTest against the recording fault server): "Continue with this
one" waits for the reveal, tool call ids (`toolu_…`, `call_…`) stay off the page, and a vote can be withdrawn with
one click, which deletes its stored row and shows the radio with nothing chosen."""

from __future__ import annotations

from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from app.components.compare_pane import BLIND_CONTINUE
from services.config import Deployment
from services.store.arena import ArenaStore
from tests.app.conftest import all_text
from tests.fixtures.fault_server import FaultServer, Reply, Scenario, chat_chunks, tool_call_chunks

NO_INFO = Reply(status=404, text="NOT FOUND")  # blind mode asks /info for the model name first
IDS = {"orion": "toolu_01AbCdEfGh", "vega": "call_Zy9XwVu8"}


def _script() -> None:
    from pages.compare import render

    render()


def blind_page(scenarios: dict[str, Scenario]) -> AppTest:
    at = AppTest.from_function(_script, default_timeout=30)
    at.session_state["deployments_added"] = {
        name: Deployment(name=name, endpoint=s.endpoint, max_retries=0) for name, s in scenarios.items()
    }
    at.query_params["panes"] = "orion,vega"
    at.run()
    at.toggle(key="compare.blind").set_value(True).run()
    assert not at.exception, at.exception
    return at


def send(at: AppTest, text: str) -> None:
    at.chat_input(key="compare.input").set_value(text).run()
    assert not at.exception, at.exception


def shown(at: AppTest) -> str:
    """Everything drawn as text, labels of widgets included."""
    parts = [all_text(at), *(h.proto.body for h in at.html)]
    parts += [f"{w.label} {w.help or ''}" for w in [*at.button, *at.text_area, *at.radio, *at.toggle]]
    return "\n".join(parts)


@pytest.fixture
def answering(fault_server: FaultServer) -> dict[str, Scenario]:
    return {name: fault_server.scenario(NO_INFO, Reply(sse=chat_chunks([f"{name} says hi"]))) for name in IDS}


def test_continue_with_this_one_waits_for_the_reveal_and_says_why(answering: dict[str, Scenario]) -> None:
    at = blind_page(answering)
    send(at, "hello")
    for uid in ("p1", "p2"):
        button = at.button(key=f"compare.{uid}.continue")
        assert button.disabled and button.help == BLIND_CONTINUE
    at.button(key="compare.reveal").click().run()
    button = at.button(key="compare.p1.continue")
    assert not button.disabled
    button.click().run()
    assert not at.exception, at.exception
    assert at.session_state["deployment_selected"] == "orion"


def test_withdraw_vote_deletes_the_stored_row_and_clears_the_radio(answering: dict[str, Scenario]) -> None:
    at = blind_page(answering)
    send(at, "hello")
    assert all(b.key != "compare.withdraw" for b in at.button)  # nothing to withdraw yet
    at.radio(key="compare.vote.0").set_value("Tie").run()
    assert len(ArenaStore().votes()) == 1
    at.button(key="compare.withdraw").click().run()
    assert not at.exception, at.exception
    assert ArenaStore().votes() == []
    assert at.session_state["compare.state"].turns[0].vote is None
    [radio] = [r for r in at.radio if str(r.key).startswith("compare.vote.0")]
    assert radio.value is None and radio.key != "compare.vote.0"  # drawn afresh, nothing chosen
    assert all(b.key != "compare.withdraw" for b in at.button)
    assert any("0 vote(s) recorded" in c.value for c in at.caption)
    radio.set_value("All bad").run()  # voting again after a withdrawal works and is stored once
    [vote] = ArenaStore().votes()
    assert vote.verdict == "all-bad"


@pytest.fixture
def calling(fault_server: FaultServer) -> dict[str, Scenario]:
    return {
        name: fault_server.scenario(
            NO_INFO,
            Reply(sse=tool_call_chunks([(call_id, "get_weather", '{"city": "Oslo"}')])),
            Reply(sse=chat_chunks(["Sunny."])),
        )
        for name, call_id in IDS.items()
    }


def test_blind_panes_show_no_tool_call_id_until_revealed(calling: dict[str, Scenario]) -> None:
    at = blind_page(calling)
    send(at, "weather?")
    waiting = shown(at)
    assert "get_weather" in waiting  # the form is there, named by its tool
    for call_id in IDS.values():
        assert call_id not in waiting, call_id
    for box in [w for w in at.text_area if str(w.key).startswith("compare_tool_")]:
        box.input("sunny")
    for uid in ("p1", "p2"):
        at.button(key=f"compare_tool_{uid}_send").click().run()
    assert not at.exception, at.exception
    answered = shown(at)
    assert answered.count("Tool result") == 2 and "Sunny." in answered
    for call_id in IDS.values():
        assert call_id not in answered, call_id
    sent: list[Any] = [r.json()["messages"] for s in calling.values() for r in s.requests[1:]]
    assert {m[-1].get("tool_call_id") for m in sent if m[-1]["role"] == "tool"} == set(IDS.values())  # kept in requests
    at.button(key="compare.reveal").click().run()
    revealed = shown(at)
    assert all(call_id in revealed for call_id in IDS.values())


def test_names_a_model_gives_itself_are_hidden_until_the_reveal(fault_server: FaultServer) -> None:
    from app.components.compare_pane import blind_mask_for
    from pages.compare import _export_names
    from services.blind_mask import HIDDEN_NAME
    from services.compare_export import export_html

    info = {"model_name": "Obsidian-7B-Chat", "model_type": "chat-completion", "model_provider_name": "Contoso"}
    boast = "I am Obsidian, made by Contoso. Philosophy is fun."
    scenarios = {name: fault_server.scenario(Reply(json=info), Reply(sse=chat_chunks([boast]))) for name in IDS}
    at = blind_page(scenarios)
    send(at, "who are you?")
    blind = shown(at)
    assert "Obsidian" not in blind and "Contoso" not in blind
    assert blind.count(f"I am {HIDDEN_NAME}, made by {HIDDEN_NAME}. Philosophy is fun.") == 2  # the rest is kept
    assert "shown when names are revealed" in blind
    state = at.session_state["compare.state"]
    names = _export_names(state)
    deployments = at.session_state["deployments_added"]
    exported = export_html(state.turns, list(names), names, deployments, mask=blind_mask_for(state, deployments))
    assert "Obsidian" not in exported and "Contoso" not in exported and HIDDEN_NAME in exported
    at.button(key="compare.reveal").click().run()
    assert shown(at).count(boast) == 2
