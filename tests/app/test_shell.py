"""The shell: navigation, the deployment picker and status, and "Add deployment" (session only, key never shown)."""

from __future__ import annotations

from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from tests.app.conftest import all_text
from tests.fixtures.app_server import local_deployments_toml, toml_deployment
from tests.fixtures.fault_server import FaultServer, Reply, closed_port

SESSION_KEY = "session-key-9a8b7c6d5e"


def _submit_form(at: AppTest) -> None:
    [submit] = [button for button in at.sidebar.button if button.label == "Check and add"]
    submit.click()


def test_chat_is_the_default_page_and_the_first_deployment_is_preselected(local_app: AppTest) -> None:
    picker = local_app.sidebar.selectbox(key="deployment_selected")
    assert picker.value == "smollm2-135m-instruct"
    assert picker.options == [
        "smollm2-135m-instruct",
        "all-minilm-l6-v2",
        "paraphrase-minilm-l3-v2",
        "image-descriptor",
    ]
    assert local_app.subheader[0].value == "Chat with smollm2-135m-instruct"
    picker.select("image-descriptor").run()
    assert local_app.subheader[0].value == "Chat with image-descriptor"


def test_sidebar_shows_each_deployments_status(
    app_with_config: Callable[..., AppTest], local_endpoint_url: str
) -> None:
    port = closed_port()
    config = local_deployments_toml(local_endpoint_url) + toml_deployment("offline", f"http://127.0.0.1:{port}")
    at = app_with_config(config)
    status = "\n".join(m.value for m in at.sidebar.markdown)
    assert "**smollm2-135m-instruct**: SmolLM2-135M-Instruct · " in status and " ms" in status
    assert "**image-descriptor**: classical-colour-texture-descriptor" in status
    assert "**offline**: unreachable" in status and f"127.0.0.1:{port}" in status


def test_the_sidebar_and_the_models_page_share_one_status_check_that_asks_every_kind(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    # An OpenAI-compatible server has no /info: the check lists /models, so a dead one is not shown as reachable.
    dead = closed_port()
    listing = fault_server.scenario(Reply(status=500, text="no chat expected"), model_list=["llama-3-8b"])
    denied = fault_server.scenario(Reply(status=401, json={"error": {"code": "401", "message": "bad key"}}))
    config = (
        toml_deployment("vllm-down", f"http://127.0.0.1:{dead}/v1", api="openai", model="llama-3-8b")
        + toml_deployment("vllm-up", f"{listing.endpoint}/v1", api="openai", model="llama-3-8b")
        + toml_deployment("wrong-key", denied.endpoint)
    )
    at = app_with_config(config)
    status = "\n".join(m.value for m in at.sidebar.markdown)
    assert "**vllm-down**: unreachable" in status and f"127.0.0.1:{dead}" in status
    assert "**vllm-up**: llama-3-8b · " in status
    assert "**wrong-key**: unreachable" in status and "401" in status  # answered, but not usable
    assert listing.listings == 1 and listing.requests == []
    # The models page reads the same check: no second request while it is fresh.
    [page_hash] = [k for k, info in at._registered_pages.items() if info.get("url_pathname") == "models"]
    at._page_hash = page_hash
    at.run()
    assert not at.exception, at.exception
    assert listing.listings == 1 and len(denied.requests) == 1
    table = at.dataframe[0].value  # the overview, first on the page
    assert dict(zip(table["deployment"], table["reachable"], strict=True)) == {
        "vllm-down": "no",
        "vllm-up": "yes",
        "wrong-key": "yes",
    }


def test_added_deployment_is_checked_kept_for_the_session_and_its_key_never_shown(
    local_app: AppTest, local_endpoint_url: str
) -> None:
    local_app.sidebar.text_input(key="add_name").input("mine")
    local_app.sidebar.text_input(key="add_endpoint").input(f"{local_endpoint_url}/smollm2-135m-instruct")
    local_app.sidebar.text_input(key="add_key").input(SESSION_KEY)
    _submit_form(local_app)
    local_app.run()
    assert not local_app.exception
    assert "Added mine for this session." in "\n".join(s.value for s in local_app.sidebar.success)
    assert local_app.sidebar.selectbox(key="deployment_selected").value == "mine"
    assert local_app.sidebar.text_input(key="add_key").value == ""
    assert local_app.subheader[0].value == "Chat with mine"
    assert SESSION_KEY not in all_text(local_app)


def test_added_deployment_that_does_not_answer_is_refused_with_the_reason(local_app: AppTest) -> None:
    port = closed_port()
    local_app.sidebar.text_input(key="add_name").input("broken")
    local_app.sidebar.text_input(key="add_endpoint").input(f"http://127.0.0.1:{port}")
    _submit_form(local_app)
    local_app.run()
    errors = "\n".join(e.value for e in local_app.sidebar.error)
    assert "Cannot reach broken" in errors and f"127.0.0.1:{port}" in errors
    assert "broken" not in local_app.sidebar.selectbox(key="deployment_selected").options


def test_added_deployment_with_a_bad_url_says_which_field(local_app: AppTest) -> None:
    local_app.sidebar.text_input(key="add_name").input("x")
    local_app.sidebar.text_input(key="add_endpoint").input("not a url")
    _submit_form(local_app)
    local_app.run()
    assert "endpoint: " in "\n".join(e.value for e in local_app.sidebar.error)


def test_configuration_error_is_shown_and_the_app_still_runs(app_with_config: Callable[..., AppTest]) -> None:
    at = app_with_config('[deployments.bad]\nendpoint = "ftp://nope"\n')
    assert "Configuration problem" in "\n".join(e.value for e in at.sidebar.error)
    assert "bad" in "\n".join(e.value for e in at.sidebar.error)


def test_embedded_endpoint_from_the_environment_fills_the_picker(
    app_with_config: Callable[..., AppTest], local_endpoint_url: str
) -> None:
    # What scripts/run.sh (make run) does when nothing is configured.
    at = app_with_config("", PLAYGROUND_LOCAL_ENDPOINT=local_endpoint_url)
    assert at.sidebar.selectbox(key="deployment_selected").value == "smollm2-135m-instruct"
    at.checkbox(key="p_max_tokens_on").check().run()
    at.number_input(key="p_max_tokens").set_value(3).run()
    at.chat_input[0].set_value("Hi").run()
    assert at.chat_message[1].markdown[0].value.strip()
