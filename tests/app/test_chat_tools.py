"""Tool round trips on the chat page (AppTest against the recording fault server): results given by a built-in
tool, a canned result or typing; a message typed over the calls; every request body valid for the API."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from streamlit.testing.v1 import AppTest

from services.demo_tools import DEMO_TOOLS
from services.store.conversations import ConversationStore
from services.tool_turns import NOT_RUN_RESULT, sequence_problems
from services.transcript import FAILED_MARK, ChatTurn, Transcript, from_json, to_json
from tests.app.conftest import all_text, send
from tests.fixtures.app_server import toml_deployment
from tests.fixtures.fault_server import FaultServer, Reply, Scenario, chat_chunks, tool_call_chunks

NO_INFO = Reply(status=404, text="NOT FOUND")  # the sidebar's status check comes first
CALLS = [("call_calc", "calculator", '{"expression": "6 * 7"}'), ("call_w", "get_weather", '{"city": "Oslo"}')]
QUESTION = "What is 6 * 7, and the weather in Oslo?"


def chat_bodies(scenario: Scenario) -> list[dict[str, Any]]:
    return [request.json() for request in scenario.requests if request.path == "/chat/completions"]


def tool_app(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer, **env: str
) -> tuple[AppTest, Scenario]:
    """The chat page on a deployment that answers with CALLS, then with a text answer."""
    scenario = fault_server.scenario(
        NO_INFO, Reply(sse=tool_call_chunks(CALLS)), Reply(sse=chat_chunks(["42, 21 °C."]))
    )
    return app_with_config(toml_deployment("tooling", scenario.endpoint), **env), scenario


def result_box(at: AppTest, index: int) -> Any:
    [box] = [area for area in at.text_area if str(area.key).startswith(f"chat_tool_{index}_")]
    return box


def source_radio(at: AppTest, index: int) -> Any:
    [radio] = [r for r in at.radio if str(r.key).startswith(f"chat_tool_{index}_")]
    return radio


def assert_round_trip(body: dict[str, Any], results: list[str]) -> None:
    """The second request: the question, the assistant's calls, then one tool message per call id, in order."""
    messages = [m for m in body["messages"] if m["role"] != "system"]
    assert messages[0] == {"role": "user", "content": QUESTION}
    assert messages[1]["role"] == "assistant"
    assert [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in messages[1]["tool_calls"]] == CALLS
    assert messages[2:] == [
        {"role": "tool", "tool_call_id": "call_calc", "content": results[0]},
        {"role": "tool", "tool_call_id": "call_w", "content": results[1]},
    ]
    assert sequence_problems(body["messages"]) == []


