"""The probe against a real loopback server scripted to fail: 503s, rate limits, silence, a dropped stream."""

from __future__ import annotations

import time

from services.config import Deployment
from services.probe import Status, check_all, probe_all
from tests.fixtures.fault_server import FaultServer, Reply, chat_body, chat_chunks, completion_body


def _deployment(name: str, endpoint: str) -> Deployment:
    return Deployment(name=name, endpoint=endpoint, max_retries=3)


def test_server_error_on_the_first_request_gives_unknown_everywhere_without_retrying(
    fault_server: FaultServer,
) -> None:
    scenario = fault_server.scenario(Reply(status=503, json={"error": {"code": "Busy", "message": "overloaded"}}))
    report = probe_all([_deployment("busy", scenario.endpoint)])["busy"]
    assert {r.status for r in report.results.values()} == {Status.UNKNOWN}
    assert "503" in report.results["chat"].detail
    # Retries are off while probing and nothing else is tried once the endpoint fails.
    assert len(scenario.requests) == 1


def test_rate_limit_is_unknown_with_the_reason(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(
        Reply(status=429, json={"error": {"code": "429", "message": "slow down"}}, headers={"retry-after": "30"})
    )
    report = probe_all([_deployment("limited", scenario.endpoint)])["limited"]
    assert report.status("chat") is Status.UNKNOWN
    assert "429" in report.results["chat"].detail
    assert len(scenario.requests) == 1


def test_silent_endpoint_times_out_per_request_and_the_others_still_answer(fault_server: FaultServer) -> None:
    silent = fault_server.scenario(Reply(json=chat_body(), first_byte_delay=2.0))
    fine = fault_server.scenario(Reply(json=chat_body("{}")))
    started = time.perf_counter()
    reports = probe_all([_deployment("silent", silent.endpoint), _deployment("fine", fine.endpoint)], timeout_s=0.5)
    assert time.perf_counter() - started < 1.8
    assert {r.status for r in reports["silent"].results.values()} == {Status.UNKNOWN}
    assert reports["silent"].results["chat"].detail
    # The scripted deployment answers every chat the same, so every chat-side capability is accepted.
    assert reports["fine"].status("chat") is Status.SUPPORTED
    assert reports["fine"].status("seed") is Status.SUPPORTED


def test_a_stream_that_breaks_is_not_called_supported(fault_server: FaultServer) -> None:
    # Chat answers; the stream (and everything else) gets a stream that is cut after its first event.
    scenario = fault_server.scenario(
        Reply(json=chat_body("{}")),
        Reply(sse=chat_chunks(["{", "}"]), drop_after=1),
    )
    report = probe_all([_deployment("flaky", scenario.endpoint)])["flaky"]
    assert report.status("chat") is Status.SUPPORTED
    assert report.status("streaming") is Status.UNKNOWN
    assert report.results["streaming"].detail


def test_check_reports_reachability_and_round_trip(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(
        Reply(json={"model_name": "fault-model", "model_type": "chat-completion", "model_provider_name": "Tests"})
    )
    broken = fault_server.scenario(Reply(status=500, text="boom"))
    statuses = check_all([_deployment("ok", scenario.endpoint), _deployment("broken", broken.endpoint)])
    ok = statuses["ok"]
    assert ok.reachable and ok.info is not None and ok.info.model_name == "fault-model"
    assert ok.round_trip_s is not None and ok.round_trip_s < 5
    assert scenario.requests[0].path == "/info"
    assert "api-version=2024-05-01-preview" in scenario.requests[0].query
    # A 500 is an answer: reachable, but the error is shown.
    assert statuses["broken"].reachable
    assert statuses["broken"].error and "500" in statuses["broken"].error


def test_a_served_completions_route_is_text_completion_supported(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(json=chat_body("{}")), Reply(json=completion_body(" {}", finish="length")))
    report = probe_all([_deployment("both", scenario.endpoint)])["both"]
    assert report.status("text_completion") is Status.SUPPORTED
    [sent] = [r for r in scenario.requests if r.path == "/completions"]
    assert sent.json()["max_tokens"] == 1 and isinstance(sent.json()["prompt"], str)


def test_completions_answered_405_or_404_is_not_supported(fault_server: FaultServer) -> None:
    refused = fault_server.scenario(Reply(json=chat_body("{}")), Reply(status=405, text="Method Not Allowed"))
    missing = fault_server.scenario(Reply(json=chat_body("{}")), Reply(status=404, text="NOT FOUND"))
    reports = probe_all([_deployment("refused", refused.endpoint), _deployment("missing", missing.endpoint)])
    for name in ("refused", "missing"):
        assert reports[name].status("text_completion") is Status.NOT_SUPPORTED
        assert "/completions" in reports[name].results["text_completion"].detail
