"""Compare settings beyond sampling: penalties, stop sequences, model_extras with its extra-parameters mode, and the
caption each pane shows for settings its deployment does not support. AppTest against the fault server."""

from __future__ import annotations

from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from app.chat_params import JSON_SCHEMA_PARAM, ParamValues
from app.components.compare_params import not_sent
from services.config import Deployment
from tests.fixtures.fault_server import FaultServer, Recorded, Reply, chat_chunks

MARKS = "test.marks"
NOT_SENT = "not sent here"
TOOLS_422 = {
    "status": 422,
    "code": "parameter_not_supported",
    "detail": {"loc": ["body", "tools"], "input": [{"type": "function", "function": {"name": "get_time"}}]},
    "message": "One of the parameters contain invalid values.",
}


def _script() -> None:
    import streamlit as st

    from app.state import mark_unsupported
    from pages.compare import render

    # What the models page's probe records, given to the real app.state API before the page draws.
    for deployment, param, reason in st.session_state.pop("test.marks", []):
        mark_unsupported(deployment, param, reason)
    render()


@pytest.fixture
def servers(fault_server: FaultServer) -> dict[str, Any]:
    answer = Reply(sse=chat_chunks(["ok"]))
    scenarios = {
        "fast": fault_server.scenario(answer),
        "slow": fault_server.scenario(answer),
        "picky": fault_server.scenario(Reply(status=422, json=TOOLS_422), answer),
    }
    return {
        "scenarios": scenarios,
        "deployments": {n: Deployment(name=n, endpoint=s.endpoint, max_retries=0) for n, s in scenarios.items()},
    }


def page(servers: dict[str, Any], panes: str, marks: list[tuple[str, str, str]] | None = None) -> AppTest:
    at = AppTest.from_function(_script, default_timeout=30)
    at.session_state["deployments_added"] = dict(servers["deployments"])
    if marks:
        at.session_state[MARKS] = marks
    at.query_params["panes"] = panes
    at.run()
    assert not at.exception, at.exception
    return at


def last(servers: dict[str, Any], name: str) -> Recorded:
    return servers["scenarios"][name].requests[-1]


def send(at: AppTest, prompt: str) -> None:
    at.chat_input(key="compare.input").set_value(prompt).run()
    assert not at.exception, at.exception


def switch_on(at: AppTest, key: str, value: float) -> None:
    """Switch a numeric control on (as a user ticks its box) and set its value."""
    at.checkbox(key=f"{key}_on").check().run()
    at.number_input(key=key).set_value(value).run()


def not_sent_captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption if NOT_SENT in c.value]


def test_penalties_stop_and_model_extras_reach_the_request_and_unset_ones_send_nothing(servers):
    at = page(servers, "fast")
    send(at, "defaults")
    body = last(servers, "fast").json()
    for name in ("presence_penalty", "frequency_penalty", "stop", "top_k"):
        assert name not in body
    assert "extra-parameters" not in last(servers, "fast").headers
    switch_on(at, "compare.shared.presence_penalty", 0.5)
    switch_on(at, "compare.shared.frequency_penalty", -0.3)
    at.text_area(key="compare.shared.stop").input("END\n\n###").run()
    at.text_area(key="compare.shared.model_extras").input('{"top_k": 7}').run()
    at.selectbox(key="compare.shared.extra_parameters").select("drop").run()
    send(at, "with everything")
    sent = last(servers, "fast")
    body = sent.json()
    assert body["presence_penalty"] == pytest.approx(0.5)
    assert body["frequency_penalty"] == pytest.approx(-0.3)
    assert body["stop"] == ["END", "###"]  # one per line, the blank line ignored
    assert body["top_k"] == 7
    assert sent.headers["extra-parameters"] == "drop"


def test_an_unsynced_pane_sends_its_own_stop_and_model_extras(servers):
    at = page(servers, "fast,slow")
    switch_on(at, "compare.shared.presence_penalty", 1.0)
    at.toggle(key="compare.p2.sync").set_value(False).run()
    assert at.number_input(key="compare.p2.presence_penalty").value == pytest.approx(1.0)
    assert at.checkbox(key="compare.p2.presence_penalty_on").value is True
    at.text_area(key="compare.p2.stop").input("STOP").run()
    at.text_area(key="compare.p2.model_extras").input('{"top_k": 3}').run()
    send(at, "go")
    fast, slow = last(servers, "fast"), last(servers, "slow")
    assert fast.json()["presence_penalty"] == pytest.approx(1.0) and slow.json()["presence_penalty"] == pytest.approx(
        1.0
    )
    assert "stop" not in fast.json() and "top_k" not in fast.json() and "extra-parameters" not in fast.headers
    assert slow.json()["stop"] == ["STOP"] and slow.json()["top_k"] == 3
    assert slow.headers["extra-parameters"] == "pass-through"  # the default mode once extras are set


