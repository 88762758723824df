"""The chat page in AppTest against the real embedded endpoint: answers, metrics, regenerate, edit, clear."""

from __future__ import annotations

import io
from collections.abc import Callable

from PIL import Image
from streamlit.testing.v1 import AppTest

from tests.app.conftest import all_text, send
from tests.fixtures.app_server import toml_deployment
from tests.fixtures.fault_server import FaultServer, Reply, chat_chunks


def _set_max_tokens(at: AppTest, value: int) -> None:
    at.checkbox(key="p_max_tokens_on").check().run()
    at.number_input(key="p_max_tokens").set_value(value).run()


def test_message_gets_a_streamed_answer_with_metrics(local_app: AppTest) -> None:
    _set_max_tokens(local_app, 8)
    send(local_app, "Say hello.")
    user, answer = local_app.chat_message
    assert user.markdown[0].value == "Say hello."
    assert answer.markdown[0].value.strip()
    strip = answer.caption[-1].value
    assert "first token" in strip and "total" in strip and "completion tokens" in strip and "finish: length" in strip


def test_regenerate_replaces_the_last_answer(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    no_info = Reply(status=404, text="NOT FOUND")  # the sidebar's status check comes first
    scenario = fault_server.scenario(no_info, Reply(sse=chat_chunks(["first"])), Reply(sse=chat_chunks(["second"])))
    at = app_with_config(toml_deployment("scripted", scenario.endpoint))
    send(at, "Say something.")
    assert at.chat_message[1].markdown[0].value == "first"
    at.button(key="chat_regenerate").click().run()
    assert not at.exception
    assert [m.markdown[0].value for m in at.chat_message] == ["Say something.", "second"]
    first, second = (r.json() for r in scenario.requests if r.path == "/chat/completions")
    assert set(first) == {"messages", "stream"}  # no control is switched on, so no parameter is sent
    assert (
        first["messages"]
        == second["messages"]
        == [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Say something."},
        ]
    )


def test_editing_an_earlier_message_resends_from_there(local_app: AppTest) -> None:
    _set_max_tokens(local_app, 4)
    send(local_app, "First question")
    send(local_app, "Second question")
    assert len(local_app.chat_message) == 4
    local_app.button(key="chat_edit_0").click().run()
    local_app.text_area(key="chat_edit_text_0").input("Edited question").run()
    local_app.button(key="chat_resend_0").click().run()
    assert not local_app.exception
    messages = local_app.chat_message
    assert len(messages) == 2
    assert messages[0].markdown[0].value == "Edited question"
    assert messages[1].markdown[0].value.strip()


def test_clear_empties_the_conversation(local_app: AppTest) -> None:
    _set_max_tokens(local_app, 2)
    send(local_app, "Hi")
    local_app.button(key="chat_clear").click().run()
    assert len(local_app.chat_message) == 0


def test_system_prompt_presets_and_saved_ones(local_app: AppTest) -> None:
    local_app.selectbox(key="chat_preset_pick").select("Concise").run()
    assert local_app.text_area(key="chat_system_prompt").value.startswith("You are a helpful assistant. Answer in at")
    local_app.text_area(key="chat_system_prompt").input("Talk like a pirate.").run()
    local_app.text_input(key="chat_preset_name").input("Pirate").run()
    local_app.button(key="chat_preset_save").click().run()
    local_app.selectbox(key="chat_preset_pick").select("Teacher").run()
    local_app.selectbox(key="chat_preset_pick").select("★ Pirate").run()
    assert local_app.text_area(key="chat_system_prompt").value == "Talk like a pirate."


def test_attached_images_are_sent_as_data_urls_and_bad_files_are_named(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    scenario = fault_server.scenario(Reply(sse=chat_chunks(["a red square"])))
    at = app_with_config(toml_deployment("vision", scenario.endpoint))
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (255, 0, 0)).save(buffer, format="PNG")
    chat_input = at.chat_input[0].upload("red.png", buffer.getvalue(), "image/png")
    chat_input.upload("notes.png", b"not an image", "image/png").set_value("What is this?").run()
    assert not at.exception
    [chat] = [r.json() for r in scenario.requests if r.path == "/chat/completions"]
    content = chat["messages"][-1]["content"]
    assert content[0] == {"type": "text", "text": "What is this?"}
    assert content[1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert len(content) == 2
    assert "notes.png" in all_text(at)
    assert at.chat_message[1].markdown[0].value == "a red square"


def test_cost_shows_when_the_deployment_has_prices(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    scenario = fault_server.scenario(Reply(sse=chat_chunks(["priced ", "answer"])))
    at = app_with_config(toml_deployment("priced", scenario.endpoint, price_per_1k_input=1.0, price_per_1k_output=2.0))
    send(at, "How much?")
    strip = at.chat_message[1].caption[-1].value
    # 5 prompt tokens at $1/1k plus 2 completion tokens at $2/1k.
    assert "5 prompt + 2 completion tokens" in strip and "cost $0.009" in strip


def test_tool_calls_in_the_answer_are_shown_with_their_arguments(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
    pieces = ['{"city": ', '"Oslo"}']
    first = {"role": "assistant", "tool_calls": [call]}
    chunks: list[object] = [{"id": "c", "choices": [{"index": 0, "delta": first}]}]
    chunks += [
        {"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": p}}]}}]}
        for p in pieces
    ]
    chunks += [{"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}, "data: [DONE]\n\n"]
    scenario = fault_server.scenario(Reply(sse=chunks))
    at = app_with_config(toml_deployment("tooling", scenario.endpoint))
    send(at, "Weather in Oslo?")
    answer = at.chat_message[1]
    assert "Tool call **`get_weather`**" in [m.value for m in answer.markdown]
    assert '"city": "Oslo"' in answer.code[0].value
    assert "finish: tool_calls" in answer.caption[-1].value


def test_dropped_stream_keeps_the_partial_answer_with_a_card(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    scenario = fault_server.scenario(Reply(sse=chat_chunks(["Half ", "an ", "answer"]), drop_after=3))
    at = app_with_config(toml_deployment("flaky", scenario.endpoint, max_retries=0))
    send(at, "Tell me everything.")
    assert at.chat_message[1].markdown[0].value == "Half an"
    assert "The answer from flaky was cut off" in all_text(at)
    assert "The partial answer is kept." in all_text(at)
