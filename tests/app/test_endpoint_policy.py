""" "Add deployment" under PLAYGROUND_USER_ENDPOINTS: internal hosts refused in words, with nothing sent to them."""

from __future__ import annotations

import time
from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from tests.fixtures.app_server import local_deployments_toml
from tests.fixtures.counting_server import CountingServer


def _add(at: AppTest, name: str, endpoint: str) -> str:
    at.sidebar.text_input(key="add_name").input(name)
    at.sidebar.text_input(key="add_endpoint").input(endpoint)
    [submit] = [button for button in at.sidebar.button if button.label == "Check and add"]
    submit.click()
    at.run()
    assert not at.exception, at.exception
    return "\n".join(e.value for e in at.sidebar.error)


def test_public_only_refuses_a_loopback_endpoint_and_sends_it_nothing(
    app_with_config: Callable[..., AppTest], local_endpoint_url: str, counting_server: CountingServer
) -> None:
    at = app_with_config(local_deployments_toml(local_endpoint_url), PLAYGROUND_USER_ENDPOINTS="public-only")
    error = _add(at, "internal", f"http://127.0.0.1:{counting_server.port}/models")
    assert "loopback" in error and "PLAYGROUND_USER_ENDPOINTS=public-only" in error
    assert "internal" not in at.sidebar.selectbox(key="deployment_selected").options
    # The metadata service's address is judged without a packet being sent to it.
    error = _add(at, "metadata", "http://169.254.169.254/metadata/instance")
    assert "link-local" in error
    time.sleep(0.2)
    assert counting_server.connections == 0


def test_credentials_in_the_url_are_refused_under_any_policy(
    app_with_config: Callable[..., AppTest], local_endpoint_url: str, counting_server: CountingServer
) -> None:
    at = app_with_config(local_deployments_toml(local_endpoint_url), PLAYGROUND_USER_ENDPOINTS="any")
    error = _add(at, "creds", f"http://user:pw@127.0.0.1:{counting_server.port}")
    assert "must not carry a user name or password" in error
    assert counting_server.connections == 0


def test_any_lets_a_developer_add_a_local_server(
    app_with_config: Callable[..., AppTest], local_endpoint_url: str
) -> None:
    at = app_with_config(local_deployments_toml(local_endpoint_url), PLAYGROUND_USER_ENDPOINTS="any")
    assert _add(at, "mine", f"{local_endpoint_url}/smollm2-135m-instruct") == ""
    assert at.sidebar.selectbox(key="deployment_selected").value == "mine"


def test_off_hides_the_form(app_with_config: Callable[..., AppTest], local_endpoint_url: str) -> None:
    at = app_with_config(local_deployments_toml(local_endpoint_url), PLAYGROUND_USER_ENDPOINTS="off")
    assert not [w for w in at.sidebar.text_input if w.key == "add_endpoint"]
    assert "switched off on this server" in "\n".join(c.value for c in at.sidebar.caption)


def test_a_misspelt_policy_refuses_rather_than_opens(
    app_with_config: Callable[..., AppTest], local_endpoint_url: str
) -> None:
    at = app_with_config(local_deployments_toml(local_endpoint_url), PLAYGROUND_USER_ENDPOINTS="public")
    assert not [w for w in at.sidebar.text_input if w.key == "add_endpoint"]
    caption = "\n".join(c.value for c in at.sidebar.caption)
    assert "'public' is not one of off, public-only, any" in caption and "switched off until it is fixed" in caption