def test_invalid_model_extras_json_blocks_sending_and_names_the_position(servers):
    at = page(servers, "fast,slow,fast")
    at.toggle(key="compare.p2.sync").set_value(False).run()
    at.text_area(key="compare.shared.model_extras").input('{"top_k": 7,}').run()
    errors = [m.value for m in at.markdown if m.value.startswith("model_extras:")]
    # Two panes follow the shared settings: their mistake is named once.
    assert errors == ["model_extras: Expecting property name enclosed in double quotes at line 1, column 13."]
    assert at.chat_input(key="compare.input").disabled
    at.text_area(key="compare.shared.model_extras").input("").run()
    assert not at.chat_input(key="compare.input").disabled
    at.text_area(key="compare.p2.model_extras").input('{"top_k": 7,}').run()
    assert any("at line 1, column 13" in m.value for m in at.markdown)
    assert "In the settings of the pane **slow**:" in [c.value for c in at.caption]
    assert at.chat_input(key="compare.input").disabled
    at.text_area(key="compare.p2.model_extras").input("[1, 2]").run()
    assert any("model_extras: expected an object" in m.value for m in at.markdown)
    assert at.chat_input(key="compare.input").disabled
    # Nothing typed is lost and nothing went out while the editor was wrong.
    assert at.text_area(key="compare.p2.model_extras").value == "[1, 2]"
    assert not servers["scenarios"]["fast"].requests and not servers["scenarios"]["slow"].requests
    at.text_area(key="compare.p2.model_extras").input('{"top_k": 7}').run()
    assert not at.chat_input(key="compare.input").disabled


def test_a_422_pane_names_the_refused_setting_after_retry_without_and_stops_sending_it(servers):
    at = page(servers, "fast,picky")
    at.text_area(key="compare.shared.tools").input('[{"name": "get_time"}]').run()
    assert not not_sent_captions(at)
    send(at, "what time is it?")
    at.button(key="retry_without_p2_0").click().run()
    assert not at.exception
    assert not_sent_captions(at) == [":orange[not sent here: tools (rejected with 422)]"]  # the picky pane only
    send(at, "and now?")
    assert "tools" not in last(servers, "picky").json() and "tool_choice" not in last(servers, "picky").json()
    assert last(servers, "fast").json()["tools"] == [{"type": "function", "function": {"name": "get_time"}}]


def test_probe_marks_name_unsupported_settings_and_model_extras_keys_per_pane(servers):
    marks = [
        ("slow", "seed", "probe: slow does not support `seed`"),
        ("slow", "top_k", "probe: extra parameter refused"),
        ("slow", "stop", "probe: not supported"),
    ]
    at = page(servers, "fast,slow", marks)
    assert not not_sent_captions(at), "unset settings are not in force, so nothing is named"
    switch_on(at, "compare.shared.seed", 5)
    at.text_area(key="compare.shared.model_extras").input('{"top_k": 1, "keep": 2}').run()
    caption = not_sent_captions(at)
    assert caption == [
        ":orange[not sent here: seed (probe: slow does not support `seed`), top_k (probe: extra parameter refused)]"
    ]
    send(at, "hi")
    slow, fast = last(servers, "slow").json(), last(servers, "fast").json()
    assert "seed" not in slow and "top_k" not in slow and slow["keep"] == 2
    assert fast["seed"] == 5 and fast["top_k"] == 1
    at.toggle(key="compare.blind").set_value(True).run()
    blind = not_sent_captions(at)
    assert len(blind) == 1 and "slow" not in blind[0] and "Model " in blind[0], blind


def test_not_sent_names_only_settings_in_force_that_are_left_out():
    values = ParamValues(
        seed=1,
        tools='[{"name": "f"}]',
        tool_choice="f",
        response_format="json_schema",
        json_schema='{"type": "object"}',
        model_extras='{"top_k": 1}',
    )
    refused = {"tools": "r1", JSON_SCHEMA_PARAM: "r2", "top_k": "r3", "stop": "r4"}
    assert not_sent(values, refused) == {"tools": "r1", "response_format (json_schema)": "r2", "top_k": "r3"}
    assert not_sent(values, {"model_extras": "r5"}) == {"model_extras": "r5"}
    assert not_sent(values, {}) == {}
    assert not_sent(ParamValues(model_extras="{bad"), {"model_extras": "r5"}) == {}
