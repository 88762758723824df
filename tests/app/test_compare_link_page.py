"""Compare share links in AppTest: an unsynced pane's own settings come back with the link, a blind link carries
everything sealed and opens blind in a fresh session, and a link this server cannot read says so without a name."""

from __future__ import annotations

import os
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from services.compare_link import BLIND_PURPOSE
from services.config import Deployment
from services.link_seal import link_key, seal
from tests.fixtures.fault_server import FaultServer, Reply, chat_chunks


def _script() -> None:
    from pages.compare import render

    render()


@pytest.fixture
def servers(fault_server: FaultServer) -> dict[str, Any]:
    scenarios = {
        "zircon-east": fault_server.scenario(Reply(sse=chat_chunks(["Hi", " there"]))),
        "quartz-west": fault_server.scenario(Reply(sse=chat_chunks(["s0 ", "s1 ", "s2"]))),
    }
    return {
        "scenarios": scenarios,
        "deployments": {n: Deployment(name=n, endpoint=s.endpoint, max_retries=0) for n, s in scenarios.items()},
    }


def page(servers: dict[str, Any], query: dict[str, str]) -> AppTest:
    """A fresh session opened on this query (as a link opened in a new browser would be)."""
    at = AppTest.from_function(_script, default_timeout=30)
    at.session_state["deployments_added"] = dict(servers["deployments"])
    for name, value in query.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, at.exception
    return at


def query_of(at: AppTest) -> dict[str, str]:
    at.run()  # the query parameters follow the page from a session's second run on
    return {k: v[0] if isinstance(v, list) else v for k, v in at.query_params.items()}


def chat_bodies(servers: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """Chat requests only (while blind the page also asks each deployment's /info, for the names to hide)."""
    return [r.json() for r in servers["scenarios"][name].requests if r.path.endswith("/chat/completions")]


def own_settings(at: AppTest) -> None:
    """Pane 2 unsynced with its own system prompt, max_tokens 33 and JSON mode."""
    at.toggle(key="compare.p2.sync").set_value(False).run()
    at.text_area(key="compare.p2.system").input("Own system.").run()
    at.checkbox(key="compare.p2.max_tokens_on").check().run()
    at.number_input(key="compare.p2.max_tokens").set_value(33).run()
    at.selectbox(key="compare.p2.format").select("json_object").run()


def assert_pane_two_has_its_own_settings(at: AppTest, servers: dict[str, Any]) -> None:
    state = at.session_state["compare.state"]
    assert [(p.deployment, p.sync) for p in state.panes] == [("zircon-east", True), ("quartz-west", False)]
    assert at.text_area(key="compare.p2.system").value == "Own system."
    assert at.checkbox(key="compare.p2.max_tokens_on").value is True
    assert at.number_input(key="compare.p2.max_tokens").value == 33
    at.chat_input(key="compare.input").set_value("go").run()
    assert not at.exception, at.exception
    east, west = chat_bodies(servers, "zircon-east")[-1], chat_bodies(servers, "quartz-west")[-1]
    assert "max_tokens" not in east and "response_format" not in east and east["messages"][0]["role"] == "user"
    assert west["max_tokens"] == 33 and west["response_format"] == {"type": "json_object"}
    assert west["messages"][0] == {"role": "system", "content": "Own system."}


def test_an_unsynced_pane_comes_back_with_its_own_settings_from_the_share_link(servers):
    at = page(servers, {"panes": "zircon-east,quartz-west"})
    own_settings(at)
    query = query_of(at)
    assert query["panes"] == "zircon-east,quartz-west" and "own" in query
    assert_pane_two_has_its_own_settings(page(servers, query), servers)


def test_a_pane_synced_again_leaves_the_link(servers):
    at = page(servers, {"panes": "zircon-east,quartz-west"})
    own_settings(at)
    at.toggle(key="compare.p2.sync").set_value(True).run()
    assert "own" not in query_of(at)


def test_a_blind_link_names_nothing_carries_the_settings_and_opens_blind_in_a_fresh_session(servers):
    at = page(servers, {"panes": "zircon-east,quartz-west"})
    own_settings(at)
    at.toggle(key="compare.blind").set_value(True).run()
    query = query_of(at)
    assert set(query) == {"blind"}
    assert not any(word in query["blind"] for word in ("zircon", "quartz", "Own"))
    assert query_of(at) == query, "the token changed although the comparison did not"

    opened = page(servers, query)
    state = opened.session_state["compare.state"]
    assert state.blind and not state.revealed
    assert not [s for s in opened.selectbox if s.key and s.key.endswith(".deployment")]
    assert query_of(opened) == query, "opening the link changed its address"
    assert_pane_two_has_its_own_settings(opened, servers)
    # Reveal: the address names the panes again (and carries the settings in the open).
    opened.button(key="compare.reveal").click().run()
    revealed = query_of(opened)
    assert revealed["panes"] == "zircon-east,quartz-west" and "own" in revealed and "blind" not in revealed


def test_a_blind_link_made_under_another_key_opens_blind_with_default_panes_and_says_why(servers):
    token = seal({"panes": ["zircon-east", "quartz-west"]}, os.urandom(32), purpose=BLIND_PURPOSE)
    at = page(servers, {"blind": token})
    state = at.session_state["compare.state"]
    assert state.blind and not state.revealed and len(state.panes) == 2
    assert "another playground" in at.warning[0].value


def test_a_blind_link_with_a_deployment_not_configured_here_leaves_it_out_without_naming_it(servers):
    token = seal({"panes": ["zircon-east", "secret-elsewhere"]}, link_key(), purpose=BLIND_PURPOSE)
    at = page(servers, {"blind": token})
    state = at.session_state["compare.state"]
    assert state.blind and [p.deployment for p in state.panes] == ["zircon-east"]
    warning = at.warning[0].value
    assert "1 of this link's panes" in warning and "secret-elsewhere" not in warning


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"max_tokens": 10**9, "max_tokens_on": "yes", "format": "xml"}, (256, False, "default")),
        ({"max_tokens": 12.0, "max_tokens_on": True, "format": "json_object"}, (12, True, "json_object")),
        ({"max_tokens": float("inf"), "temperature": True, "system": ["not", "text"]}, (256, False, "default")),
    ],
)
def test_settings_from_a_link_the_fields_cannot_hold_are_left_at_their_defaults(servers, given, expected):
    from services.compare_link import CompareLink, encode_own

    own = encode_own(CompareLink(("zircon-east",), {0: given}).own)
    at = page(servers, {"panes": "zircon-east", "own": own})
    shown = (
        at.number_input(key="compare.p1.max_tokens").value,
        at.checkbox(key="compare.p1.max_tokens_on").value,
        at.selectbox(key="compare.p1.format").value,
    )
    assert shown == expected
    assert at.text_area(key="compare.p1.system").value == ""
    assert at.number_input(key="compare.p1.temperature").value == pytest.approx(0.7)
