"""Errors on the chat page appear as cards at the turn where they happened, and nothing typed is lost."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from services.store.refusals import RefusalStore
from tests.app.conftest import all_text, cap_tokens, send
from tests.fixtures.app_server import toml_deployment
from tests.fixtures.fault_server import FaultServer, Reply, chat_chunks, closed_port

WRONG_KEY = "wrong-key-5f1e2d3c4b5a"


def test_unsupported_parameter_offers_retry_without_it_and_the_control_shows_it(local_app: AppTest) -> None:
    cap_tokens(local_app)
    local_app.checkbox(key="p_tools_on").check().run()
    send(local_app, "What is the weather in Paris?")
    text = all_text(local_app)
    assert "smollm2-135m-instruct does not support `tools`" in text
    assert "get_weather" in text  # the card names the value that was sent
    retry = local_app.button(key="retry_without_1")
    assert retry.label == "Retry without tools"
    retry.click().run()
    assert not local_app.exception
    user, answer = local_app.chat_message
    assert user.markdown[0].value == "What is the weather in Paris?"
    assert answer.markdown[0].value.strip()
    assert "does not support `tools`" not in all_text(local_app)
    tools_switch = local_app.checkbox(key="p_tools_on")
    assert tools_switch.disabled and not tools_switch.value
    assert "Not supported by this deployment" in all_text(local_app)


def test_a_refused_value_switches_the_control_off_without_marking_it_unsupported(local_app: AppTest) -> None:
    cap_tokens(local_app)
    local_app.checkbox(key="p_temperature_on").check().run()
    local_app.slider(key="p_temperature").set_value(1.5).run()
    send(local_app, "Say hello.")
    text = all_text(local_app)
    # The embedded endpoint keeps the contract's 0-1 range: 1.5 is a bad value, not a missing feature.
    assert "does not accept this value of `temperature`" in text and "1.5" in text
    local_app.button(key="retry_without_1").click().run()
    assert not local_app.exception
    assert local_app.chat_message[1].markdown[0].value.strip()
    switch = local_app.checkbox(key="p_temperature_on")
    assert not switch.value and not switch.disabled  # off for this send, still available
    assert "Not supported by this deployment" not in all_text(local_app)


def test_blocked_prompt_shows_each_content_filter_category(local_app: AppTest) -> None:
    send(local_app, "Tell me about the forbiddenfruit please")
    text = all_text(local_app)
    assert "The prompt was blocked by the content filter" in text
    assert "| category | result | severity |" in text
    assert "**filtered**" in text
    # The prompt stays in the conversation, ready for Retry or an edit.
    assert local_app.chat_message[0].markdown[0].value == "Tell me about the forbiddenfruit please"
    assert local_app.button(key="retry_1").label == "Retry"


def test_invalid_json_in_an_editor_is_caught_before_sending_with_its_position(local_app: AppTest) -> None:
    local_app.checkbox(key="p_model_extras_on").check().run()
    local_app.text_area(key="p_model_extras").input('{\n  "top_k": 5,\n}').run()
    assert "model_extras: Expecting property name enclosed in double quotes at line 3, column 1." in all_text(local_app)
    send(local_app, "Keep this text")
    assert local_app.chat_message[0].markdown[0].value == "Keep this text"
    assert "Invalid JSON in an editor: nothing was sent" in all_text(local_app)
    local_app.text_area(key="p_model_extras").input('{"top_k": 5}').run()
    cap_tokens(local_app)
    local_app.button(key="retry_1").click().run()
    assert not local_app.exception
    assert len(local_app.chat_message) == 2 and "Invalid JSON" not in all_text(local_app)


def test_route_the_deployment_does_not_serve_says_it_offers_no_chat(
    app_with_config: Callable[..., AppTest], local_endpoint_url: str
) -> None:
    embeddings_first = toml_deployment("all-minilm-l6-v2", f"{local_endpoint_url}/all-minilm-l6-v2")
    at = app_with_config(embeddings_first)
    send(at, "hello")
    assert "all-minilm-l6-v2 offers no chat" in all_text(at)


def test_unreachable_endpoint_names_its_host_and_the_reason(app_with_config: Callable[..., AppTest]) -> None:
    port = closed_port()
    at = app_with_config(toml_deployment("gone", f"http://127.0.0.1:{port}", max_retries=0))
    send(at, "anyone there?")
    text = all_text(at)
    assert "Cannot reach gone" in text and f"127.0.0.1:{port}" in text
    assert "gone**: unreachable" in text  # the sidebar status says so too
    assert at.chat_message[0].markdown[0].value == "anyone there?"


def test_rate_limit_says_when_to_retry(app_with_config: Callable[..., AppTest], fault_server: FaultServer) -> None:
    body = {"error": {"code": "429", "message": "Too many requests"}}
    scenario = fault_server.scenario(Reply(status=429, json=body, headers={"Retry-After": "42"}))
    at = app_with_config(toml_deployment("busy", scenario.endpoint, max_retries=0))
    send(at, "hi")
    assert "Retry in 42 s." in all_text(at)


def test_filtered_answer_shows_a_content_filter_card_and_keeps_the_text(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    chunks = chat_chunks(["Once ", "upon "], finish="content_filter")
    chunks[-2]["choices"][0]["content_filter_results"] = {"violence": {"filtered": True, "severity": "medium"}}
    scenario = fault_server.scenario(Reply(sse=chunks))
    at = app_with_config(toml_deployment("filtered", scenario.endpoint))
    send(at, "tell a story")
    text = all_text(at)
    assert "The answer was cut off by the content filter" in text
    assert "Once upon" in at.chat_message[1].markdown[0].value


def test_wrong_key_names_the_deployment_and_where_the_key_came_from(
    app_with_config: Callable[..., AppTest], keyed_local_endpoint_url: str
) -> None:
    name = "smollm2-135m-instruct"
    at = app_with_config(toml_deployment(name, f"{keyed_local_endpoint_url}/{name}", key=WRONG_KEY, max_retries=0))
    send(at, "hi")
    text = all_text(at)
    assert f"{name} did not accept its key" in text
    assert "came from the configuration file" in text
    assert WRONG_KEY not in text


def test_image_for_a_text_only_model_offers_retry_without_images(local_app: AppTest) -> None:
    cap_tokens(local_app)
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 0, 255)).save(buffer, format="PNG")
    local_app.chat_input[0].upload("blue.png", buffer.getvalue(), "image/png").set_value("What colour?").run()
    assert "smollm2-135m-instruct does not accept `image_url` content" in all_text(local_app)
    retry = local_app.button(key="retry_without_1")
    assert retry.label == "Retry without images"
    retry.click().run()
    assert not local_app.exception
    user, answer = local_app.chat_message
    assert user.markdown[0].value == "What colour?"
    assert local_app.session_state["chat_entries"][0].turn.images == []
    assert answer.markdown[0].value.strip()
    # Refused content is not a refused parameter: nothing is learned about the deployment.
    assert RefusalStore().all() == []
    assert not any(local_app.session_state["unsupported_params"].values())


def test_a_401_without_any_key_says_none_is_configured_and_where_to_set_one(
    app_with_config: Callable[..., AppTest], keyed_local_endpoint_url: str
) -> None:
    name = "smollm2-135m-instruct"
    at = app_with_config(toml_deployment(name, f"{keyed_local_endpoint_url}/{name}", max_retries=0))
    send(at, "hi")
    text = all_text(at)
    assert f"{name} did not accept its key" in text
    assert "no key is configured" in text and "configuration file" in text and "environment" in text
    assert "came from nowhere" not in text


def test_a_401_names_the_secrets_file_as_where_the_key_came_from() -> None:
    from app.components.error_card import describe_error
    from services.errors import AuthenticationError

    title, body = describe_error(AuthenticationError("denied", key_source="secrets", deployment="phi", status=401))
    assert title == "phi did not accept its key"
    assert "came from the secrets file (.streamlit/secrets.toml)" in body


@pytest.mark.parametrize(
    ("key_source", "words"),
    [("key_file", "the file its key_file names"), ("secrets_dir", "the secrets directory (PLAYGROUND_SECRETS_DIR)")],
)
def test_a_401_names_a_key_file_or_the_secrets_directory_as_where_the_key_came_from(
    key_source: str, words: str
) -> None:
    from app.components.error_card import describe_error
    from services.errors import AuthenticationError

    _, body = describe_error(AuthenticationError("denied", key_source=key_source, deployment="phi", status=401))
    assert f"came from {words}" in body


def test_a_json_answer_cut_by_max_tokens_is_flagged_as_incomplete(local_app: AppTest) -> None:
    cap_tokens(local_app, 3)
    local_app.checkbox(key="p_response_format_on").check().run()
    local_app.radio(key="p_response_format").set_value("json_object").run()
    send(local_app, "Give me a JSON object describing a cat with five fields.")
    answer = local_app.chat_message[1]
    assert answer.markdown[0].value.lstrip().startswith("{")
    assert "this JSON is incomplete" in all_text(local_app)


def test_a_prompt_over_the_context_window_says_to_shorten_the_conversation(local_app: AppTest) -> None:
    cap_tokens(local_app, 2)
    send(local_app, "word " * 3000)
    text = all_text(local_app)
    assert "The conversation is too long for smollm2-135m-instruct" in text
    assert "Edit or remove a long message" in text
    assert local_app.chat_message[0].markdown[0].value.startswith("word word")  # the prompt is kept for editing


def test_text_from_a_foreign_error_body_is_bounded_and_escaped(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    hostile = (
        "bad request ![pixel](http://127.0.0.1:9/pixel.png) [click](http://127.0.0.1:9/phish) "
        "<img src=x onerror=alert(1)> :red[alarm] $x^2$ " + "x" * 2000
    )
    scenario = fault_server.scenario(Reply(status=400, json={"error": {"code": "Bad", "message": hostile}}))
    at = app_with_config(toml_deployment("foreign", scenario.endpoint, max_retries=0))
    send(at, "Hi")
    # The chat's error card and the sidebar's status line (the /info call failed the same way) both quote it.
    cards = [m.value for m in at.markdown if "bad request" in m.value]
    assert len(cards) == 2
    for card in cards:
        # Every link, image, HTML, directive and math opener is escaped, so st.markdown shows it as text.
        assert "!\\[pixel\\](http" in card and "\\[click\\](http" in card
        assert "\\<img" in card and ":red\\[alarm\\]" in card and "\\$x^2\\$" in card
        assert "](http" not in card.replace("\\](http", "")
        assert len(card) < 1200  # bounded: the 2,000 x's do not all reach the page


def test_an_error_card_links_to_the_trace_that_recorded_the_failure(local_app: AppTest) -> None:
    import re

    from services import tracing
    from services.store.location import data_dir
    from services.store.traces import TraceStore

    send(local_app, "Tell me about the forbiddenfruit please")
    links = re.findall(r"\[Open its trace\]\(/traces\?trace=([0-9a-f]{32})\)", all_text(local_app))
    assert len(links) == 1, all_text(local_app)
    tracing.flush(10)
    [span] = TraceStore(data_dir() / tracing.TRACE_FILE).spans(links[0])
    assert (span["status"], span["error_type"], span["page"], span["action"]) == (
        "error",
        "ContentFilterError",
        "chat",
        "chat turn",
    )
