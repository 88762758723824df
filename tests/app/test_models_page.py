"""The models page in AppTest against the embedded endpoint: every deployment's /info, then a probe filling the map."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from services.config import Deployment
from services.store.refusals import RefusalStore


def _script() -> None:
    from pages.models import render

    render()


@pytest.fixture
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the deployments a test adds: no developer file or environment leaks in.
    empty = tmp_path / "deployments.toml"
    empty.write_text("")
    monkeypatch.setenv("PLAYGROUND_CONFIG", str(empty))
    for name in ("PLAYGROUND_LOCAL_ENDPOINT", "AZUREAI_ENDPOINT_URL", "AZUREAI_ENDPOINT_KEY"):
        monkeypatch.delenv(name, raising=False)


def _page(deployments: dict[str, Deployment]) -> AppTest:
    at = AppTest.from_function(_script, default_timeout=60)
    at.session_state["deployments_added"] = dict(deployments)
    return at.run()


def _frame(at: AppTest, index: int) -> pd.DataFrame:
    return at.dataframe[index].value


def _capabilities(at: AppTest) -> pd.DataFrame:
    """The capability map's two tables (routes, chat options) as one, indexed by deployment."""
    return _frame(at, 1).set_index("deployment").join(_frame(at, 2).set_index("deployment"))


@pytest.mark.usefixtures("isolated_config")
def test_models_page_lists_every_deployment_with_its_info(local_deployments: dict[str, Deployment]) -> None:
    at = _page(local_deployments)
    assert not at.exception
    overview = _frame(at, 0).set_index("deployment")
    assert set(overview.index) == set(local_deployments)
    assert overview.loc["image-descriptor", "type"] == "image_embeddings"
    assert overview.loc["all-minilm-l6-v2", "model"] == "all-MiniLM-L6-v2"
    assert overview.loc["smollm2-135m-instruct", "type"] == "chat-completion"
    assert set(overview["reachable"]) == {"yes"}
    assert set(overview["api-version"]) == {"2024-05-01-preview"}
    assert (overview["round trip (ms)"] > 0).all()


@pytest.mark.usefixtures("isolated_config")
def test_unreachable_deployment_is_listed_with_its_reason(local_deployments: dict[str, Deployment]) -> None:
    gone = Deployment(name="gone", endpoint="http://127.0.0.1:9", max_retries=0, connect_timeout=1)
    at = _page({"gone": gone, "image-descriptor": local_deployments["image-descriptor"]})
    overview = _frame(at, 0).set_index("deployment")
    assert overview.loc["gone", "reachable"] == "no"
    assert any("gone" in e.value for e in at.error)


@pytest.mark.usefixtures("isolated_config")
def test_probe_fills_the_capability_map_and_marks_params_for_the_chat_page(
    local_deployments: dict[str, Deployment],
) -> None:
    at = _page(local_deployments)
    assert any("Not probed yet" in i.value for i in at.info)
    at.button(key="models_probe").click().run()
    assert not at.exception
    table = _capabilities(at)
    assert table.loc["smollm2-135m-instruct", "chat"] == "supported"
    assert table.loc["smollm2-135m-instruct", "tools"] == "not supported"
    assert table.loc["all-minilm-l6-v2", "embeddings"] == "supported"
    assert table.loc["image-descriptor", "image embeddings"] == "supported"
    assert table.loc["image-descriptor", "chat"] == "not supported"
    assert table.loc["smollm2-135m-instruct", "text completion"] == "supported"
    assert table.loc["all-minilm-l6-v2", "text completion"] == "not supported"
    assert not any("Not probed yet" in i.value for i in at.info)
    # The chat page reads this store to mark controls.
    chat = local_deployments["smollm2-135m-instruct"]
    marked = RefusalStore().refusals(chat.name, chat.endpoint)
    assert "tools" in marked and marked["tools"].reason.startswith("probe:")
    assert any("probed at" in e.label for e in at.expander)


@pytest.mark.usefixtures("isolated_config")
def test_a_422_seen_elsewhere_shows_in_the_map_before_any_probe(local_deployments: dict[str, Deployment]) -> None:
    chat = local_deployments["smollm2-135m-instruct"]
    RefusalStore().record(chat.name, chat.endpoint, "seed", "smollm2: seed refused [422]")
    at = _page(local_deployments)
    table = _capabilities(at)
    assert table.loc["smollm2-135m-instruct", "seed"] == "not supported"
    assert table.loc["smollm2-135m-instruct", "stop"] == "unknown"
