"""The compare page in AppTest, against scripted streams on the fault server (a real HTTP server on loopback)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import SecretStr
from streamlit.testing.v1 import AppTest

from services.config import Deployment
from tests.fixtures.fault_server import FaultServer, Reply, chat_chunks

KEY = "sk-compare-apptest-secret"
SLOW_TEXT = "".join(f"s{i} " for i in range(8))


def _script() -> None:
    from pages.compare import render

    render()


@pytest.fixture
def deployments(fault_server: FaultServer) -> dict[str, Any]:
    fast = fault_server.scenario(Reply(sse=chat_chunks(["Hi", " there", " friend"]), chunk_delay=0.02))
    slow = fault_server.scenario(Reply(sse=chat_chunks([f"s{i} " for i in range(8)]), chunk_delay=0.03))
    bad = fault_server.scenario(Reply(status=401, json={"statusCode": 401, "message": "Auth token validation failed"}))
    return {
        "scenarios": {"fast": fast, "slow": slow, "bad": bad},
        "deployments": {
            "fast": Deployment(name="fast", endpoint=fast.endpoint, max_retries=0),
            "slow": Deployment(name="slow", endpoint=slow.endpoint, max_retries=0, price_per_1k_output=1.0),
            "bad": Deployment(name="bad", endpoint=bad.endpoint, max_retries=0, key=SecretStr(KEY)),
        },
    }


def page(deployments: dict[str, Any], panes: str | None) -> AppTest:
    at = AppTest.from_function(_script, default_timeout=30)
    at.session_state["deployments_added"] = dict(deployments["deployments"])
    if panes is not None:
        at.query_params["panes"] = panes
    return at.run()


def pane_texts(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def pane_labels(at: AppTest) -> list[str]:
    """The panes' header labels, in the order shown (each drawn as st.html, its full text as the tooltip)."""
    return re.findall(r'<strong title="[^"]*">([^<]*)</strong>', "".join(h.proto.body for h in at.html))


