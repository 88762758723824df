"""The compare page opened without panes in its URL picks its default panes among deployments that answer (the
cached status check), and falls back to the sidebar's choice when none is known to answer."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from app.state import refresh_status
from services.config import Deployment
from tests.fixtures.fault_server import FaultServer, Reply, closed_port

INFO = {"model_name": "up-model", "model_type": "chat-completion", "model_provider_name": "Loopback"}


def _script() -> None:
    from pages.compare import render

    render()


@pytest.fixture(autouse=True)
def fresh_status():
    refresh_status()  # the status cache is the process's: an earlier test's answers must not count
    yield
    refresh_status()


def open_compare(deployments: dict[str, Deployment]) -> AppTest:
    at = AppTest.from_function(_script, default_timeout=30)
    at.session_state["deployments_added"] = deployments
    return at.run()


def pane_deployments(at: AppTest) -> list[str]:
    return [pane.deployment for pane in at.session_state["compare.state"].panes]


def test_default_panes_skip_a_deployment_on_a_closed_port(fault_server: FaultServer):
    up = fault_server.scenario(Reply(json=INFO))
    at = open_compare(
        {
            "down": Deployment(name="down", endpoint=f"http://127.0.0.1:{closed_port()}", max_retries=0),
            "up": Deployment(name="up", endpoint=up.endpoint, max_retries=0),
        }
    )
    assert not at.exception, at.exception
    assert pane_deployments(at) == ["up", "up"]
    assert any(r.path.endswith("/info") for r in up.requests)


def test_the_sidebar_choice_stays_when_it_answers(fault_server: FaultServer):
    first = fault_server.scenario(Reply(json=INFO))
    second = fault_server.scenario(Reply(json=INFO))
    at = open_compare(
        {
            "first": Deployment(name="first", endpoint=first.endpoint, max_retries=0),
            "second": Deployment(name="second", endpoint=second.endpoint, max_retries=0),
        }
    )
    assert pane_deployments(at) == ["first", "first"]


def test_with_none_answering_the_panes_are_as_before():
    at = open_compare(
        {
            "down1": Deployment(name="down1", endpoint=f"http://127.0.0.1:{closed_port()}", max_retries=0),
            "down2": Deployment(name="down2", endpoint=f"http://127.0.0.1:{closed_port()}", max_retries=0),
        }
    )
    assert not at.exception, at.exception
    assert pane_deployments(at) == ["down1", "down1"]


def test_panes_in_the_url_are_kept_and_nothing_is_checked(fault_server: FaultServer):
    up = fault_server.scenario(Reply(json=INFO))
    at = AppTest.from_function(_script, default_timeout=30)
    at.session_state["deployments_added"] = {
        "down": Deployment(name="down", endpoint=f"http://127.0.0.1:{closed_port()}", max_retries=0),
        "up": Deployment(name="up", endpoint=up.endpoint, max_retries=0),
    }
    at.query_params["panes"] = "down,up"
    at.run()
    assert pane_deployments(at) == ["down", "up"]
    assert up.requests == []
