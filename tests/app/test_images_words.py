"""The images page says refusals in words: no raw route, status code or error text ("NOT FOUND", "[404]")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.components.image_results import no_text_search_words
from services.config import Deployment

# What a raw InferenceError line looks like: an upper-case reason or a status code in brackets.
RAW = re.compile(r"\[\d{3}\]|NOT FOUND|UNPROCESSABLE|does not offer /")


def _script() -> None:
    from pages.images import render

    render()


def _script_with_text() -> None:
    # Two samples with a text each are embedded before the page draws, as if the text column had been filled.
    from app import state
    from app.components.image_embed import run_embedding
    from app.components.image_inputs import ImageItem
    from pages.images import render
    from services.images import prepare_image, sample_images

    samples = sample_images(per_family=1)[:2]
    items = [ImageItem(prepare_image(s.name, s.data), text=s.caption) for s in samples]
    if "ran_once" not in state.st.session_state:
        state.st.session_state["ran_once"] = True
        state.st.session_state["images_use_samples"] = True
        run_embedding(state.all_deployments()["image-descriptor"], items)
    render()


@pytest.fixture(autouse=True)
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "deployments.toml"
    empty.write_text("")
    monkeypatch.setenv("PLAYGROUND_CONFIG", str(empty))
    for name in ("PLAYGROUND_LOCAL_ENDPOINT", "AZUREAI_ENDPOINT_URL", "AZUREAI_ENDPOINT_KEY"):
        monkeypatch.delenv(name, raising=False)


def _page(deployments: dict[str, Deployment], script=_script) -> AppTest:
    at = AppTest.from_function(script, default_timeout=60)
    at.session_state["deployments_added"] = dict(deployments)
    return at.run()


def _shown(at: AppTest) -> list[str]:
    return [str(e.value) for kind in ("info", "markdown", "warning", "error", "caption") for e in getattr(at, kind)]


def test_no_text_search_is_explained_in_words(local_deployments: dict[str, Deployment]) -> None:
    at = _page(local_deployments)
    at.toggle(key="images_use_samples").set_value(True).run()
    at.button(key="images_embed").click().run()
    assert not at.exception
    said = [i.value for i in at.info if "does not take text" in i.value]
    assert said == [no_text_search_words("image-descriptor", None)], [i.value for i in at.info]
    assert "cannot be searched by text" in said[0]
    assert not [text for text in _shown(at) if RAW.search(text)], _shown(at)


def test_refused_per_image_text_is_explained_in_words(local_deployments: dict[str, Deployment]) -> None:
    at = _page(local_deployments, _script_with_text)
    assert not at.exception
    card = [m.value for m in at.markdown if "refused the text given with each image" in m.value]
    assert len(card) == 1 and "`input[0].text`" in card[0], [m.value for m in at.markdown]
    assert not [text for text in _shown(at) if RAW.search(text)], _shown(at)


def test_a_refused_parameter_is_named_in_the_words() -> None:
    words = no_text_search_words("clip*", "input_type")
    assert words.startswith("**clip\\*** does not take text") and "`input_type`" in words
