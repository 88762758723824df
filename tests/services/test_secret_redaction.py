"""Secrets are the key, the Entra token and every extra header value: held as SecretStr, sent on the wire, and
masked in every error, even when the endpoint echoes the request headers back in its error body."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from services.client import InferenceClient
from services.compare_export import export_html
from services.compare_model import PaneReply, Turn
from services.config import ConfigError, Deployment, load_settings
from services.errors import InferenceError, redact_text
from services.retry import RetryPolicy
from services.store.conversations import ConversationStore, new_conversation_id
from services.transcript import ChatTurn, Transcript, to_json, to_markdown
from tests.fixtures.fault_server import ECHO_HEADERS, FaultServer, Reply, chat_chunks

KEY = "SECRET-KEY-MARKER-1"
HEADER = "SECRET-HEADER-MARKER-2"
TOKEN = "SECRET-TOKEN-MARKER-3"
MARKERS = (KEY, HEADER, TOKEN)
FAST = RetryPolicy(backoff_base=0.01, backoff_cap=0.05)
HI = [{"role": "user", "content": "hi"}]


class StubCredential:
    """A credential like azure-identity's whose token is a marker (nothing reaches Azure from here)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        class Token:
            token = TOKEN
            expires_on = 4_102_444_800

        return Token()


def assert_clean(*texts: str | bytes) -> None:
    for text in texts:
        data = text.encode() if isinstance(text, str) else text
        for marker in MARKERS:
            assert marker.encode() not in data, f"{marker} leaked into {data[:400]!r}"


def keyed(endpoint: str, **fields: Any) -> Deployment:
    values: dict[str, Any] = {
        "name": "leaky",
        "endpoint": endpoint,
        "key": KEY,
        "key_source": "environment",
        "extra_headers": {"x-custom": HEADER},
        "max_retries": 0,
    }
    return Deployment(**(values | fields))


def entra(endpoint: str) -> Deployment:
    return Deployment(
        name="leaky-entra", endpoint=endpoint, auth="entra", extra_headers={"x-custom": HEADER}, max_retries=0
    )


def failure(deployment: Deployment, call: str = "chat") -> InferenceError:
    client = InferenceClient(deployment, retry_policy=FAST, credential=StubCredential())
    with pytest.raises(InferenceError) as info:
        if call == "stream":
            with client.stream_chat(HI) as stream:
                list(stream)
        elif call == "embed":
            client.embed(["a"])
        else:
            client.chat(HI)
    client.close()
    return info.value


def error_texts(error: InferenceError) -> list[str]:
    """Everything about an error that could end up on a page, in a log or an export."""
    return [str(error), repr(error), error.message, *(str(arg) for arg in error.args), repr(vars(error))]


# --- configuration ------------------------------------------------------------------------------------------------


def test_header_values_are_secrets_from_the_file_the_secrets_file_and_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "deployments.toml"
    config.write_text('[deployments.phi4]\nendpoint = "https://x.y"\nextra_headers = { "x-file" = "from-file" }\n')
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[deployments.phi4]\nextra_headers = { "x-secret" = "from-secrets" }\n')
    env = {
        "PLAYGROUND_SECRETS": str(secrets),
        "PLAYGROUND_DEPLOYMENTS__PHI4__EXTRA_HEADERS__X_CUSTOM": HEADER,
        "PLAYGROUND_DEPLOYMENTS__OTHER__ENDPOINT": "https://o.p",
        "PLAYGROUND_DEPLOYMENTS__OTHER__EXTRA_HEADERS": '{"x-json": "from-json"}',
    }
    deployments = load_settings(config, environ=env).deployments
    phi4, other = deployments["phi4"], deployments["other"]
    # Header tables merge: the file's, the secrets file's, then the environment's.
    assert phi4.header_values() == {"x-file": "from-file", "x-secret": "from-secrets", "X_CUSTOM": HEADER}
    assert other.header_values() == {"x-json": "from-json"}
    for deployment in (phi4, other):
        assert_clean(repr(deployment), str(deployment), deployment.model_dump_json(), repr(deployment.model_dump()))
    for value in ("from-secrets", "from-json"):
        assert value not in repr(deployments) and value not in phi4.model_dump_json() + other.model_dump_json()


def test_deployments_differing_only_in_a_header_value_are_different() -> None:
    one = Deployment(name="a", endpoint="https://x.y", extra_headers={"x": "value-one"})
    same = Deployment(name="a", endpoint="https://x.y", extra_headers={"x": "value-one"})
    two = Deployment(name="a", endpoint="https://x.y", extra_headers={"x": "value-two"})
    assert one == same and hash(one) == hash(same) and {one: 1}[same] == 1
    assert one != two
    assert one.model_dump_json() == two.model_dump_json()  # the JSON masks both values


def test_a_bad_extra_headers_value_is_refused_without_showing_it(tmp_path: Path) -> None:
    config = tmp_path / "deployments.toml"
    config.write_text(f'[deployments.phi4]\nendpoint = "https://x.y"\nextra_headers = "{HEADER}"\n')
    with pytest.raises(ConfigError, match="extra_headers") as info:
        load_settings(config, environ={})
    assert_clean(str(info.value))


