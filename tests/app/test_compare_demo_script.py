"""The demo script on the compare page (AppTest against the recording fault server): each "Next" sends the script's
next prompt to every pane as if typed into the shared input; on stage the settings fold into one panel below."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from services.config import Deployment
from tests.fixtures.fault_server import FaultServer, Reply, Scenario, chat_chunks

SCRIPT = (
    "name: Launch demo\nmessages:\n"
    "  - role: user\n    content: Say hello.\n"
    "  - role: user\n    content: Name three colours.\n"
)


def _script() -> None:
    from pages.compare import render

    render()


@pytest.fixture
def scenarios(fault_server: FaultServer) -> dict[str, Scenario]:
    return {
        name: fault_server.scenario(Reply(sse=chat_chunks([f"{name} one."])), Reply(sse=chat_chunks([f"{name} two."])))
        for name in ("orion", "vega")
    }


@pytest.fixture
def prompts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "prompts"
    folder.mkdir()
    (folder / "launch-demo.prompt.yml").write_text(SCRIPT)
    monkeypatch.setenv("PLAYGROUND_PROMPTS_DIR", str(folder))
    return folder


def page(scenarios: dict[str, Scenario], *, on_stage: bool = False) -> AppTest:
    at = AppTest.from_function(_script, default_timeout=30)
    at.session_state["deployments_added"] = {
        name: Deployment(name=name, endpoint=s.endpoint, max_retries=0) for name, s in scenarios.items()
    }
    at.session_state["presenter_on"] = on_stage
    at.query_params["panes"] = "orion,vega"
    return at.run()


def user_messages(scenario: Scenario) -> list[list[str]]:
    bodies: list[dict[str, Any]] = [r.json() for r in scenario.requests if r.path.endswith("/chat/completions")]
    return [[m["content"] for m in body["messages"] if m["role"] == "user"] for body in bodies]


def test_two_clicks_send_each_prompt_of_the_script_to_both_panes(scenarios: dict[str, Scenario], prompts: Path) -> None:
    at = page(scenarios)
    assert all(b.key != "compare_demo_next" for b in at.button)  # no script chosen: no "Next"
    at.selectbox(key="compare_demo_pick").set_value("launch-demo.prompt.yml").run()
    assert not at.exception, at.exception
    assert at.button(key="compare_demo_next").label == "Next: Say hello\\."
    at.button(key="compare_demo_next").click().run()
    assert not at.exception, at.exception
    assert at.button(key="compare_demo_next").label == "Next: Name three colours\\."
    at.button(key="compare_demo_next").click().run()
    assert not at.exception, at.exception
    for name, scenario in scenarios.items():
        assert user_messages(scenario) == [["Say hello."], ["Say hello.", "Name three colours."]], name
    texts = [m.value for m in at.markdown]
    for answer in ("orion one.", "orion two.", "vega one.", "vega two."):
        assert answer in texts
    assert [t.prompt for t in at.session_state["compare.state"].turns] == ["Say hello.", "Name three colours."]
    assert any("Demo script finished: all 2 prompts sent." in c.value for c in at.caption)
    assert at.chat_input(key="compare.input").value is None  # nothing was typed: the script sent it


def test_next_is_disabled_while_a_settings_mistake_blocks_sending(
    scenarios: dict[str, Scenario], prompts: Path
) -> None:
    at = page(scenarios)
    at.selectbox(key="compare_demo_pick").set_value("launch-demo.prompt.yml").run()
    assert not at.button(key="compare_demo_next").disabled
    at.text_area(key="compare.shared.model_extras").input('{"top_k": 7,}').run()
    assert at.chat_input(key="compare.input").disabled
    assert at.button(key="compare_demo_next").disabled
    at.text_area(key="compare.shared.model_extras").input("").run()
    at.button(key="compare_demo_next").click().run()
    for scenario in scenarios.values():
        assert user_messages(scenario) == [["Say hello."]]


SETTINGS = ["Shared system prompt and parameters", "Tool calls: built-in tools and canned results", "Demo script"]


def test_on_stage_the_settings_fold_into_one_panel_below_the_panes(
    scenarios: dict[str, Scenario], prompts: Path
) -> None:
    backstage = page(scenarios)
    assert [e.label for e in backstage.expander][:3] == SETTINGS
    assert all(e.label != "Settings" for e in backstage.expander)
    at = page(scenarios, on_stage=True)
    assert not at.exception, at.exception
    [stage] = [e for e in at.expander if e.label == "Settings"]
    assert [e.label for e in stage.expander] == SETTINGS
    # Below the panes: among the page's top-level blocks, the one holding the panes comes before the folded settings.
    nodes = list(at.main.children.values())
    panes_at = next(
        i for i, n in enumerate(nodes) if any(b.key == "compare.p1.remove" for b in getattr(n, "button", []))
    )
    settings_at = next(i for i, n in enumerate(nodes) if getattr(n, "label", None) == "Settings")
    assert panes_at < settings_at
    stage.selectbox(key="compare_demo_pick").set_value("launch-demo.prompt.yml").run()
    at.button(key="compare_demo_next").click().run()
    assert not at.exception, at.exception
    for scenario in scenarios.values():
        assert user_messages(scenario) == [["Say hello."]]
