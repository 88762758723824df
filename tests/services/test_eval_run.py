"""The evaluation runner against real servers: the embedded endpoint (a whole run, judged, traced), the fault
server (429s, a dropped stream and a content-filter block mid-run: one cell each, never two), a run killed in a
subprocess and resumed without calling its saved cells again, and Cancel keeping what finished."""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from services import tracing
from services.config import Deployment
from services.eval_model import Row, Verdict
from services.eval_run import EvalRunner, resume
from services.netguard import AddressGuard
from services.prompt_model import Prompt, PromptMessage, PromptParameters
from services.retry import RetryPolicy
from services.store.eval_filter import CellFilter
from services.store.evals import EvalStore
from services.store.traces import TraceFilter, TraceStore
from tests.fixtures.fault_server import CONTENT_FILTER_BODY, FaultServer, Reply, Scenario, chat_chunks

ROOT = Path(__file__).resolve().parents[2]
CHAT = "smollm2-135m-instruct"
KEY = "sk-eval-test-0123456789"
FAST = RetryPolicy(backoff_base=0.01, backoff_cap=0.05)
PROMPT = Prompt(
    name="echo",
    messages=[PromptMessage(role="user", content="Say {{word}}")],
    parameters=PromptParameters(max_tokens=3, temperature=0),
)
OK = Reply(sse=chat_chunks(["fine"]))


class NonEmpty:
    """Passes any answer with text in it."""

    name = "non-empty"

    def evaluate(self, answer: str, row: Row) -> Verdict:
        return Verdict(self.name, bool(answer.strip()), reason="has text" if answer.strip() else "empty")


class Broken:
    """An evaluator with a bug: the runner keeps going and says so in the verdict."""

    name = "broken"

    def evaluate(self, answer: str, row: Row) -> Verdict:
        raise RuntimeError("no judge today")


def _rows(count: int) -> list[dict[str, str]]:
    return [{"word": f"w{index}"} for index in range(count)]


def _deployment(name: str, scenario: Scenario) -> Deployment:
    return Deployment(name=name, endpoint=scenario.endpoint, key=KEY, key_source="environment")


def _create(store: EvalStore, rows: list[dict[str, str]], names: list[str], owner: str | None = None) -> str:
    return store.create_run(
        name="test run",
        prompt=PROMPT,
        dataset_name="words.csv",
        dataset_digest="sha256:0",
        rows=rows,
        deployments=names,
        owner=owner,
    )


def _words(scenario: Scenario) -> list[str]:
    """The row each whole request to the scenario was for ("w3" for row 3). A request the kill of the process
    sending it cut short (no body, or half of one) is not a call: no runner sent it whole."""
    words = []
    for request in scenario.requests:
        try:
            words.append(request.json()["messages"][0]["content"].removeprefix("Say "))
        except ValueError:
            continue
    return words


def test_a_run_on_the_embedded_endpoint_judges_stores_and_traces_every_cell(
    local_deployments: dict[str, Deployment],
) -> None:
    store = EvalStore()
    smollm = local_deployments[CHAT]
    deployments = {CHAT: smollm, "smollm-again": smollm.model_copy(update={"name": "smollm-again"})}
    rows = [*_rows(3), {"word": "forbiddenfruit"}]  # the embedded endpoint's blocklist: a content-filter error
    run_id = _create(store, rows, list(deployments), owner="ann@example.com")
    runner = EvalRunner(
        store, run_id, PROMPT, rows, deployments, {"smollm-again": {"seed": 7}}, [NonEmpty(), Broken()], 2
    )
    assert runner.start().wait(timeout=120), "the run did not end"
    progress = runner.progress()
    assert (progress.status, progress.done, progress.total, progress.errors, progress.eta_s) == (
        "finished", 8, 8, 2, 0.0
    )  # fmt: skip
    assert store.load_run(run_id).status == "finished"  # type: ignore[union-attr]
    cells = store.cells(run_id, limit=50)
    assert [(c.row_index, c.deployment) for c in cells] == [(r, d) for r in range(4) for d in sorted(deployments)]
    for cell in cells[:6]:
        assert cell.answer and cell.error is None and 0 < (cell.output_tokens or 0) <= 3 and cell.latency_s
        assert cell.verdicts[0] == Verdict("non-empty", True, reason="has text")
        assert cell.verdicts[1].passed is None and "The evaluator failed: no judge today" in cell.verdicts[1].reason
    for cell in cells[6:]:
        assert cell.answer is None and cell.verdicts == [] and cell.error_type == "ContentFilterError"
        assert cell.error.startswith("The prompt was blocked by the content filter.")  # type: ignore[union-attr]
    summary = {s.deployment: s for s in store.summary(run_id)}
    assert summary[CHAT].calls == 4 and summary[CHAT].errors == 1 and summary[CHAT].pass_rates["non-empty"] == 1.0
    assert tracing.flush(10), "the trace writer did not catch up"
    traces = TraceStore().traces(TraceFilter(owner="ann@example.com"))
    assert len(traces) == 1 and (traces[0]["page"], traces[0]["action"]) == ("evals", "evaluation test run")
    assert traces[0]["spans"] == 8 and traces[0]["errors"] == 2 and set(traces[0]["deployments"]) == set(deployments)
    assert {cell.trace_id for cell in cells} == {traces[0]["trace_id"]}  # the cells link to the run's trace
    seeds = [span["request"] for span in TraceStore().spans(traces[0]["trace_id"])]
    assert sum('"seed": 7' in text for text in seeds) == 4  # the override went to its deployment only


