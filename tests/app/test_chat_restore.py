"""A saved conversation named by `?c=` comes back with its deployment picked in the sidebar."""

from __future__ import annotations

from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from app.components.system_prompt import SYSTEM_PROMPT_KEY
from services.store.conversations import ConversationStore
from services.transcript import ChatTurn, Transcript, to_json
from tests.app.conftest import all_text
from tests.fixtures.app_server import toml_deployment

CONVERSATION_ID = "savedConversation01abc"  # 22 characters, as the store makes them
# Two chat deployments; nothing is contacted until a message is sent.
TWO_DEPLOYMENTS = toml_deployment("first", "http://127.0.0.1:9/first") + toml_deployment(
    "second", "http://127.0.0.1:9/second"
)


def _save(deployment: str) -> None:
    """Save a two-message conversation held with `deployment` (the fixture has set the data directory)."""
    transcript = Transcript(
        deployment=deployment,
        system_prompt="Answer like a pirate.",
        parameters={"temperature": 0.3},
        messages=[ChatTurn(role="user", content="Ahoy?"), ChatTurn(role="assistant", content="Arr, ahoy!")],
    )
    ConversationStore().save(CONVERSATION_ID, to_json(transcript))


def test_a_restored_conversation_picks_its_deployment_again(app_with_config: Callable[..., AppTest]) -> None:
    _save("second")
    at = app_with_config(TWO_DEPLOYMENTS, query={"c": CONVERSATION_ID})
    assert at.sidebar.selectbox(key="deployment_selected").value == "second"
    assert [m.markdown[0].value for m in at.chat_message] == ["Ahoy?", "Arr, ahoy!"]
    assert "Chat with second" in all_text(at)
    assert at.text_area(key=SYSTEM_PROMPT_KEY).value == "Answer like a pirate."
    assert "Restored 2 messages" in all_text(at)
    # The picker stays the user's afterwards: choosing another deployment keeps the conversation.
    at.sidebar.selectbox(key="deployment_selected").set_value("first").run()
    assert "Chat with first" in all_text(at)
    assert len(at.chat_message) == 2


def test_a_conversation_held_with_a_deployment_not_configured_here_says_which_one_continues(
    app_with_config: Callable[..., AppTest],
) -> None:
    _save("gone-elsewhere")
    at = app_with_config(TWO_DEPLOYMENTS, query={"c": CONVERSATION_ID})
    assert at.sidebar.selectbox(key="deployment_selected").value == "first"
    assert len(at.chat_message) == 2
    # The saved name is drawn as code (it comes from a stored, possibly imported, transcript).
    assert "held with `gone-elsewhere`, which is not configured here: it continues with first" in all_text(at)