# --- errors from an endpoint that echoes the request headers --------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"error": {"code": "BadRequest", "message": f"bad request; you sent {ECHO_HEADERS}"}}),
        (401, {"statusCode": 401, "message": f"Auth token invalid: {ECHO_HEADERS}"}),
        (404, {"error": {"code": "NotFound", "message": ECHO_HEADERS}}),
        (
            422,
            {
                "detail": [
                    {"loc": ["body", "seed"], "msg": ECHO_HEADERS, "type": "invalid_input", "input": ECHO_HEADERS}
                ]
            },
        ),
        (429, {"error": {"code": "429", "message": ECHO_HEADERS}}),
        (500, {"error": {"code": "InternalServerError", "message": ECHO_HEADERS}}),
        (
            400,
            {
                "error": {
                    "code": "content_filter",
                    "message": ECHO_HEADERS,
                    "innererror": {"content_filter_result": {"hate": {"filtered": True, "severity": ECHO_HEADERS}}},
                }
            },
        ),
    ],
    ids=["400", "401", "404", "422", "429", "500", "content-filter"],
)
@pytest.mark.parametrize("auth", ["key", "entra"])
def test_echoed_headers_are_masked_in_every_error(
    fault_server: FaultServer, status: int, body: dict, auth: str
) -> None:
    scenario = fault_server.scenario(Reply(status=status, json=body))
    deployment = keyed(scenario.endpoint) if auth == "key" else entra(scenario.endpoint)
    error = failure(deployment)
    [request] = scenario.requests
    # The secrets did go on the wire (so the echo carried them back) ...
    assert request.headers["x-custom"] == HEADER
    assert request.headers["authorization"] == f"Bearer {KEY if auth == 'key' else TOKEN}"
    # ... and none of them is in anything the error says.
    assert_clean(*error_texts(error))
    assert "***" in error.message


def test_echoed_headers_in_a_plain_text_body_are_masked(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(status=403, text=f"forbidden {ECHO_HEADERS}"))
    assert_clean(*error_texts(failure(keyed(scenario.endpoint))))


def test_a_secret_where_a_long_message_is_cut_shows_no_part_of_itself(fault_server: FaultServer) -> None:
    # The message is cut to one line of 300 characters, here right inside the echoed header value.
    filler = "x" * (300 - len("request rejected: ") - 10)
    body = {"error": {"code": "Bad", "message": filler + HEADER + " and more" * 10}}
    error = failure(keyed(fault_server.scenario(Reply(status=400, json=body)).endpoint))
    assert error.message.endswith("…") and "***" in error.message
    for text in error_texts(error):
        assert HEADER[:4] not in text


def test_echoed_headers_in_a_malformed_success_body_are_masked(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(status=200, text=f"{ECHO_HEADERS} not json"))
    error = failure(keyed(scenario.endpoint), call="embed")
    assert "not a JSON object" in error.message
    assert_clean(*error_texts(error))


def test_echoed_headers_in_a_stream_error_event_are_masked(fault_server: FaultServer) -> None:
    events = [*chat_chunks(["Hel"], done=False)[:2], {"error": {"code": "Boom", "message": ECHO_HEADERS}}]
    scenario = fault_server.scenario(Reply(sse=events))
    error = failure(entra(scenario.endpoint), call="stream")
    assert_clean(*error_texts(error))


def test_a_cut_secret_is_masked_before_a_closing_quote() -> None:
    assert redact_text(f"chunk: '{HEADER[:9]}'", [HEADER]) == "chunk: '***'"
    assert redact_text(f"{HEADER} and {KEY[:6]}…", [HEADER, KEY]) == "*** and ***…"
    assert redact_text("a short secret like abc is left alone", ["abc"]) == "a short secret like abc is left alone"


# --- where errors go: exports and the conversation store ----------------------------------------------------------


def test_errors_from_an_echoing_endpoint_reach_no_export_or_store(fault_server: FaultServer, tmp_path: Path) -> None:
    echo = Reply(status=401, json={"message": f"denied {ECHO_HEADERS}"})
    keyed_error = failure(keyed(fault_server.scenario(echo).endpoint))
    entra_error = failure(entra(fault_server.scenario(echo).endpoint))
    deployments = {"leaky": keyed("https://x.y"), "leaky-entra": entra("https://x.y")}
    # The way the pages keep them: an error card's text next to the turn, a compare pane's error.
    turn = Turn(
        prompt="hello",
        replies={
            "a": PaneReply(pane_id="a", deployment="leaky", text="", status="error", error=keyed_error),
            "b": PaneReply(pane_id="b", deployment="leaky-entra", text="", status="error", error=entra_error),
        },
    )
    names = {"a": "leaky", "b": "leaky-entra"}
    page = export_html([turn], ["a", "b"], names, deployments, now=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    assert "denied" in page
    transcript = Transcript(
        deployment="leaky",
        messages=[ChatTurn(role="user", content="hello"), ChatTurn(role="assistant", content=str(keyed_error))],
    )
    store_path = tmp_path / "conversations.sqlite"
    store = ConversationStore(store_path)
    conversation_id = new_conversation_id()
    store.save(conversation_id, to_json(transcript))
    assert store.load(conversation_id) == to_json(transcript)
    stored = [path.read_bytes() for path in tmp_path.glob("conversations.sqlite*")]
    assert_clean(page, to_json(transcript), to_markdown(transcript), *stored)


def test_compare_export_masks_header_values_typed_into_a_prompt() -> None:
    turn = Turn(prompt=f"my header is {HEADER}", replies={"a": PaneReply("a", "leaky", f"echo {HEADER}", "done")})
    page = export_html([turn], ["a"], {"a": "leaky"}, {"leaky": keyed("https://x.y")})
    assert_clean(page)
    assert "my header is •••" in page
