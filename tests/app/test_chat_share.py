"""Read-only share links on the chat page, and what comes from a URL or a saved conversation drawn inertly."""

from __future__ import annotations

from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from services.store.conversations import ConversationStore, new_conversation_id
from services.transcript import ChatTurn, Transcript, from_json, to_json
from tests.app.conftest import all_text
from tests.fixtures.app_server import toml_deployment

# Nothing is contacted: no message is sent in these tests.
CONFIG = toml_deployment("first", "http://127.0.0.1:9/first")
PIXEL = "http://127.0.0.1:9/pixel.png"
ANSWER = f"Here: ![tracker]({PIXEL}) and [docs](https://evil.example/phish) <img src={PIXEL}> <script>x()</script>"


def _save(answer: str = "Arr, ahoy!") -> str:
    """Save a two-message conversation (the fixture has set the data directory); return its id."""
    conversation_id = new_conversation_id()
    transcript = Transcript(
        deployment="first",
        system_prompt="Answer like a pirate.",
        messages=[ChatTurn(role="user", content="Ahoy?"), ChatTurn(role="assistant", content=answer)],
    )
    ConversationStore().save(conversation_id, to_json(transcript))
    return conversation_id


def _markdown(at: AppTest) -> list[str]:
    return [m.markdown[0].value for m in at.chat_message if m.markdown]


def _query(at: AppTest, name: str) -> str | None:
    value = at.query_params.get(name)
    return value[0] if isinstance(value, list) else value


def test_share_makes_a_separate_read_only_link(app_with_config: Callable[..., AppTest]) -> None:
    conversation_id = _save()
    at = app_with_config(CONFIG, query={"c": conversation_id})
    at.button(key="chat_share").click().run()
    assert not at.exception, at.exception
    links = [c.value for c in at.code if "?view=" in c.value]
    assert len(links) == 1, [c.value for c in at.code]
    share_id = links[0].rsplit("=", 1)[1]
    assert links[0].endswith(f"/chat?view={share_id}")
    assert conversation_id not in links[0]
    assert ConversationStore().load_shared(share_id) == ConversationStore().load(conversation_id)
    # Sharing again gives the same link.
    at.button(key="chat_share").click().run()
    assert [c.value for c in at.code if "?view=" in c.value] == links


def test_share_before_any_message_says_there_is_nothing_yet(app_with_config: Callable[..., AppTest]) -> None:
    at = app_with_config(CONFIG)
    at.button(key="chat_share").click().run()
    assert "Nothing to share yet" in all_text(at)
    assert not [c.value for c in at.code if "?view=" in c.value]


def test_a_share_link_shows_the_conversation_read_only(app_with_config: Callable[..., AppTest]) -> None:
    conversation_id = _save()
    share_id = ConversationStore().share_id(conversation_id)
    before = ConversationStore().load(conversation_id)
    at = app_with_config(CONFIG, query={"view": share_id})
    assert _markdown(at) == ["Ahoy?", "Arr, ahoy!"]
    assert "Shared conversation (read-only)" in all_text(at)
    # No message box, no edit, no regenerate, no clear: nothing on the page can change the conversation.
    assert len(at.chat_input) == 0
    keys = {b.key for b in at.button}
    assert not {k for k in keys if k and k.startswith(("chat_edit", "chat_regenerate", "chat_clear", "chat_resend"))}
    # The conversation's own id is nowhere: not in the URL, not on the page.
    assert _query(at, "c") is None and conversation_id not in all_text(at)
    at.run()
    assert ConversationStore().load(conversation_id) == before


def test_continue_as_my_own_copy_starts_a_new_conversation(app_with_config: Callable[..., AppTest]) -> None:
    conversation_id = _save()
    share_id = ConversationStore().share_id(conversation_id) or ""
    before = ConversationStore().load(conversation_id)
    at = app_with_config(CONFIG, query={"view": share_id})
    at.button(key="chat_share_fork").click().run()
    assert not at.exception, at.exception
    assert len(at.chat_input) == 1
    assert _markdown(at) == ["Ahoy?", "Arr, ahoy!"]
    assert "your own copy" in all_text(at)
    copy_id = _query(at, "c")
    assert copy_id is not None and copy_id not in (conversation_id, share_id)
    assert _query(at, "view") is None
    copy = ConversationStore().load(copy_id)
    assert copy is not None and from_json(copy).messages[1].content == "Arr, ahoy!"
    assert ConversationStore().load(conversation_id) == before


def test_an_unknown_or_malformed_share_link_says_so_without_repeating_it(
    app_with_config: Callable[..., AppTest],
) -> None:
    for bad in (new_conversation_id(), f"![x]({PIXEL})"):
        at = app_with_config(CONFIG, query={"view": bad})
        assert "opens nothing on this server" in all_text(at)
        assert bad not in all_text(at)
        assert len(at.chat_input) == 0 and not at.chat_message


def test_a_bad_conversation_id_in_the_url_is_not_drawn_as_markdown(app_with_config: Callable[..., AppTest]) -> None:
    at = app_with_config(CONFIG, query={"c": f"![x]({PIXEL})"})
    notices = [str(info.value) for info in at.info]
    assert any("not a valid id" in text for text in notices), notices
    assert not any(PIXEL in text for text in notices)
    assert len(at.chat_input) == 1 and not at.chat_message


def test_an_unknown_valid_id_is_named_as_code(app_with_config: Callable[..., AppTest]) -> None:
    missing = new_conversation_id()
    at = app_with_config(CONFIG, query={"c": missing})
    assert f"No saved conversation `{missing}` on this server" in all_text(at)


def test_restored_and_shared_answers_load_no_image_and_show_link_targets(
    app_with_config: Callable[..., AppTest],
) -> None:
    conversation_id = _save(ANSWER)
    share_id = ConversationStore().share_id(conversation_id)
    for query in ({"c": conversation_id}, {"view": share_id}):
        at = app_with_config(CONFIG, query=query)
        drawn = _markdown(at)[1]
        assert f"![tracker]({PIXEL})" not in drawn
        assert f"[image: tracker]({PIXEL}) (`{PIXEL}`)" in drawn
        assert "[docs](https://evil.example/phish) (`https://evil.example/phish`)" in drawn
        assert "\\<img" in drawn and "\\<script" in drawn
