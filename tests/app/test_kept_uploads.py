"""Uploads on the embeddings and images pages outlive a visit to another page (AppTest through app/main.py), and a
paste past the text box's line limit moves into a file with every line."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from app.components.embedding_inputs import PASTE_MAX_LINES, PASTED_FILE_NAME
from tests.app.conftest import all_text
from tests.fixtures.app_server import toml_deployment

# Nothing listens on port 9: the deployment is only there so the pages draw their Embed buttons enabled.
CONFIG = toml_deployment("offline", "http://127.0.0.1:9/offline", max_retries=0)


def open_page(at: AppTest, url_path: str) -> AppTest:
    """Run the app on the page registered at `url_path`, as a click in the sidebar's navigation does."""
    # AppTest.switch_page only finds pages that are files; the app's pages are functions registered by url path.
    [page_hash] = [key for key, info in at._registered_pages.items() if info.get("url_pathname") == url_path]
    at._page_hash = page_hash
    at.run()
    assert not at.exception, at.exception
    return at


def _png(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (48, 32), colour).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def app(app_with_config: Callable[..., AppTest]) -> AppTest:
    return app_with_config(CONFIG)


def test_an_uploaded_csv_is_still_the_input_after_a_visit_to_another_page(app: AppTest) -> None:
    at = open_page(app, "embeddings")
    at.radio(key="emb_source").set_value("Upload a file").run()
    csv = "id,text,topic\n1,first text,a\n2,second text,b\n3,third text,a\n"
    at.file_uploader(key="emb_upload").set_value(("three.csv", csv.encode(), "text/csv")).run()
    at.selectbox(key="emb_label_column").select("id").run()
    assert at.button(key="emb_embed").label == "Embed 3 texts"
    open_page(at, "models")
    open_page(at, "embeddings")
    assert at.radio(key="emb_source").value == "Upload a file"
    assert "Current file: **three.csv**" in all_text(at)
    assert at.button(key="emb_embed").label == "Embed 3 texts"
    # The column chosen for the file comes back with it.
    assert at.selectbox(key="emb_label_column").value == "id"
    at.button(key="emb_kept_clear").click().run()
    assert "three.csv" not in all_text(at)
    assert at.button(key="emb_embed").label == "Embed"


def test_a_file_removed_from_the_uploader_is_not_brought_back(app: AppTest) -> None:
    at = open_page(app, "embeddings")
    at.radio(key="emb_source").set_value("Upload a file").run()
    at.file_uploader(key="emb_upload").set_value(("two.txt", b"one\ntwo\n", "text/plain")).run()
    assert at.button(key="emb_embed").label == "Embed 2 texts"
    at.file_uploader(key="emb_upload").set_value(None).run()
    assert at.button(key="emb_embed").label == "Embed"
    open_page(at, "models")
    open_page(at, "embeddings")
    assert "Current file" not in all_text(at)


def test_a_paste_past_the_line_limit_moves_into_a_file_with_every_line(app: AppTest) -> None:
    at = open_page(app, "embeddings")
    at.radio(key="emb_source").set_value("Paste texts").run()
    assert f"Up to {PASTE_MAX_LINES:,} lines here" in all_text(at)
    count = PASTE_MAX_LINES + 500
    at.text_area(key="emb_paste").input("\n".join(f"line {i}" for i in range(count))).run()
    assert not at.exception
    assert at.radio(key="emb_source").value == "Upload a file"
    assert f"The {count:,} pasted lines are more than the text box takes" in all_text(at)
    assert f"Current file: **{PASTED_FILE_NAME}**" in all_text(at)
    assert at.button(key="emb_embed").label == f"Embed {count:,} texts"
    assert at.session_state["emb_paste"] == ""
    # The moved lines are the input after another page too; the note said its piece once.
    open_page(at, "models")
    open_page(at, "embeddings")
    assert at.button(key="emb_embed").label == f"Embed {count:,} texts"
    assert "pasted lines are more than" not in all_text(at)


def test_a_paste_within_the_limit_stays_in_the_box(app: AppTest) -> None:
    at = open_page(app, "embeddings")
    at.radio(key="emb_source").set_value("Paste texts").run()
    at.text_area(key="emb_paste").input("\n".join(f"line {i}" for i in range(PASTE_MAX_LINES))).run()
    assert at.radio(key="emb_source").value == "Paste texts"
    assert at.button(key="emb_embed").label == f"Embed {PASTE_MAX_LINES:,} texts"


def test_uploaded_images_survive_another_page_and_the_generate_tab(app: AppTest) -> None:
    at = open_page(app, "images")
    at.file_uploader(key="images_upload").set_value(
        [("red.png", _png((220, 30, 30)), "image/png"), ("blue.png", _png((30, 30, 220)), "image/png")]
    ).run()
    assert not at.button(key="images_embed").disabled
    open_page(at, "chat")
    open_page(at, "images")
    assert "2 image(s) uploaded before are included: red.png, blue.png." in all_text(at)
    assert not at.button(key="images_embed").disabled
    # Another image added now joins the earlier two, each once.
    at.file_uploader(key="images_upload").set_value([("green.png", _png((30, 200, 30)), "image/png")]).run()
    assert at.session_state["images_upload_current"][0].name == "green.png"
    assert len(at.data_editor[0].value) == 3
    # The Generate tab does not draw the uploader either.
    at.session_state["images_tab"] = "Generate"
    at.run()
    at.session_state["images_tab"] = "Embed"
    at.run()
    assert "3 image(s) uploaded before are included: red.png, blue.png, green.png." in all_text(at)
    at.button(key="images_kept_remove").click().run()
    assert "uploaded before" not in all_text(at)
    assert at.button(key="images_embed").disabled
