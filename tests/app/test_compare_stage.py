"""The compare page in presenter mode (AppTest against scripted streams on the fault server): the panes show no
deployment picker or sync switch (both sit in the folded Settings panel, and work from there), and the metrics under
the panes are the last turn's large figures instead of the table."""

from __future__ import annotations

from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from services.config import Deployment
from tests.fixtures.fault_server import FaultServer, Reply, Scenario, chat_chunks


def _script() -> None:
    from pages.compare import render

    render()


@pytest.fixture
def scenarios(fault_server: FaultServer) -> dict[str, Scenario]:
    return {
        name: fault_server.scenario(Reply(sse=chat_chunks([f"{name} ", "answers."]), chunk_delay=delay))
        for name, delay in (("orion", 0.0), ("vega", 0.1))
    }


def page(scenarios: dict[str, Scenario], *, on_stage: bool = True) -> AppTest:
    at = AppTest.from_function(_script, default_timeout=30)
    at.session_state["deployments_added"] = {
        name: Deployment(name=name, endpoint=s.endpoint, max_retries=0) for name, s in scenarios.items()
    }
    at.session_state["presenter_on"] = on_stage
    at.query_params["panes"] = "orion,vega"
    at.run()
    assert not at.exception, at.exception
    return at


def block(node: Any, key: str) -> Any:
    """The block drawn with `key` anywhere under `node` (None when there is none)."""
    if getattr(node, "key", None) == key:
        return node
    for child in getattr(node, "children", {}).values():
        found = block(child, key)
        if found is not None:
            return found
    return None


def widgets(node: Any, kind: str) -> list[Any]:
    """Every widget of `kind` ("selectbox", "toggle", "metric", ...) under `node`."""
    return list(node.get(kind)) if node is not None else []


def send(at: AppTest, text: str) -> None:
    at.chat_input(key="compare.input").set_value(text).run()
    assert not at.exception, at.exception


def test_on_stage_the_panes_show_no_picker_or_sync_switch_and_the_settings_panel_sets_them(
    scenarios: dict[str, Scenario],
) -> None:
    at = page(scenarios)
    for uid in ("p1", "p2"):
        pane = block(at.main, f"compare_pane_{uid}")
        assert pane is not None
        assert widgets(pane, "selectbox") == [] and widgets(pane, "toggle") == []
    panel = block(at.main, "compare_stage_panes")
    assert [w.key for w in widgets(panel, "selectbox")] == ["compare.p1.deployment", "compare.p2.deployment"]
    assert [w.key for w in widgets(panel, "toggle")] == ["compare.p1.sync", "compare.p2.sync"]
    assert block(at.main, "compare_stage_settings") is not None  # the panel is inside the folded Settings
    at.selectbox(key="compare.p2.deployment").set_value("orion").run()
    assert [p.deployment for p in at.session_state["compare.state"].panes] == ["orion", "orion"]
    at.selectbox(key="compare.p2.deployment").set_value("vega").run()
    at.toggle(key="compare.p2.sync").set_value(False).run()
    assert not at.exception, at.exception
    own = block(at.main, "compare_stage_panes")
    assert "compare.p2.system" in [w.key for w in widgets(own, "text_area")]
    at.text_area(key="compare.p2.system").input("Answer in French.").run()
    send(at, "hello")
    first = [r.json()["messages"] for r in scenarios["orion"].requests]
    second = [r.json()["messages"] for r in scenarios["vega"].requests]
    assert first == [[{"role": "user", "content": "hello"}]]
    assert second == [[{"role": "system", "content": "Answer in French."}, {"role": "user", "content": "hello"}]]


def test_off_stage_the_pickers_stay_in_the_panes(scenarios: dict[str, Scenario]) -> None:
    at = page(scenarios, on_stage=False)
    assert block(at.main, "compare_stage_panes") is None
    pane = block(at.main, "compare_pane_p1")
    assert [w.key for w in widgets(pane, "selectbox")] == ["compare.p1.deployment"]
    assert [w.key for w in widgets(pane, "toggle")] == ["compare.p1.sync"]


def test_on_stage_the_metrics_are_the_last_turns_large_figures_with_the_best_marked(
    scenarios: dict[str, Scenario],
) -> None:
    at = page(scenarios)
    send(at, "hello")
    assert at.dataframe.len == 0  # no table on stage
    figures = block(at.main, "compare_metrics_stage")
    metrics = widgets(figures, "metric")
    assert [m.label for m in metrics] == ["First token", "Total time", "Speed", "Tokens"] * 2
    assert [m.value for m in metrics if m.label == "Tokens"] == ["7", "7"]  # 5 prompt + 2 completion tokens
    # orion streams at once, vega waits 0.1 s before each of its chunks: only orion's total is marked.
    assert [m.value.endswith("★") for m in metrics if m.label == "Total time"] == [True, False]
    names = [m.value for m in figures.get("markdown")]
    assert "**orion**" in names and "**vega**" in names
    at.session_state["presenter_on"] = False
    at.run()
    assert block(at.main, "compare_metrics_stage") is None
    assert at.dataframe.len == 2  # last turn and whole conversation