def requests(deployments: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [r.json() for r in deployments["scenarios"][name].requests]


def test_panes_come_from_the_url_and_the_url_follows_every_change(deployments):
    at = page(deployments, "fast,slow,nope")
    assert not at.exception
    assert "nope" in at.warning[0].value
    # A session's first run leaves the address bar to the page's history script (no entry is pushed); the
    # query parameters follow from the next run on.
    at.run()
    assert at.query_params["panes"] == ["fast,slow"] or at.query_params["panes"] == "fast,slow"
    at.button(key="compare.add").click().run()
    assert _panes_param(at) == "fast,slow,slow"
    at.selectbox(key="compare.p3.deployment").select("bad").run()
    assert _panes_param(at) == "fast,slow,bad"
    at.button(key="compare.p1.remove").click().run()
    assert _panes_param(at) == "slow,bad"
    assert at.button(key="compare.add").disabled is False


def _panes_param(at: AppTest) -> str:
    value = at.query_params["panes"]
    return value[0] if isinstance(value, list) else value


def test_a_turn_goes_to_every_pane_and_each_pane_keeps_its_own_history(deployments):
    at = page(deployments, "fast,slow")
    at.chat_input(key="compare.input").set_value("first question").run()
    assert not at.exception
    texts = pane_texts(at)
    assert "Hi there friend" in texts and "s0 s1 s2 s3 s4 s5 s6 s7" in texts
    at.chat_input(key="compare.input").set_value("second question").run()
    second_fast = requests(deployments, "fast")[-1]["messages"]
    second_slow = requests(deployments, "slow")[-1]["messages"]
    assert [m["content"] for m in second_fast] == ["first question", "Hi there friend", "second question"]
    assert second_slow[1] == {"role": "assistant", "content": SLOW_TEXT}


SAMPLING = ("temperature", "top_p", "max_tokens", "seed", "presence_penalty", "frequency_penalty")


def test_a_turn_with_nothing_set_sends_no_parameter_though_every_field_shows_its_default(deployments):
    at = page(deployments, "fast,slow")
    # The fields show the chat panel's defaults, greyed until switched on.
    assert at.number_input(key="compare.shared.max_tokens").value == 256
    assert at.number_input(key="compare.shared.max_tokens").disabled
    assert at.number_input(key="compare.shared.temperature").value == pytest.approx(0.7)
    at.chat_input(key="compare.input").set_value("plain").run()
    assert not at.exception, at.exception
    for name in ("fast", "slow"):
        [body] = requests(deployments, name)
        assert not set(body) & {*SAMPLING, "stop", "response_format", "tools", "tool_choice"}, body


def test_a_shared_control_switched_on_sends_exactly_its_value_to_every_pane(deployments):
    at = page(deployments, "fast,slow")
    at.checkbox(key="compare.shared.max_tokens_on").check().run()
    assert not at.number_input(key="compare.shared.max_tokens").disabled
    at.number_input(key="compare.shared.max_tokens").set_value(77).run()
    at.chat_input(key="compare.input").set_value("short").run()
    for name in ("fast", "slow"):
        body = requests(deployments, name)[-1]
        assert body["max_tokens"] == 77
        assert not set(body) & (set(SAMPLING) - {"max_tokens"}), body
    # Switched off again, the value stays in the field but is not sent.
    at.checkbox(key="compare.shared.max_tokens_on").uncheck().run()
    assert at.number_input(key="compare.shared.max_tokens").value == 77
    at.chat_input(key="compare.input").set_value("again").run()
    assert all("max_tokens" not in requests(deployments, name)[-1] for name in ("fast", "slow"))


def test_a_pane_override_is_sent_to_that_pane_only(deployments):
    at = page(deployments, "fast,slow")
    at.toggle(key="compare.p2.sync").set_value(False).run()
    assert at.checkbox(key="compare.p2.max_tokens_on").value is False  # copied from the shared: off
    at.checkbox(key="compare.p2.max_tokens_on").check().run()
    at.number_input(key="compare.p2.max_tokens").set_value(33).run()
    at.checkbox(key="compare.p2.seed_on").check().run()
    at.chat_input(key="compare.input").set_value("go").run()
    fast, slow = requests(deployments, "fast")[-1], requests(deployments, "slow")[-1]
    assert slow["max_tokens"] == 33 and slow["seed"] == 42  # the seed's shown default, sent once switched on
    assert not set(fast) & set(SAMPLING), fast


def test_metrics_table_shows_last_turn_and_conversation_with_the_best_marked(deployments):
    at = page(deployments, "fast,slow")
    at.chat_input(key="compare.input").set_value("q").run()
    last, whole = at.dataframe[0].value, at.dataframe[1].value
    assert list(last["Pane"]) == ["fast", "slow"]
    for column in ("TTFT (s)", "Total (s)", "Tokens/s", "Tokens out", "Finish", "Cost ($)"):
        assert column in last.columns
    assert list(last["Tokens out"]) == ["3", "8"]
    assert list(last["Finish"]) == ["stop", "stop"]
    assert sum("★" in v for v in last["Total (s)"]) == 1
    assert last["Cost ($)"][1].startswith("0.008")  # 8 output tokens at $1 per 1k
    at.chat_input(key="compare.input").set_value("again").run()
    whole = at.dataframe[1].value
    assert list(whole["Tokens out"]) == ["6", "16"]
    assert list(whole["Finish"]) == ["stop×2", "stop×2"]


def test_an_error_in_one_pane_shows_its_card_while_the_others_answer(deployments):
    at = page(deployments, "fast,bad,slow")
    at.chat_input(key="compare.input").set_value("hi").run()
    texts = pane_texts(at)
    assert any("bad did not accept its key" in t for t in texts)
    assert "Hi there friend" in texts and "s0 s1 s2 s3 s4 s5 s6 s7" in texts
    assert all(KEY not in t for t in texts)
    finish = list(at.dataframe[0].value["Finish"])
    assert finish == ["stop", "error", "stop"]


def test_clicking_widgets_inside_a_pane_sends_nothing(deployments):
    at = page(deployments, "fast,slow")
    at.chat_input(key="compare.input").set_value("only once").run()
    sent = len(deployments["scenarios"]["fast"].requests), len(deployments["scenarios"]["slow"].requests)
    at.toggle(key="compare.p1.sync").set_value(False).run()
    at.selectbox(key="compare.p2.deployment").select("fast").run()
    at.toggle(key="compare.p1.sync").set_value(True).run()
    at.button(key="compare.add").click().run()
    assert not at.exception
    assert (len(deployments["scenarios"]["fast"].requests), len(deployments["scenarios"]["slow"].requests)) == sent
    assert pane_texts(at).count("only once") == 3  # the prompt shows in each of the three panes, sent once


def test_an_unsynced_pane_sends_its_own_system_prompt_and_parameters(deployments):
    at = page(deployments, "fast,slow")
    at.text_area(key="compare.shared.system").input("Shared system.").run()
    at.toggle(key="compare.p2.sync").set_value(False).run()
    # The pane's own settings start as a copy of the shared ones.
    assert at.text_area(key="compare.p2.system").value == "Shared system."
    at.text_area(key="compare.p2.system").input("Own system.").run()
    at.checkbox(key="compare.p2.temperature_on").check().run()
    at.number_input(key="compare.p2.temperature").set_value(0.3).run()
    at.selectbox(key="compare.p2.format").select("json_object").run()
    at.chat_input(key="compare.input").set_value("go").run()
    fast, slow = requests(deployments, "fast")[-1], requests(deployments, "slow")[-1]
    assert fast["messages"][0] == {"role": "system", "content": "Shared system."}
    assert "temperature" not in fast and "response_format" not in fast
    assert slow["messages"][0] == {"role": "system", "content": "Own system."}
    assert slow["temperature"] == pytest.approx(0.3)
    assert slow["response_format"] == {"type": "json_object"}


def test_invalid_tools_json_blocks_sending_and_says_where(deployments):
    at = page(deployments, "fast")
    at.text_area(key="compare.shared.tools").input("[{not json").run()
    assert any("Invalid JSON" in t for t in pane_texts(at))
    assert at.chat_input(key="compare.input").disabled
    at.text_area(key="compare.shared.tools").input('[{"name": "get_time"}]').run()
    assert not at.chat_input(key="compare.input").disabled
    at.chat_input(key="compare.input").set_value("time?").run()
    assert requests(deployments, "fast")[-1]["tools"] == [{"type": "function", "function": {"name": "get_time"}}]


def test_blind_mode_hides_names_collects_votes_and_reveals_the_tally(deployments):
    at = page(deployments, "fast,slow")
    at.toggle(key="compare.blind").set_value(True).run()
    at.chat_input(key="compare.input").set_value("which is better?").run()
    texts = pane_texts(at)
    assert pane_labels(at) == ["Model A", "Model B"]
    shown = texts + [c.value for c in at.caption] + [t.label for t in at.toggle] + [b.label for b in at.button]
    shown += [h.proto.body for h in at.html]
    assert not any("fast" in t or "slow" in t for t in shown), "a deployment name leaked in blind mode"
    assert not [s for s in at.selectbox if s.key and s.key.endswith(".deployment")]
    assert list(at.dataframe[0].value["Pane"]) == ["Model A", "Model B"]
    radio = at.radio(key="compare.vote.0")
    assert radio.options == ["Model A", "Model B", "Tie", "All bad"]
    state = at.session_state["compare.state"]
    winner_label = "Model A"
    winner = next(uid for uid, label in state.labels().items() if label == winner_label)
    radio.set_value(winner_label).run()
    assert at.session_state["compare.state"].turns[0].vote == winner
    captions = [c.value for c in at.caption]
    assert any("1 vote(s) recorded" in c for c in captions)
    assert not any(t.startswith("**Tally") for t in pane_texts(at)), "the tally names deployments before reveal"
    at.button(key="compare.reveal").click().run()
    tally = [t for t in pane_texts(at) if t.startswith("**Tally")]
    winner_name = at.session_state["compare.state"].pane(winner).deployment
    assert tally and f"{winner_name}: 1" in tally[0]


def test_continue_with_this_one_hands_the_pane_conversation_to_the_chat_page(deployments):
    at = page(deployments, "fast,slow")
    at.text_area(key="compare.shared.system").input("Be kind.").run()
    at.chat_input(key="compare.input").set_value("hello?").run()
    at.button(key="compare.p2.continue").click().run()
    assert not at.exception
    entries = at.session_state["chat_entries"]
    assert [(e.turn.role, e.turn.content) for e in entries] == [
        ("user", "hello?"),
        ("assistant", SLOW_TEXT),
    ]
    assert entries[1].turn.deployment == "slow" and entries[1].metrics is not None
    assert at.session_state["chat_system_prompt"] == "Be kind."
    assert at.session_state["deployment_selected"] == "slow"
    # Nothing was set on the compare page, so nothing is switched on in chat either.
    assert at.session_state["p_max_tokens_on"] is False and at.session_state["p_temperature_on"] is False


def test_blind_mode_error_cards_name_the_label_not_the_deployment(deployments):
    at = page(deployments, "fast,bad")
    at.toggle(key="compare.blind").set_value(True).run()
    at.chat_input(key="compare.input").set_value("hi").run()
    state = at.session_state["compare.state"]
    bad_label = next(label for uid, label in state.labels().items() if state.pane(uid).deployment == "bad")
    texts = pane_texts(at) + [c.value for c in at.caption]
    assert any(f"{bad_label} did not accept its key" in t for t in texts)
    assert not any("bad" in t for t in texts), "the failing deployment's name leaked in blind mode"


def test_new_conversation_keeps_the_panes_and_the_session_tally(deployments):
    at = page(deployments, "fast,slow")
    at.toggle(key="compare.blind").set_value(True).run()
    at.chat_input(key="compare.input").set_value("one").run()
    at.radio(key="compare.vote.0").set_value("Tie").run()
    at.button(key="compare.clear").click().run()
    state = at.session_state["compare.state"]
    assert state.turns == [] and [p.deployment for p in state.panes] == ["fast", "slow"]
    assert state.tally() == {"tie": 1}


@pytest.mark.parametrize("failure", ["no_chat_route", "closed_port"])
def test_blind_mode_shows_the_card_of_an_error_with_required_fields_under_the_label(deployments, fault_server, failure):
    """Errors whose constructors need keyword fields (route, host/reason) must be maskable, not crash the page."""
    if failure == "no_chat_route":
        scenario = fault_server.scenario(Reply(status=404, json={"error": {"code": "NotFound", "message": "no"}}))
        endpoint, expected = scenario.endpoint, "offers no chat"
    else:
        from tests.fixtures.local_endpoint import free_port

        endpoint, expected = f"http://127.0.0.1:{free_port()}", "Cannot reach"
    deployments["deployments"]["broken"] = Deployment(name="broken", endpoint=endpoint, max_retries=0)
    at = page(deployments, "fast,broken")
    at.toggle(key="compare.blind").set_value(True).run()
    at.chat_input(key="compare.input").set_value("hi").run()
    assert not at.exception, at.exception
    state = at.session_state["compare.state"]
    label = next(label for uid, label in state.labels().items() if state.pane(uid).deployment == "broken")
    texts = pane_texts(at) + [c.value for c in at.caption]
    assert any(expected in t and label in t for t in texts), texts
    assert not any("broken" in t for t in texts), "the failing deployment's name leaked in blind mode"


def test_blind_export_names_a_failing_pane_by_its_label_only(deployments):
    from pages.compare import _export_names
    from services.compare_export import export_html

    at = page(deployments, "fast,bad")
    at.toggle(key="compare.blind").set_value(True).run()
    at.chat_input(key="compare.input").set_value("hi").run()
    state = at.session_state["compare.state"]
    names = _export_names(state)
    html = export_html(state.turns, list(names), names, deployments["deployments"])
    bad_label = next(label for uid, label in state.labels().items() if state.pane(uid).deployment == "bad")
    assert f"{bad_label}: " in html, "the failing pane's error is missing from the export"
    assert "bad:" not in html and ">bad<" not in html, "the failing deployment's name leaked into a blind export"


def test_after_reveal_two_panes_on_one_deployment_stay_two_distinct_vote_choices(deployments):
    at = page(deployments, "fast,fast,slow")
    at.toggle(key="compare.blind").set_value(True).run()
    at.chat_input(key="compare.input").set_value("hi").run()
    at.button(key="compare.reveal").click().run()
    options = at.radio(key="compare.vote.0").options
    assert len(options) == 3 + 2, options  # one per pane, then Tie and All bad
    state = at.session_state["compare.state"]
    assert len(set(state.labels().values())) == 3
    assert all(label.startswith(state.pane(uid).deployment) for uid, label in state.labels().items())


def _show_stopped_replies() -> None:
    from app.components.compare_pane import render_reply
    from services.compare_model import PaneReply

    render_reply(PaneReply("p1", "fast", "", "stopped"), {}, key="empty")
    render_reply(PaneReply("p2", "fast", "Once upon", "stopped"), {}, key="partial")


def test_a_pane_stopped_before_its_first_token_says_so_instead_of_pointing_at_missing_text():
    at = AppTest.from_function(_show_stopped_replies, default_timeout=30).run()
    assert not at.exception, at.exception
    empty, partial = (" ".join(c.value for c in message.caption) for message in at.chat_message)
    assert "before the first token" in empty and "text above" not in empty
    assert "stopped: the text above is what arrived" in partial
