"""Export and import of a conversation, and the request messages built from it."""

from __future__ import annotations

import json

import pytest

from services.transcript import ChatTurn, Transcript, TranscriptError, api_messages, from_json, to_json, to_markdown


def _transcript() -> Transcript:
    return Transcript(
        deployment="smollm2-135m-instruct",
        system_prompt="Be brief.",
        parameters={"temperature": 0.2, "max_tokens": 8},
        messages=[
            ChatTurn(role="user", content="Hi", images=["data:image/png;base64,AAAA"]),
            ChatTurn(role="assistant", content="Hello", stopped=True, deployment="smollm2-135m-instruct"),
        ],
    )


def test_json_export_round_trips_through_import() -> None:
    transcript = _transcript()
    assert from_json(to_json(transcript)) == transcript
    data = json.loads(to_json(transcript))
    assert data["format"] == "model-playground/chat"
    assert data["deployment"] == "smollm2-135m-instruct"
    assert data["parameters"] == {"temperature": 0.2, "max_tokens": 8}


def test_import_reports_the_position_of_invalid_json() -> None:
    with pytest.raises(TranscriptError, match="line 2, column 1"):
        from_json('{"format": "model-playground/chat",\n}')


def test_import_refuses_other_files_and_names_bad_fields() -> None:
    with pytest.raises(TranscriptError, match="not a chat transcript"):
        from_json('{"messages": []}')
    bad = json.loads(to_json(_transcript()))
    bad["messages"][0]["role"] = "wizard"
    with pytest.raises(TranscriptError, match=r"messages\.0\.role"):
        from_json(json.dumps(bad))


def test_markdown_export_lists_settings_and_marks_stopped_answers() -> None:
    text = to_markdown(_transcript())
    assert "- Deployment: `smollm2-135m-instruct`" in text
    assert "## System\n\nBe brief." in text
    assert "## User\n\nHi" in text and "*(image 1 attached)*" in text
    assert "*(stopped before the end)*" in text


def test_api_messages_send_images_as_image_url_items_and_skip_failed_answers() -> None:
    turns = [
        ChatTurn(role="user", content="What is this?", images=["data:image/png;base64,AAAA"]),
        ChatTurn(role="assistant", content=""),
        ChatTurn(role="user", content="Again"),
    ]
    assert api_messages("Sys", turns) == [
        {"role": "system", "content": "Sys"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ],
        },
        {"role": "user", "content": "Again"},
    ]
    assert api_messages("  ", [ChatTurn(role="user", content="x")]) == [{"role": "user", "content": "x"}]


def _import_then_show_conversation(exported: str) -> None:
    import streamlit as st

    from app.components import chat_pane, transcript_io
    from services.config import Deployment

    class Upload:
        name = "chat.json"

        def getvalue(self) -> bytes:
            return exported.encode()

    if "imported" not in st.session_state:
        st.session_state["deployments_added"] = {
            "scripted": Deployment(name="scripted", endpoint="http://127.0.0.1:9/scripted")
        }
        st.session_state["chat_import_file"] = Upload()
        transcript_io._import()
        st.session_state["imported"] = True
    chat_pane.render_conversation(None, busy=False)


def test_imported_answers_show_their_saved_metrics_again() -> None:
    from streamlit.testing.v1 import AppTest

    from services.transcript import TurnMetrics

    saved = TurnMetrics(
        ttft_s=0.25, total_s=1.5, tokens_per_s=20.0, prompt_tokens=12, completion_tokens=30, finish_reason="stop"
    )
    transcript = Transcript(
        deployment="scripted",
        messages=[
            ChatTurn(role="user", content="Hi"),
            ChatTurn(role="assistant", content="Hello", deployment="scripted", finish_reason="stop", metrics=saved),
        ],
    )
    at = AppTest.from_function(_import_then_show_conversation, args=(to_json(transcript),), default_timeout=30).run()
    assert not at.exception, at.exception
    strip = at.chat_message[1].caption[-1].value
    assert "first token 0.25 s" in strip and "12 prompt + 30 completion tokens" in strip and "finish: stop" in strip
