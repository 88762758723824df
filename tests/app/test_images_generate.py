"""The Images page's Generate tab in AppTest: deployments side by side on the image server, the gallery, every error
as a card (with its retry), Embed these, and the words when no deployment generates images (the embedded endpoint)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from app.components.image_gen_form import PICK_KEY, PROMPT_KEY, param_key
from services import tracing
from services.client import InferenceClient
from services.config import Deployment
from services.errors import ContentFilterError
from services.probe import CapabilityResult, ProbeReport, Status
from services.store.location import data_dir
from services.store.traces import TraceStore
from tests.app.conftest import all_text
from tests.fixtures.fault_server import Reply
from tests.fixtures.image_server import BLOCKED_WORD, ImageServer


def _script() -> None:
    from pages.images import render

    render()


@pytest.fixture(autouse=True)
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "deployments.toml"
    empty.write_text("")
    monkeypatch.setenv("PLAYGROUND_CONFIG", str(empty))
    for name in ("PLAYGROUND_LOCAL_ENDPOINT", "AZUREAI_ENDPOINT_URL", "AZUREAI_ENDPOINT_KEY"):
        monkeypatch.delenv(name, raising=False)


def _tab(deployments: dict[str, Deployment], **state: Any) -> AppTest:
    at = AppTest.from_function(_script, default_timeout=60)
    at.session_state["deployments_added"] = dict(deployments)
    at.session_state["images_tab"] = "Generate"
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def _generate(at: AppTest, prompt: str, picked: list[str] | None = None) -> AppTest:
    if picked is not None:
        at.multiselect(key=PICK_KEY).set_value(picked).run()
    at.text_area(key=PROMPT_KEY).input(prompt).run()
    at.button(key="imggen_generate").click().run()
    assert not at.exception, at.exception
    return at


def _click(at: AppTest, label: str) -> AppTest:
    (button,) = [b for b in at.button if b.label == label]
    button.click().run()
    assert not at.exception, at.exception
    return at


def _images(at: AppTest) -> list[str]:
    """The caption of every image drawn (size · time)."""
    return [image.caption for element in at.get("image") for image in element.proto.imgs]


def _painters(image_server: ImageServer) -> tuple[dict[str, Deployment], dict[str, Any]]:
    endpoints = {
        "dall-e-3": image_server.endpoint("azure-openai", "dall-e-3"),
        "gpt-image-1": image_server.endpoint("azure-openai", "gpt-image-1"),
        "flux": image_server.endpoint("azure-inference", "flux-1"),
    }
    deployments = {
        "dall-e-3": Deployment(name="dall-e-3", endpoint=endpoints["dall-e-3"].url, api="azure-openai"),
        "gpt-image-1": Deployment(name="gpt-image-1", endpoint=endpoints["gpt-image-1"].url, api="azure-openai"),
        "flux": Deployment(name="flux", endpoint=endpoints["flux"].url, model="flux-1"),
    }
    return deployments, endpoints


def test_three_deployments_draw_one_prompt_side_by_side_as_one_trace(image_server: ImageServer) -> None:
    deployments, endpoints = _painters(image_server)
    at = _tab(deployments)
    # Names that are image models' are picked before anything was asked of them.
    assert at.multiselect(key=PICK_KEY).value == ["dall-e-3", "gpt-image-1", "flux"]
    assert at.button(key="imggen_generate").disabled  # no prompt yet
    at.selectbox(key=param_key("dall-e-3", "style")).set_value("natural").run()
    at.selectbox(key=param_key("flux", "size")).set_value("768x1024").run()
    # The page asks for b64_json by default (a url is only fetched from the endpoint's host): flux is asked for a url.
    assert at.selectbox(key=param_key("dall-e-3", "response_format")).value == "b64_json"
    at.selectbox(key=param_key("flux", "response_format")).set_value("url").run()
    _generate(at, "a lighthouse at dusk")
    text = all_text(at)
    assert "**Prompt:** a lighthouse at dusk" in text
    assert "Revised prompt: A detailed picture of a lighthouse at dusk." in text
    assert "272 output tokens" in text
    captions = _images(at)
    assert [caption.split(" · ")[0] for caption in captions] == ["1024x1024", "1024x1024", "768x1024"]
    assert all(caption.endswith(" s") for caption in captions)
    # Only what was set went out: dall-e-3 its style, flux its size, gpt-image-1 nothing but the prompt.
    assert endpoints["dall-e-3"].generations[0].json() == {
        "prompt": "a lighthouse at dusk",
        "style": "natural",
        "response_format": "b64_json",
    }
    assert endpoints["gpt-image-1"].generations[0].json() == {"prompt": "a lighthouse at dusk"}
    assert endpoints["flux"].generations[0].json() == {
        "prompt": "a lighthouse at dusk",
        "model": "flux-1",
        "size": "768x1024",
        "response_format": "url",
    }
    assert len(endpoints["flux"].fetches) == 1
    downloads = at.get("download_button")
    assert len(downloads) == 3
    assert [d.proto.label for d in downloads] == ["Download PNG"] * 3
    assert tracing.flush(10)
    store = TraceStore(data_dir() / tracing.TRACE_FILE)
    # The deployment status check (/info) is a trace of its own; the drawing is one trace.
    (trace,) = [trace for trace in store.traces() if trace["action"] == "image generation"]
    spans = store.spans(trace["trace_id"])
    # Three generations and the fetch of flux's url answer, all in the one trace.
    routes = sorted(span["route"] for span in spans)
    assert routes[1:] == ["/images/generations"] * 3 and "/files/" in routes[0] and "sig" not in routes[0]
    assert {span["operation"] for span in spans} == {"image_generation"}


def test_generate_again_keeps_the_earlier_run_in_the_gallery_and_clear_empties_it(image_server: ImageServer) -> None:
    deployments, _ = _painters(image_server)
    at = _tab({"gpt-image-1": deployments["gpt-image-1"]})
    _generate(at, "a red kite")
    assert at.button(key="imggen_generate").label == "Generate again"
    at.text_area(key=PROMPT_KEY).input("a blue kite").run()
    at.number_input(key="p_imggen_n").set_value(2).run()
    at.button(key="imggen_generate").click().run()
    text = all_text(at)
    assert text.index("**Prompt:** a blue kite") < text.index("**Prompt:** a red kite")  # newest first
    assert len(_images(at)) == 3
    at.button(key="imggen_clear").click().run()
    assert "**Prompt:**" not in all_text(at)


def test_a_refused_parameter_is_a_card_and_retry_without_it_draws_and_hides_the_control(
    image_server: ImageServer,
) -> None:
    # A deployment whose name says nothing: the common parameters are offered, style among them.
    endpoint = image_server.endpoint("azure-openai", "gpt-image-1")
    painter = Deployment(name="painter", endpoint=endpoint.url, api="azure-openai")
    at = _tab({"painter": painter}, **{PICK_KEY: ["painter"]})
    at.selectbox(key=param_key("painter", "style")).set_value("vivid").run()
    at.selectbox(key=param_key("painter", "response_format")).set_value("(default)").run()  # gpt-image refuses it
    _generate(at, "a cat")
    text = all_text(at)
    assert "painter does not support `style`" in text
    _click(at, "Retry without style")
    assert len(_images(at)) == 1
    assert [seen.json().get("style") for seen in endpoint.generations] == ["vivid", None]
    assert "`style` is not sent" in all_text(at)
    assert param_key("painter", "style") not in [s.key for s in at.selectbox]


def test_a_refused_value_is_switched_off_not_remembered(image_server: ImageServer) -> None:
    endpoint = image_server.endpoint("azure-openai", "dall-e-3")
    painter = Deployment(name="painter", endpoint=endpoint.url, api="azure-openai")
    at = _tab({"painter": painter}, **{PICK_KEY: ["painter"]})
    at.selectbox(key=param_key("painter", "size")).set_value("512x512").run()
    _generate(at, "a cat")
    assert "painter does not accept this value of `size`" in all_text(at)
    _click(at, "Retry without size")
    assert len(_images(at)) == 1
    assert at.selectbox(key=param_key("painter", "size")).value == "(default)"  # still offered
    assert [seen.json().get("size") for seen in endpoint.generations] == ["512x512", None]


def test_the_content_filter_card_shows_each_category(image_server: ImageServer) -> None:
    deployments, _ = _painters(image_server)
    at = _tab({"dall-e-3": deployments["dall-e-3"]})
    _generate(at, f"a {BLOCKED_WORD}")
    text = all_text(at)
    assert "The prompt was blocked by the content filter" in text
    assert "| violence | **filtered** | high |" in text and "| hate | not filtered | safe |" in text


def test_a_rate_limit_card_says_when_and_retry_draws(image_server: ImageServer) -> None:
    endpoint = image_server.endpoint("azure-openai", "gpt-image-1")
    endpoint.script(
        Reply(status=429, json={"error": {"code": "429", "message": "Slow down."}}, headers={"retry-after": "7"})
    )
    painter = Deployment(name="gpt-image-1", endpoint=endpoint.url, api="azure-openai", max_retries=0)
    at = _tab({"gpt-image-1": painter})
    _generate(at, "a cat")
    text = all_text(at)
    assert "gpt-image-1 is rate limited" in text and "Retry in 7 s." in text
    _click(at, "Retry")
    assert len(_images(at)) == 1 and "rate limited" not in all_text(at)


def test_an_image_on_another_host_is_a_card_that_says_to_ask_for_b64_json(image_server: ImageServer) -> None:
    endpoint = image_server.endpoint("azure-openai", "dall-e-3", other_host=True)
    at = _tab({"dall-e-3": Deployment(name="dall-e-3", endpoint=endpoint.url, api="azure-openai")})
    at.selectbox(key=param_key("dall-e-3", "response_format")).set_value("url").run()
    _generate(at, "a cat")
    text = all_text(at)
    assert "The image from dall-e-3 could not be fetched" in text and "another host" in text and "b64_json" in text
    assert endpoint.fetches == []
    at.selectbox(key=param_key("dall-e-3", "response_format")).set_value("b64_json").run()
    _click(at, "Retry")
    assert len(_images(at)) == 1


def test_a_deployment_without_image_generation_is_a_card_and_is_named_so_afterwards(image_server: ImageServer) -> None:
    deployments, _ = _painters(image_server)
    chat = image_server.endpoint("azure-openai", "gpt-4o")
    both = {"gpt-4o": Deployment(name="gpt-4o", endpoint=chat.url, api="azure-openai"), **deployments}
    at = _tab(both, **{PICK_KEY: ["gpt-4o", "gpt-image-1"]})
    _generate(at, "a cat")
    text = all_text(at)
    assert "gpt-4o offers no image generation" in text and "OperationNotSupported" not in text.split("gpt-4o offers")[0]
    assert len(_images(at)) == 1  # the other deployment still drew
    assert ":orange[No image generation]: it answered: does not offer /images/generations" in all_text(at)


def test_embed_these_takes_the_images_to_the_embed_tab(image_server: ImageServer) -> None:
    deployments, _ = _painters(image_server)
    at = _tab({"gpt-image-1": deployments["gpt-image-1"]})
    at.number_input(key="p_imggen_n").set_value(2).run()
    _generate(at, "two cats")
    _click(at, "Embed these")
    assert at.session_state["images_tab"] == "Embed"
    assert "2 generated image(s) from the Generate tab (gpt-image-1) are included." in all_text(at)
    names = at.data_editor[0].value["name"].tolist() if at.data_editor else []
    assert len(names) == 2 and all(name.startswith("gpt-image-1-") for name in names)
    _click(at, "Remove generated images")
    assert "generated image(s)" not in all_text(at)


def test_with_only_the_embedded_endpoint_the_page_says_no_deployment_generates_images(
    local_deployments: dict[str, Deployment],
) -> None:
    at = _tab(local_deployments)
    text = all_text(at)
    assert "No configured deployment generates images." in text
    assert "smollm2-135m-instruct**: its /info says it is a chat-completion model" in text
    assert "all-minilm-l6-v2**: its /info says it is a embeddings model" in text
    assert "The embedded endpoint has no image generator" in text and "gpt-image-1" in text
    assert at.multiselect(key=PICK_KEY).value == []
    # Trying anyway gets the endpoint's own answer as a card.
    _generate(at, "a cat", ["smollm2-135m-instruct"])
    assert "smollm2-135m-instruct offers no image generation" in all_text(at)


def test_a_probe_that_found_no_image_generation_is_said_in_words(image_server: ImageServer) -> None:
    endpoint = image_server.endpoint("openai", "llama-3")
    chat = Deployment(name="llama", endpoint=endpoint.url, api="openai", model="llama-3")
    result = CapabilityResult("image_generation", Status.NOT_SUPPORTED, "llama: does not offer /images/generations")
    report = ProbeReport("llama", probed_at=datetime.now(UTC), results={"image_generation": result})
    at = _tab({"llama": chat}, probe_reports={"llama": report})
    text = all_text(at)
    assert "No configured deployment generates images." in text
    assert "the capability probe: llama: does not offer /images/generations" in text


def test_view_code_shows_each_picked_deployment_with_the_key_as_a_variable(image_server: ImageServer) -> None:
    deployments, _ = _painters(image_server)
    keyed = Deployment(**{**deployments["flux"].model_dump(), "key": "flux-secret-key-12345"})
    at = _tab({"flux": keyed})
    at.text_area(key=PROMPT_KEY).input("a fox").run()
    code = "\n".join(block.value for block in at.code)
    assert "client.images.generate(" in code and "send_request" in code and "curl -sS -X POST" in code
    assert "AZUREAI_ENDPOINT_KEY" in code and "flux-secret-key-12345" not in code


def test_the_gallery_drops_its_oldest_runs_past_its_image_limit(
    image_server: ImageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.components import image_gen_run

    monkeypatch.setattr(image_gen_run, "MAX_IMAGES", 3)
    deployments, _ = _painters(image_server)
    at = _tab({"gpt-image-1": deployments["gpt-image-1"]})
    at.number_input(key="p_imggen_n").set_value(2).run()
    _generate(at, "first")
    _generate(at, "second")
    text = all_text(at)
    assert "**Prompt:** second" in text and "**Prompt:** first" not in text
    assert "The 1 oldest run(s) left the gallery" in text
    assert len(_images(at)) == 2


def test_an_image_generation_trace_opens_on_the_traces_page_with_its_answer_and_card(
    app_with_config: Any, image_server: ImageServer
) -> None:
    endpoint = image_server.endpoint("azure-openai", "dall-e-3")
    client = InferenceClient(Deployment(name="dall-e-3", endpoint=endpoint.url, api="azure-openai"))
    with tracing.action("image generation") as action:
        client.generate_images("a quiet harbour", response_format="b64_json")
        with pytest.raises(ContentFilterError):
            client.generate_images(f"a {BLOCKED_WORD}")
    at = app_with_config("")
    [page_hash] = [key for key, info in at._registered_pages.items() if info.get("url_pathname") == "traces"]
    at._page_hash = page_hash
    at.query_params["trace"] = action.trace_id
    at.run()
    assert not at.exception, at.exception
    text = all_text(at)
    shown = [json.loads(element.value) for element in at.json]
    assert {"params": {"response_format": "b64_json"}, "prompt": "a quiet harbour"} in shown
    (answer,) = [item for item in shown if "count" in item]
    assert answer["count"] == 1 and answer["revised_prompts"] == ["A detailed picture of a quiet harbour."]
    assert "The prompt was blocked by the content filter" in text and "| violence | **filtered** | high |" in text
    table = at.dataframe[0].value
    assert table["Action"].tolist() == ["image generation"]