def test_429s_a_dropped_stream_and_a_blocked_row_leave_exactly_one_cell_each(fault_server: FaultServer) -> None:
    cut = Reply(sse=chat_chunks(["par", "tial", "answer"]), drop_after=2)
    limited = Reply(status=429, json={"error": {"code": "429", "message": "slow down"}}, headers={"Retry-After": "0"})
    blocked = Reply(status=400, json=CONTENT_FILTER_BODY)
    first = fault_server.scenario(OK, limited, OK, cut, OK)
    second = fault_server.scenario(OK, limited, limited, blocked, OK)
    store = EvalStore()
    rows = _rows(8)
    run_id = _create(store, rows, ["first", "second"])
    deployments = {"first": _deployment("first", first), "second": _deployment("second", second)}
    status = EvalRunner(store, run_id, PROMPT, rows, deployments, None, [NonEmpty()], 3, retry_policy=FAST).run()
    assert status == "finished"
    assert store.count_cells(run_id) == 16 and store.done_cells(run_id) == {
        (r, d) for r in range(8) for d in deployments
    }
    # Each 429 and the dropped stream were sent again, nothing else.
    assert len(first.requests) == 8 + 2 and len(second.requests) == 8 + 2
    sent = collections.Counter(_words(first))
    # (The 429's second try may be the call that drops: then one row is sent three times.)
    assert set(sent) == {f"w{i}" for i in range(8)} and sorted(sent.values())[:6] == [1] * 6
    errors = store.cells(run_id, CellFilter(errors=True))
    assert [(c.deployment, c.error_type) for c in errors] == [("second", "ContentFilterError")]
    assert all(KEY not in (c.error or "") for c in errors)
    assert all(c.answer == "fine" for c in store.cells(run_id) if c.deployment == "first")  # no partial answer kept
    assert store.summary(run_id)[0].errors == 0 and store.summary(run_id)[0].passed == 8


def test_a_stream_dropped_twice_for_one_row_is_that_cells_error_and_the_run_goes_on(
    fault_server: FaultServer,
) -> None:
    cut = Reply(sse=chat_chunks(["par", "tial", "answer"]), drop_after=2)
    scenario = fault_server.scenario(OK, cut, OK, cut, cut, OK)  # row 1 drops once, row 2 twice
    store = EvalStore()
    rows = _rows(4)
    run_id = _create(store, rows, ["only"])
    deployments = {"only": _deployment("only", scenario)}
    assert EvalRunner(store, run_id, PROMPT, rows, deployments, None, [NonEmpty()], 1, retry_policy=FAST).run() == (
        "finished"
    )
    assert _words(scenario) == ["w0", "w1", "w1", "w2", "w2", "w3"]
    cells = {cell.row_index: cell for cell in store.cells(run_id)}
    assert [cells[i].answer for i in (0, 1, 3)] == ["fine"] * 3
    assert cells[2].answer is None and cells[2].error_type == "StreamInterruptedError"
    assert cells[2].error.startswith("The answer from only was cut off.")  # type: ignore[union-attr]


RESUME_SCRIPT = """
import json, sys
from services.config import Deployment
from services.eval_run import resume
from services.store.evals import EvalStore
settings = json.loads(sys.argv[1])
deployments = {
    name: Deployment(name=name, endpoint=endpoint, key=settings["key"], key_source="environment")
    for name, endpoint in settings["endpoints"].items()
}
resume(EvalStore(), settings["run_id"], deployments, [], 2).run()
"""


def test_a_run_killed_in_another_process_resumes_without_calling_its_saved_cells_again(
    fault_server: FaultServer, tmp_path: Path
) -> None:
    slow = Reply(sse=chat_chunks(["slow"]), first_byte_delay=0.25)
    scenarios = {"one": fault_server.scenario(slow), "two": fault_server.scenario(slow)}
    store = EvalStore()
    rows = _rows(12)
    run_id = _create(store, rows, list(scenarios))
    settings = {"run_id": run_id, "key": KEY, "endpoints": {n: s.endpoint for n, s in scenarios.items()}}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-c", RESUME_SCRIPT, json.dumps(settings)], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 60
        while store.count_cells(run_id) < 6:
            assert process.poll() is None, "the run ended before it was killed"
            assert time.monotonic() < deadline, "no cells were saved"
            time.sleep(0.02)
    finally:
        process.kill()
        process.wait(10)
    # Requests already on the wire reach the server and are counted: wait until the counts stay put for 0.3 s.
    counts, settled = None, time.monotonic()
    while time.monotonic() - settled < 0.3:
        now = [len(s.requests) for s in scenarios.values()]
        if now != counts:
            counts, settled = now, time.monotonic()
        time.sleep(0.02)
    saved = store.done_cells(run_id)
    before = {name: len(_words(s)) for name, s in scenarios.items()}
    assert 6 <= len(saved) < 24 and store.load_run(run_id).status == "running"  # type: ignore[union-attr]
    deployments = {name: _deployment(name, s) for name, s in scenarios.items()}
    assert resume(store, run_id, deployments, [NonEmpty()], 2).run() == "finished"
    assert store.count_cells(run_id) == 24
    for name, scenario in scenarios.items():
        again = _words(scenario)[before[name] :]
        not_saved = {f"w{r}" for r in range(12) if (r, name) not in saved}
        assert sorted(again) == sorted(not_saved)  # each unsaved cell called once more, no saved cell called again
        assert len(_words(scenario)) - before[name] == 12 - sum(1 for _, d in saved if d == name)


