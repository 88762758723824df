"""Presenter mode on the pages off the top bar (Traces, Models, Prompts, Evaluations) opened by their URL: a plain
notice with the way out instead of the page, so no endpoint, key source or id reaches the stage; leaving brings the
page back."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from services.error_words import KEY_SOURCES
from tests.app.conftest import all_text
from tests.fixtures.app_server import toml_deployment
from tests.fixtures.fault_server import FaultServer, Reply, chat_chunks

BACKSTAGE = {"traces": "Traces", "models": "Models", "prompts": "Prompts", "evals": "Evaluations"}


def _open(at: AppTest, url_path: str) -> AppTest:
    """Run the app on the page registered under `url_path` (AppTest.switch_page only finds pages that are files)."""
    [page_hash] = [key for key, info in at._registered_pages.items() if info.get("url_pathname") == url_path]
    at._page_hash = page_hash
    at.run()
    assert not at.exception, at.exception
    return at


def _page_text(at: AppTest) -> str:
    parts = [all_text(at), *(f"{b.label} {b.help or ''}" for b in at.button)]
    parts += [str(h.proto.body) for h in at.get("html")]
    parts += [str(e.proto) for e in at.get("dataframe")] + [str(e.proto) for e in at.get("page_link")]
    return "\n".join(parts)


@pytest.mark.parametrize("url_path", list(BACKSTAGE))
def test_a_backstage_page_on_stage_shows_a_plain_notice_and_leaving_brings_it_back(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer, url_path: str
) -> None:
    scenario = fault_server.scenario(Reply(sse=chat_chunks(["Hello"])))
    at = app_with_config(toml_deployment("stage-model", scenario.endpoint, key="stage-key-1618"))
    _open(at, url_path)
    controls = {b.key for b in at.button}
    at.query_params["present"] = "1"
    stage = _page_text(_open(at, url_path))
    title = BACKSTAGE[url_path]
    assert f"{title} is not shown in presenter mode" in stage
    links = [str(e.proto.page) for e in at.get("page_link")]
    assert any("chat" in link for link in links) and any("compare" in link for link in links)
    for hidden in [scenario.endpoint, "127.0.0.1", *KEY_SOURCES.values(), "stage-key-1618"]:
        assert hidden not in stage, hidden
    # Only the notice and the top bar's button: none of the page's own controls are drawn.
    assert {b.key for b in at.button} == {"presenter_leave", "presenter_backstage_leave"}
    at.button(key="presenter_backstage_leave").click().run()
    assert not at.exception, at.exception
    assert "present" not in at.query_params
    assert {b.key for b in at.button} == controls  # the page's own controls, as before the stage
    assert f"{title} is not shown" not in _page_text(at)
    assert at.sidebar.children  # off stage: the sidebar is back


def test_the_models_page_names_the_endpoint_off_stage_only(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    scenario = fault_server.scenario(Reply(sse=chat_chunks(["Hello"])))
    at = app_with_config(toml_deployment("stage-model", scenario.endpoint, key="stage-key-1618"))
    assert scenario.endpoint in _page_text(_open(at, "models"))  # what the stage must hide is there backstage
    at.query_params["present"] = "1"
    assert scenario.endpoint not in _page_text(_open(at, "models"))