def test_a_demo_tool_and_a_canned_result_answer_the_calls_and_the_model_continues(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    at, scenario = tool_app(app_with_config, fault_server)
    at.button(key="chat_tools_add_calculator").click().run()
    assert at.checkbox(key="p_tools_on").value
    at.text_area(key="chat_tools_canned").input('{"get_weather": {"temperature_c": 21}}').run()
    send(at, QUESTION)
    # The form offers the built-in calculator's result and the canned weather, both editable before they are sent.
    assert source_radio(at, 0).value == "Built-in calculator"
    assert json.loads(result_box(at, 0).value) == {"expression": "6 * 7", "result": 42}
    assert source_radio(at, 1).value == "Canned result"
    assert result_box(at, 1).value == '{"temperature_c": 21}'
    assert "2 tool calls wait for a result" in all_text(at)
    at.button(key="chat_tool_send").click().run()
    assert not at.exception, at.exception
    first, second = chat_bodies(scenario)
    assert first["tools"] == [DEMO_TOOLS["calculator"].definition()]  # added with one click
    assert_round_trip(second, ['{"expression": "6 * 7", "result": 42}', '{"temperature_c": 21}'])
    assert second["tools"] == first["tools"]
    # Tool results are drawn as tool results, with their own avatar, not as the assistant.
    assert [message.name for message in at.chat_message] == ["user", "assistant", "tool", "tool", "assistant"]
    tool_result = at.chat_message[2]
    assert tool_result.avatar == ":material/build:"
    assert "Tool result · `calculator` · call `call_calc`" in tool_result.caption[0].value
    assert at.chat_message[4].markdown[0].value == "42, 21 °C."
    assert not [area for area in at.text_area if str(area.key).startswith("chat_tool_0_")]  # the form is gone
    # Saved (and exported) with the results as tool messages.
    conversation_id = at.query_params["c"]
    saved = ConversationStore().load(conversation_id if isinstance(conversation_id, str) else conversation_id[0])
    assert saved is not None
    turns = from_json(saved).messages
    assert [(t.role, t.tool_call_id) for t in turns] == [
        ("user", None),
        ("assistant", None),
        ("tool", "call_calc"),
        ("tool", "call_w"),
        ("assistant", None),
    ]


def test_a_typed_result_is_sent_as_typed_and_an_empty_one_is_asked_for(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    at, scenario = tool_app(app_with_config, fault_server)
    send(at, QUESTION)
    assert source_radio(at, 1).options == ["Type the result"]  # no canned result, no built-in get_weather
    assert result_box(at, 1).value == ""
    at.button(key="chat_tool_send").click().run()
    assert "Give a result for `get_weather` first" in all_text(at)
    assert len(chat_bodies(scenario)) == 1  # nothing was sent
    source_radio(at, 0).set_value("Type the result").run()
    result_box(at, 0).input("forty-two").run()
    result_box(at, 1).input("Sunny, 21 °C").run()
    at.button(key="chat_tool_send").click().run()
    assert not at.exception, at.exception
    assert_round_trip(chat_bodies(scenario)[1], ["forty-two", "Sunny, 21 °C"])


def test_a_message_typed_over_waiting_calls_answers_them_not_run(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    at, scenario = tool_app(app_with_config, fault_server)
    send(at, QUESTION)
    send(at, "Never mind, just say hi.")
    assert "2 tool calls were answered “not run”" in all_text(at)
    body = chat_bodies(scenario)[1]
    messages = body["messages"][1:]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "tool", "user"]
    assert [m["tool_call_id"] for m in messages[2:4]] == ["call_calc", "call_w"]
    assert all(m["content"] == NOT_RUN_RESULT for m in messages[2:4])
    assert sequence_problems(body["messages"]) == []
    assert [m.name for m in at.chat_message] == ["user", "assistant", "tool", "tool", "user", "assistant"]
    assert "not run: a message was sent instead" in at.chat_message[2].caption[-1].value


def test_an_old_conversation_typed_over_its_calls_is_restored_with_not_run_results(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    scenario = fault_server.scenario(NO_INFO, Reply(sse=chat_chunks(["Hello again."])))
    call = {"id": "call_old", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    old = Transcript(
        deployment="tooling",
        messages=[
            ChatTurn(role="user", content="Weather?"),
            ChatTurn(role="assistant", tool_calls=[call]),
            ChatTurn(role="user", content="Forget it."),  # what the page used to send: a 400 from OpenAI and Azure
            ChatTurn(role="assistant", content="OK."),
        ],
    )
    ConversationStore().save("oldConversation0123abc", to_json(old))
    at = app_with_config(toml_deployment("tooling", scenario.endpoint), query={"c": "oldConversation0123abc"})
    assert [m.name for m in at.chat_message] == ["user", "assistant", "tool", "user", "assistant"]
    send(at, "Hi")
    [body] = chat_bodies(scenario)
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "tool", "user", "assistant", "user"]
    assert body["messages"][2] == {"role": "tool", "tool_call_id": "call_old", "content": NOT_RUN_RESULT}
    assert sequence_problems(body["messages"]) == []


def test_after_a_failed_request_the_results_stay_and_retry_sends_them_again(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    down = Reply(status=503, json={"error": {"code": "unavailable", "message": "try later"}})
    scenario = fault_server.scenario(
        NO_INFO, Reply(sse=tool_call_chunks(CALLS)), down, Reply(sse=chat_chunks(["42, 21 °C."]))
    )
    at = app_with_config(toml_deployment("tooling", scenario.endpoint, max_retries=0))
    at.text_area(key="chat_tools_canned").input('{"get_weather": "21 °C"}').run()
    send(at, QUESTION)
    at.button(key="chat_tool_send").click().run()
    tool_captions = [c.value for m in at.chat_message if m.name == "tool" for c in m.caption]
    assert len(tool_captions) == 2 and not any(FAILED_MARK in caption for caption in tool_captions)
    at.button(key="retry_4").click().run()
    assert not at.exception, at.exception
    _, failed, retried = chat_bodies(scenario)
    assert failed["messages"] == retried["messages"]
    assert_round_trip(retried, ['{"expression": "6 * 7", "result": 42}', "21 °C"])
    assert at.chat_message[-1].markdown[0].value == "42, 21 °C."


def test_a_call_streamed_without_an_id_gets_one_that_its_result_answers(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    scenario = fault_server.scenario(
        NO_INFO,
        Reply(sse=tool_call_chunks([("", "current_time", '{"timezone": "Europe/Oslo"}')])),
        Reply(sse=chat_chunks(["Noon."])),
    )
    at = app_with_config(toml_deployment("tooling", scenario.endpoint))
    send(at, "What time is it in Oslo?")
    assert json.loads(result_box(at, 0).value)["timezone"] == "Europe/Oslo"  # the built-in clock ran
    at.button(key="chat_tool_send").click().run()
    messages = chat_bodies(scenario)[1]["messages"]
    assert messages[-2]["tool_calls"][0]["id"] == "call_0" == messages[-1]["tool_call_id"]
    assert sequence_problems(messages) == []


def test_a_shared_conversation_shows_tool_results_as_tool_results(app_with_config: Callable[..., AppTest]) -> None:
    call = {"id": "call_t", "type": "function", "function": {"name": "current_time", "arguments": "{}"}}
    transcript = Transcript(
        messages=[
            ChatTurn(role="user", content="Time?"),
            ChatTurn(role="assistant", tool_calls=[call]),
            ChatTurn(role="tool", content='{"time": "12:00"}', tool_call_id="call_t"),
            ChatTurn(role="assistant", content="Noon."),
        ]
    )
    store = ConversationStore()
    store.save("sharedTools0123456789a", to_json(transcript))
    share_id = store.share_id("sharedTools0123456789a")
    assert share_id is not None
    at = app_with_config(toml_deployment("first", "http://127.0.0.1:9/first"), query={"view": share_id})
    assert [m.name for m in at.chat_message] == ["user", "assistant", "tool", "assistant"]
    assert at.chat_message[2].avatar == ":material/build:"
    assert "Tool result · `current_time` · call `call_t`" in at.chat_message[2].caption[0].value


def test_adding_a_demo_tool_keeps_the_tools_already_there_and_refuses_broken_json(
    app_with_config: Callable[..., AppTest],
) -> None:
    at = app_with_config(toml_deployment("first", "http://127.0.0.1:9/first"))
    at.checkbox(key="p_tools_on").check().run()  # the editor starts with its get_weather example
    at.button(key="chat_tools_add_current_time").click().run()
    tools = json.loads(at.text_area(key="p_tools").value)
    assert [tool.get("function", tool)["name"] for tool in tools] == ["get_weather", "current_time"]
    assert at.button(key="chat_tools_add_current_time").disabled  # shown as "In tools"
    at.text_area(key="p_tools").input("[{oops").run()
    at.button(key="chat_tools_add_calculator").click().run()
    assert "The Tools JSON in Parameters does not parse" in all_text(at)
    assert at.text_area(key="p_tools").value == "[{oops"
