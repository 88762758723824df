"""The guard at connection time and Stop at once, against real sockets on 127.0.0.1.

`public-only` is proved to refuse before any request with a server on loopback that counts connections: the guard
judges 127.0.0.1 and never dials it. Names are resolved by stubs, so nothing is looked up or sent beyond loopback.
"""

from __future__ import annotations

import threading
import time

import pytest

from services.client import InferenceClient
from services.config import Deployment
from services.errors import EndpointBlockedError, RedirectRefusedError
from services.netguard import AddressGuard, check_endpoint_url
from services.transport import CancelScope
from tests.fixtures.counting_server import CountingServer

HELLO = [{"role": "user", "content": "hi"}]


def _client(endpoint: str, guard: AddressGuard | None) -> InferenceClient:
    deployment = Deployment(name="visitor", endpoint=endpoint, max_retries=2, read_timeout=30)
    return InferenceClient(deployment, guard=guard)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"])
def test_public_only_refuses_a_loopback_endpoint_before_any_request(counting_server: CountingServer, host: str) -> None:
    client = _client(f"http://{host}:{counting_server.port}", AddressGuard("public-only"))
    with pytest.raises(EndpointBlockedError) as caught:
        client.chat(HELLO)
    with pytest.raises(EndpointBlockedError):
        client.info()
    assert "loopback" in str(caught.value) and "public-only" in str(caught.value)
    time.sleep(0.2)
    assert counting_server.connections == 0


def test_dns_rebinding_is_caught_at_connection_time(counting_server: CountingServer) -> None:
    answers = iter([["20.42.65.92"], ["127.0.0.1"]])  # public when the form checks, loopback when connecting

    def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    guard = AddressGuard("public-only", resolver=rebinding)
    endpoint = f"http://rebind.example.com:{counting_server.port}"
    check_endpoint_url(endpoint, guard)  # the early check sees the public answer and lets it through
    with pytest.raises(EndpointBlockedError, match=r"rebind.example.com \(127.0.0.1\) is a loopback"):
        _client(endpoint, guard).chat(HELLO)
    time.sleep(0.2)
    assert counting_server.connections == 0


def test_the_judged_address_is_the_one_dialled(local_endpoint_url: str) -> None:
    # Under `any` the stub's answer is used as it is: the name is never looked up again by the socket layer.
    port = local_endpoint_url.rsplit(":", 1)[1]
    guard = AddressGuard("any", resolver=lambda host, p: ["127.0.0.1"])
    client = _client(f"http://model.example.com:{port}/all-minilm-l6-v2", guard)
    assert client.info().model_name


def test_a_redirect_is_named_and_never_followed(counting_server: CountingServer) -> None:
    counting_server.reply = (
        b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://169.254.169.254/metadata/instance\r\n"
        b"Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    client = _client(f"http://127.0.0.1:{counting_server.port}", None)
    with pytest.raises(RedirectRefusedError) as caught:
        client.chat(HELLO)
    assert caught.value.location == "http://169.254.169.254/metadata/instance"
    assert "not followed" in str(caught.value)
    assert counting_server.connections == 1  # the one request; no second connection for the redirect


def test_cancel_closes_a_request_waiting_for_its_first_byte(counting_server: CountingServer) -> None:
    client = _client(f"http://127.0.0.1:{counting_server.port}", None)
    scope = CancelScope()
    outcome: list[BaseException | None] = []

    def call() -> None:
        with scope:
            try:
                client.stream_chat(HELLO)
                outcome.append(None)
            except BaseException as exc:
                outcome.append(exc)

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    deadline = time.monotonic() + 5
    while counting_server.connections == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # the request is sent and the client waits for the status line
    cancelled_at = time.monotonic()
    scope.cancel()
    worker.join(2.0)
    assert not worker.is_alive(), "the call should end as soon as it is cancelled"
    assert outcome and outcome[0] is not None  # no answer came, so the call ends in an error the caller ignores
    deadline = time.monotonic() + 2
    while not counting_server.closed_by_peer and time.monotonic() < deadline:
        time.sleep(0.01)
    assert counting_server.closed_by_peer, "the server should see the connection closed"
    assert counting_server.closed_by_peer[0] - cancelled_at < 1.0
    assert counting_server.connections == 1  # a cancelled call is not retried


INFO_REPLY = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 92\r\nConnection: close\r\n\r\n"
    b'{"model_name": "via-proxy", "model_type": "chat-completion", "model_provider_name": "Proxy"}'
)


def test_a_configured_deployment_goes_through_the_environments_proxy_and_a_guarded_one_never_does(
    counting_server: CountingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting_server.reply = INFO_REPLY  # the "proxy" answers the forwarded request itself
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{counting_server.port}")
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{counting_server.port}")
    # The name is never resolved here: the proxy is asked for it.
    assert _client("http://model.example.com/serverless", None).info().model_name == "via-proxy"
    assert counting_server.connections == 1
    guard = AddressGuard("public-only", resolver=lambda host, port: ["127.0.0.1"])
    with pytest.raises(EndpointBlockedError):
        _client("http://model.example.com/serverless", guard).info()
    time.sleep(0.2)
    assert counting_server.connections == 1  # the guarded client judged the host itself and sent nothing
