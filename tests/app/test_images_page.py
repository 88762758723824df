"""The images page in AppTest against the embedded endpoint: samples, the views, refusals in plain words."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from services.config import Deployment
from tests.fixtures.fault_server import FaultServer, Reply

FAMILIES = ("red-circles", "blue-stripes", "green-gradient", "yellow-checks")


def _script() -> None:
    from pages.images import render

    render()


def _script_with_text() -> None:
    # Embeds two samples with a text each before the page draws, as if the text column had been filled.
    from app import state
    from app.components.image_embed import run_embedding
    from app.components.image_inputs import ImageItem
    from pages.images import render
    from services.images import prepare_image, sample_images

    samples = sample_images(per_family=1)[:2]
    items = [ImageItem(prepare_image(s.name, s.data), text=s.caption) for s in samples]
    if "ran_once" not in state.st.session_state:
        state.st.session_state["ran_once"] = True
        state.st.session_state["images_use_samples"] = True  # the refusal is about images still on the page
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


def test_picker_preselects_the_deployment_whose_info_says_image_embeddings(
    local_deployments: dict[str, Deployment],
) -> None:
    at = _page(local_deployments)
    assert not at.exception
    assert at.selectbox(key="images_deployment").value == "image-descriptor"
    assert at.button(key="images_embed").disabled


def test_sample_images_embed_into_heatmap_projection_and_neighbours(local_deployments: dict[str, Deployment]) -> None:
    at = _page(local_deployments)
    at.toggle(key="images_use_samples").set_value(True).run()
    at.button(key="images_embed").click().run()
    assert not at.exception
    assert any("Embedded 12 image(s)" in s.value for s in at.success)
    charts = at.get("plotly_chart")
    assert len(charts) == 2
    captions = [element.proto.imgs[0].caption for element in at.get("image")]
    assert [c for c in captions[:12]] == [f"{f}-{i}.png" for f in FAMILIES for i in (1, 2, 3)]
    # The neighbours of the first red-circles sample start with the other two red-circles samples.
    query = captions.index("query: red-circles-1.png")
    assert [c.split(" · ")[0] for c in captions[query + 1 : query + 3]] == ["red-circles-3.png", "red-circles-2.png"]
    # The descriptor has no text route, so there is no text search box, and the page says why.
    assert any("does not take text" in i.value for i in at.info)


def test_per_image_text_refused_by_the_descriptor_is_explained_and_can_be_dropped(
    local_deployments: dict[str, Deployment],
) -> None:
    at = _page(local_deployments, _script_with_text)
    assert not at.exception
    assert any("does not take text with images" in m.value for m in at.markdown)
    assert any("input[0].text" in m.value for m in at.markdown)
    at.button(key="images_retry_without_text").click().run()
    assert not at.exception
    assert any("Embedded 12 image(s)" in s.value for s in at.success)
    assert not any("does not take text with images" in m.value for m in at.markdown)


def test_a_refusal_card_goes_when_its_images_are_gone(local_deployments: dict[str, Deployment]) -> None:
    at = _page(local_deployments, _script_with_text)
    assert any("does not take text with images" in m.value for m in at.markdown)
    # As after a visit to another page, where uploads are lost: no images, so no card and no stale retry button.
    at.toggle(key="images_use_samples").set_value(False).run()
    assert not at.exception
    assert not any("does not take text with images" in m.value for m in at.markdown)
    assert not any(b.key == "images_retry_without_text" for b in at.button)
    at.toggle(key="images_use_samples").set_value(True).run()
    assert not any("does not take text with images" in m.value for m in at.markdown)


def test_a_deployment_without_image_embeddings_says_so(local_deployments: dict[str, Deployment]) -> None:
    at = _page(local_deployments)
    at.selectbox(key="images_deployment").select("all-minilm-l6-v2").run()
    assert any("not image embeddings" in w.value for w in at.warning)
    at.toggle(key="images_use_samples").set_value(True).run()
    at.button(key="images_embed").click().run()
    assert not at.exception
    assert any("offers no image embeddings" in m.value for m in at.markdown)


def _embeddings_body(vectors: list[list[float]]) -> dict[str, Any]:
    data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
    return {"object": "list", "model": "clip-like", "data": data, "usage": {"prompt_tokens": 1, "total_tokens": 1}}


def _script_embed_three() -> None:
    # Three images embedded before the page draws; the scripted deployment answers like a CLIP-style model.
    from app import state
    from app.components.image_embed import run_embedding
    from app.components.image_inputs import ImageItem
    from pages.images import render
    from services.images import prepare_image, sample_images

    samples = [sample_images(per_family=1)[i] for i in (0, 1, 2)]
    if "ran_once" not in state.st.session_state:
        state.st.session_state["ran_once"] = True
        state.st.session_state["images_use_samples"] = True  # the refusal is about images still on the page
        items = [ImageItem(prepare_image(s.name, s.data)) for s in samples]
        run_embedding(state.all_deployments()["clip"], items)
    render()


def test_text_search_ranks_images_when_the_deployment_takes_text(fault_server: FaultServer) -> None:
    images = _embeddings_body([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    text = _embeddings_body([[0.1, 0.9, 0.2]])
    info = {"model_name": "clip-like", "model_type": "image_embeddings", "model_provider_name": "Tests"}
    # Replies in order: the images, the picker's /info, the one-text check that the deployment takes text, the search.
    scenario = fault_server.scenario(Reply(json=images), Reply(json=info), Reply(json=text), Reply(json=text))
    clip = Deployment(name="clip", endpoint=scenario.endpoint, max_retries=0)
    at = _page({"clip": clip}, _script_embed_three)
    assert not at.exception
    at.text_input(key="images_query").input("blue stripes")
    at.button[[b.label for b in at.button].index("Search")].click().run()
    assert not at.exception
    captions = [element.proto.imgs[0].caption for element in at.get("image")]
    results = captions[-3:]
    assert results[0].startswith("blue-stripes-1.png · 0.9")
    assert [r.split(" · ")[0] for r in results] == ["blue-stripes-1.png", "green-gradient-1.png", "red-circles-1.png"]
    assert [r.path for r in scenario.requests] == ["/images/embeddings", "/info", "/embeddings", "/embeddings"]
    assert scenario.requests[3].json()["input"] == ["blue stripes"]
