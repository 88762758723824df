"""Compare share links carry the tool settings (AppTest against the recording fault server): a fresh session opened
on the link has "answer tool calls automatically" on and the same canned results, and answers the panes' calls
without a click, in an open link and in a blind one."""

from __future__ import annotations

from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from services.compare_link import QUERY_BLIND, QUERY_OWN, QUERY_PANES, QUERY_TOOLS
from services.config import Deployment
from tests.fixtures.fault_server import FaultServer, Reply, Scenario, chat_chunks, tool_call_chunks

CANNED = '{"get_weather": "sunny"}'
NO_INFO = Reply(status=404, text="NOT FOUND")  # blind mode asks /info for the model name first


def _script() -> None:
    from pages.compare import render

    render()


def make_scenarios(fault_server: FaultServer, *first: Reply) -> dict[str, Scenario]:
    calls = {"orion": ("call_c", "calculator", '{"expression": "6 * 7"}'), "vega": ("call_w", "get_weather", "{}")}
    return {
        name: fault_server.scenario(*first, Reply(sse=tool_call_chunks([call])), Reply(sse=chat_chunks(["Done."])))
        for name, call in calls.items()
    }


@pytest.fixture
def scenarios(fault_server: FaultServer) -> dict[str, Scenario]:
    return make_scenarios(fault_server)


def page(scenarios: dict[str, Scenario], query: dict[str, str]) -> AppTest:
    """A fresh session opened on this query (as a link opened in a new browser would be)."""
    at = AppTest.from_function(_script, default_timeout=30)
    at.session_state["deployments_added"] = {
        name: Deployment(name=name, endpoint=s.endpoint, max_retries=0) for name, s in scenarios.items()
    }
    for name, value in query.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, at.exception
    return at


def query_of(at: AppTest) -> dict[str, str]:
    at.run()  # the query parameters follow the page from a session's second run on
    return {k: v[0] if isinstance(v, list) else v for k, v in at.query_params.items()}


def chat_bodies(scenario: Scenario) -> list[dict[str, Any]]:
    return [r.json() for r in scenario.requests if r.path.endswith("/chat/completions")]


def set_tools(at: AppTest) -> None:
    at.toggle(key="compare.auto_tools").set_value(True).run()
    at.text_area(key="compare_tools_canned").input(CANNED).run()
    assert not at.exception, at.exception


def assert_answers_by_itself(at: AppTest, scenarios: dict[str, Scenario]) -> None:
    assert at.toggle(key="compare.auto_tools").value is True
    assert at.text_area(key="compare_tools_canned").value == CANNED
    at.chat_input(key="compare.input").set_value("go").run()
    assert not at.exception, at.exception
    orion, vega = chat_bodies(scenarios["orion"]), chat_bodies(scenarios["vega"])
    assert len(orion) == 2 and len(vega) == 2  # each pane went on from its results without a click
    assert vega[1]["messages"][-1] == {"role": "tool", "tool_call_id": "call_w", "content": "sunny"}
    assert orion[1]["messages"][-1]["content"] == '{"expression": "6 * 7", "result": 42}'


def test_an_open_link_brings_back_auto_answers_and_the_canned_results(scenarios: dict[str, Scenario]) -> None:
    first = page(scenarios, {QUERY_PANES: "orion,vega"})
    assert QUERY_TOOLS not in query_of(first)
    set_tools(first)
    link = query_of(first)
    assert set(link) == {QUERY_PANES, QUERY_TOOLS}
    assert_answers_by_itself(page(scenarios, link), scenarios)


def test_a_blind_link_brings_them_back_sealed(fault_server: FaultServer) -> None:
    scenarios = make_scenarios(fault_server, NO_INFO)
    first = page(scenarios, {QUERY_PANES: "orion,vega"})
    first.toggle(key="compare.blind").set_value(True).run()
    set_tools(first)
    link = query_of(first)
    assert set(link) == {QUERY_BLIND}
    opened = page(scenarios, link)
    assert opened.session_state["compare.state"].hidden
    assert_answers_by_itself(opened, scenarios)


def test_a_broken_tools_value_says_so_and_leaves_them_off(scenarios: dict[str, Scenario]) -> None:
    at = page(scenarios, {QUERY_PANES: "orion,vega", QUERY_TOOLS: "garbled!"})
    assert any("tool settings in this link could not be read" in w.value for w in at.warning)
    assert at.toggle(key="compare.auto_tools").value is False
    assert at.text_area(key="compare_tools_canned").value == ""


def test_a_link_with_both_settings_broken_names_both(scenarios: dict[str, Scenario]) -> None:
    at = page(scenarios, {QUERY_PANES: "orion,vega", QUERY_OWN: "cut-short", QUERY_TOOLS: "garbled!"})
    notices = " ".join(w.value for w in at.warning)
    assert "pane settings in this link could not be read" in notices
    assert "tool settings in this link could not be read" in notices
    assert [pane.sync for pane in at.session_state["compare.state"].panes] == [True, True]