def test_cancel_keeps_the_finished_cells_and_marks_the_run_cancelled(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(sse=chat_chunks(["ok"]), first_byte_delay=0.2))
    store = EvalStore()
    rows = _rows(30)
    run_id = _create(store, rows, ["slow"])
    runner = EvalRunner(store, run_id, PROMPT, rows, {"slow": _deployment("slow", scenario)}, None, [NonEmpty()], 2)
    runner.start()
    deadline = time.monotonic() + 30
    while runner.progress().done < 3:
        assert time.monotonic() < deadline, "no cell finished"
        time.sleep(0.01)
    running = runner.progress()
    assert running.status == "running" and running.eta_s is not None and running.eta_s > 0
    runner.cancel()
    assert runner.wait(timeout=10)
    progress = runner.progress()
    assert progress.status == "cancelled" and 3 <= progress.done < 30
    assert store.load_run(run_id).status == "cancelled"  # type: ignore[union-attr]
    # The calls under way when Cancel came finished and were saved: every request sent has its cell.
    assert store.count_cells(run_id) == progress.done == len(scenario.requests)


def test_cancel_with_abandon_drops_calls_under_way_without_saving_them(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(sse=chat_chunks(["late"]), first_byte_delay=3.0))
    store = EvalStore()
    rows = _rows(4)
    run_id = _create(store, rows, ["stuck"])
    runner = EvalRunner(store, run_id, PROMPT, rows, {"stuck": _deployment("stuck", scenario)}, None, [], 2)
    runner.start()
    deadline = time.monotonic() + 10
    while len(scenario.requests) < 2:
        assert time.monotonic() < deadline, "the calls were not sent"
        time.sleep(0.01)
    started = time.monotonic()
    runner.cancel(abandon=True)
    assert runner.wait(timeout=2.5) and time.monotonic() - started < 2.5  # not held up by the 3 s answers
    assert runner.progress().status == "cancelled" and store.count_cells(run_id) == 0


def test_a_row_the_prompt_cannot_use_is_that_cells_error_and_no_call_is_made(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(OK)
    store = EvalStore()
    rows: list[dict[str, Any]] = [{"word": "fine"}, {"other": "no word"}]
    run_id = _create(store, rows, ["d"])
    assert EvalRunner(store, run_id, PROMPT, rows, {"d": _deployment("d", scenario)}).run() == "finished"
    bad = store.cells(run_id, CellFilter(errors=True))
    assert [c.row_index for c in bad] == [1] and "row 2" in (bad[0].error or "") and "word" in (bad[0].error or "")
    assert len(scenario.requests) == 1


@pytest.mark.parametrize("concurrency", [0])
def test_a_runner_needs_a_stored_run_and_a_positive_concurrency(concurrency: int) -> None:
    store = EvalStore()
    with pytest.raises(ValueError, match="No evaluation run"):
        EvalRunner(store, "x" * 22, PROMPT, [], {})
    run_id = _create(store, _rows(1), ["d"])
    with pytest.raises(ValueError, match="at least 1"):
        EvalRunner(store, run_id, PROMPT, _rows(1), {}, concurrency_per_deployment=concurrency)


def test_a_guard_refusing_a_deployments_address_stores_its_words_and_sends_that_server_nothing(
    fault_server: FaultServer,
) -> None:
    refused, allowed = fault_server.scenario(OK), fault_server.scenario(OK)
    store = EvalStore()
    rows = _rows(3)
    run_id = _create(store, rows, ["added", "configured"])
    deployments = {"added": _deployment("added", refused), "configured": _deployment("configured", allowed)}
    guards = {"added": AddressGuard("public-only"), "configured": None}
    runner = EvalRunner(store, run_id, PROMPT, rows, deployments, None, [NonEmpty()], 2, guards=guards)
    assert runner.run() == "finished"
    cells = store.cells(run_id, limit=50)
    blocked = [c for c in cells if c.deployment == "added"]
    assert len(blocked) == 3 and all(c.answer is None and c.error_type == "EndpointBlockedError" for c in blocked)
    assert all("127.0.0.1" in (c.error or "") and "loopback" in (c.error or "") for c in blocked)
    assert all(c.ok for c in cells if c.deployment == "configured")
    assert refused.requests == [] and len(allowed.requests) == 3
