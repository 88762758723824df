"""The evaluation runner: one prompt over every dataset row on each deployment, judged and stored cell by cell.

Each deployment gets its own worker threads (`concurrency_per_deployment` of them), so one slow or rate-limited
deployment neither holds up nor starves the others; the client's own retries and 429 handling apply to every call.
Each finished cell is judged by the evaluators and saved at once (services.store.evals), so Cancel, a kill or a
restart keeps what finished, and a runner started again on the same run calls only the cells not stored yet. An
error on one cell (a rejected parameter, a content-filter block, a timeout) is stored as that cell's error, in the
error card's words (services.error_words), and the run goes on. Only counters stay in memory: answers are read
back from the store, a page at a time.

The calls of a run share one trace (a tracing action per run) on the page "evals", under the run's owner.
"""

from __future__ import annotations

import collections
import contextvars
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services import tracing
from services.client import InferenceClient
from services.config import Deployment
from services.error_words import error_text
from services.errors import EndpointUnavailableError, InferenceError, StreamInterruptedError, redact_text
from services.eval_model import CellResult, Evaluator, Row, Verdict
from services.metrics import cost as usage_cost
from services.netguard import AddressGuard
from services.prompt_model import Prompt, PromptError
from services.prompt_render import render_messages
from services.prompts import chat_parameters
from services.retry import RetryPolicy
from services.store.evals import EvalStore
from services.transport import CancelScope

PAGE = "evals"
DEFAULT_CONCURRENCY = 4
STREAM_RETRIES = 1  # a dropped stream is called once more before the cell records the drop
# How often a run whose calls are all slow tells the store it is alive (well under store.evals.STALE_AFTER_S).
HEARTBEAT_S = 30.0


@dataclass(frozen=True)
class EvalProgress:
    """How far a run is: cells done of total (stored ones from before a resume included), errors and failed checks
    among them, seconds since start() and an estimate of the seconds left (None until a cell finished)."""

    done: int
    total: int
    errors: int
    failures: int
    elapsed_s: float
    eta_s: float | None
    status: str  # running | finished | cancelled | interrupted


def error_type(err: BaseException) -> str:
    """A cell's short error type: the error class's name, or "timeout" for a connect or read timeout."""
    if isinstance(err, EndpointUnavailableError) and "timeout" in err.reason:
        return "timeout"
    return type(err).__name__


class EvalRunner:
    """Runs (or resumes) one stored run: every (row, deployment) cell not in the store yet. `rows` are the run's
    rows in order (a row's index is its position), `deployments` the run's deployments by name with their settings,
    `overrides` per-deployment request parameters over the prompt's own, `guards` (by deployment name) the address
    guard each deployment's client connects through (endpoints added in the page; services.netguard)."""

    def __init__(
        self,
        store: EvalStore,
        run_id: str,
        prompt: Prompt,
        rows: Sequence[Row],
        deployments: Mapping[str, Deployment],
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
        evaluators: Sequence[Evaluator] = (),
        concurrency_per_deployment: int = DEFAULT_CONCURRENCY,
        *,
        retry_policy: RetryPolicy | None = None,
        guards: Mapping[str, AddressGuard | None] | None = None,
    ) -> None:
        record = store.load_run(run_id)
        if record is None:
            raise ValueError(f"No evaluation run {run_id!r} in {store.where}.")
        if concurrency_per_deployment < 1:
            raise ValueError("concurrency_per_deployment must be at least 1.")
        self.store = store
        self.run_id = run_id
        self.name = record.name
        self.owner = record.owner
        self.prompt = prompt
        self.rows = rows
        self.deployments = dict(deployments)
        self.evaluators = list(evaluators)
        self.concurrency = concurrency_per_deployment
        self.retry_policy = retry_policy
        self.guards = dict(guards or {})
        base = chat_parameters(prompt)
        self.params = {name: {**base, **dict((overrides or {}).get(name, {}))} for name in self.deployments}
        self.total = len(rows) * len(self.deployments)
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._abandon = False
        self._scopes: list[CancelScope] = []
        self._thread: threading.Thread | None = None
        self._done = record.cells_done
        self._errors = record.cells_errors
        self._failures = record.cells_failed
        self._done_here = 0
        self._started: float | None = None
        self._ended: float | None = None
        self._status = "running"
        self.fatal: Exception | None = None  # a store failure that stopped the run

    # --- control ------------------------------------------------------------------------------------------------

    def start(self) -> EvalRunner:
        """Run in a background thread (in the caller's tracing context: its owner, if none is stored); returns at
        once."""
        if self._thread is not None:
            raise RuntimeError("This run was started already.")
        self._started = time.monotonic()
        self._thread = threading.Thread(target=tracing.carry(self._run), name=f"eval-{self.run_id}", daemon=True)
        self._thread.start()
        return self

    def run(self) -> str:
        """Run to the end in this thread; return the final status."""
        self._started = time.monotonic()
        contextvars.copy_context().run(self._run)  # the page and owner it sets stay out of the caller's context
        return self._status

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a started run to end; False when `timeout` passed first."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def cancel(self, *, abandon: bool = False) -> None:
        """Send no new call; calls already sent finish and are saved, or with `abandon` are dropped now (their
        cells are not saved, so resuming calls them again). The run is then marked cancelled."""
        with self._lock:
            self._abandon = self._abandon or abandon
            scopes = list(self._scopes) if abandon else []
        self._cancel.set()
        for scope in scopes:
            scope.cancel()

    def progress(self) -> EvalProgress:
        """A consistent snapshot of the counters; safe from any thread."""
        with self._lock:
            now = self._ended if self._ended is not None else time.monotonic()
            elapsed = 0.0 if self._started is None else now - self._started
            left = self.total - self._done
            eta = None
            if left == 0:
                eta = 0.0
            elif self._status == "running" and self._done_here:
                eta = left * elapsed / self._done_here  # cells run in parallel: elapsed per cell done, not latency
            return EvalProgress(self._done, self.total, self._errors, self._failures, elapsed, eta, self._status)

    # --- the run ------------------------------------------------------------------------------------------------

    def _run(self) -> None:
        tracing.set_page(PAGE)
        if self.owner is not None:
            tracing.set_owner(self.owner)
        done = self.store.done_cells(self.run_id)
        self.store.set_status(self.run_id, "running")
        clients = {
            name: InferenceClient(deployment, retry_policy=self.retry_policy, guard=self.guards.get(name))
            for name, deployment in self.deployments.items()
        }
        workers: list[threading.Thread] = []
        try:
            with tracing.action(f"evaluation {self.name}", page=PAGE):
                for name, client in clients.items():
                    pending = collections.deque(i for i in range(len(self.rows)) if (i, name) not in done)
                    for number in range(min(self.concurrency, len(pending))):
                        worker = threading.Thread(
                            target=tracing.carry(self._work),
                            args=(client, pending),
                            name=f"eval-{name}-{number}",
                            daemon=True,
                        )
                        workers.append(worker)
                        worker.start()
            self._heartbeat_until_done(workers)
        finally:
            for client in clients.values():
                client.close()
            self._finish()

    def _heartbeat_until_done(self, workers: list[threading.Thread]) -> None:
        for worker in workers:
            while worker.is_alive():
                worker.join(HEARTBEAT_S)
                if worker.is_alive() and self.fatal is None:
                    try:
                        self.store.touch(self.run_id)
                    except Exception as exc:  # the store is gone: the workers stop at their next save
                        self._stop_for(exc)

    def _finish(self) -> None:
        if self.fatal is not None:
            status = "interrupted"
        elif self._cancel.is_set():
            status = "cancelled"
        else:
            status = "finished" if self.store.count_cells(self.run_id) >= self.total else "interrupted"
        try:
            self.store.set_status(self.run_id, status)
        except Exception as exc:  # the store is unreachable: the run shows as interrupted once its heartbeat ages
            self.fatal = self.fatal or exc
        with self._lock:
            self._status = status
            self._ended = time.monotonic()

    def _stop_for(self, exc: Exception) -> None:
        with self._lock:
            self.fatal = self.fatal or exc
        self._cancel.set()

    def _work(self, client: InferenceClient, pending: collections.deque[int]) -> None:
        scope = CancelScope()
        with self._lock:
            self._scopes.append(scope)
            if self._abandon:
                scope.cancel()
        with scope:
            while not self._cancel.is_set():
                try:
                    row_index = pending.popleft()  # deque.popleft is atomic: each row goes to one worker
                except IndexError:
                    return
                cell = self._cell(client, row_index)
                if self._abandon:
                    return  # an abandoned call's cell is not kept: resuming calls it again
                try:
                    stored = self.store.save_cell(self.run_id, cell)
                except Exception as exc:  # without its store the run cannot go on: stop, keep what is saved
                    self._stop_for(exc)
                    return
                if stored:
                    with self._lock:
                        self._done += 1
                        self._done_here += 1
                        self._errors += int(not cell.ok)
                        self._failures += int(cell.passed is False)

    def _cell(self, client: InferenceClient, row_index: int) -> CellResult:
        """Call the deployment for one row and judge the answer; every failure becomes the cell's error."""
        deployment = client.deployment
        row = self.rows[row_index]
        try:
            messages = render_messages(self.prompt, row)
        except PromptError as exc:
            words = f"The prompt cannot be filled in for row {row_index + 1}. {exc}"
            return CellResult(row_index, deployment.name, error=words, error_type=type(exc).__name__)
        started = time.perf_counter()
        try:
            result = self._answer(client, messages)
        except Exception as exc:  # an InferenceError, or a parameter the client refused before sending
            return CellResult(
                row_index,
                deployment.name,
                error=redact_text(error_text(exc), deployment.secret_values()),
                error_type=error_type(exc),
                latency_s=time.perf_counter() - started,
                trace_id=exc.trace_id if isinstance(exc, InferenceError) else None,
            )
        usage = result.usage
        return CellResult(
            row_index,
            deployment.name,
            answer=result.content,
            latency_s=result.metrics.total_s,
            input_tokens=usage.prompt_tokens if usage is not None else None,
            output_tokens=usage.completion_tokens if usage is not None else None,
            cost=usage_cost(usage, deployment),
            trace_id=result.metrics.trace_id,
            verdicts=[_judge(evaluator, result.content, row) for evaluator in self.evaluators],
        )

    def _answer(self, client: InferenceClient, messages: list[dict[str, str]]) -> Any:
        """The whole streamed answer. A stream cut off mid-answer is called again (STREAM_RETRIES times): a part of
        an answer cannot be scored, and a drop is the connection's fault, not the model's."""
        for attempt in range(STREAM_RETRIES + 1):
            try:
                with client.stream_chat(messages, **self.params[client.deployment.name]) as stream:
                    for _ in stream:
                        pass
                    return stream.result
            except StreamInterruptedError:
                if attempt == STREAM_RETRIES or self._cancel.is_set():
                    raise
        raise AssertionError("unreachable")  # the loop returns or raises


def _judge(evaluator: Evaluator, answer: str, row: Row) -> Verdict:
    """The evaluator's verdict; a broken evaluator gives a verdict that says so (neither passed nor failed)."""
    try:
        return evaluator.evaluate(answer, row)
    except Exception as exc:
        return Verdict(evaluator.name, None, reason=f"The evaluator failed: {exc}")


def resume(
    store: EvalStore,
    run_id: str,
    deployments: Mapping[str, Deployment],
    evaluators: Sequence[Evaluator],
    concurrency_per_deployment: int = DEFAULT_CONCURRENCY,
    *,
    retry_policy: RetryPolicy | None = None,
    guards: Mapping[str, AddressGuard | None] | None = None,
) -> EvalRunner:
    """A runner for a stored run (after a restart or a kill) from what the store kept: its prompt, rows and
    overrides; `deployments` must hold each of the run's deployments (keys are never stored); `guards` as
    EvalRunner's."""
    record = store.load_run(run_id)
    if record is None:
        raise ValueError(f"No evaluation run {run_id!r} in {store.where}.")
    missing = [name for name in record.deployments if name not in deployments]
    if missing:
        raise ValueError(f"The run uses deployments no longer configured: {', '.join(missing)}.")
    return EvalRunner(
        store,
        run_id,
        record.prompt(),
        store.rows(run_id),
        {name: deployments[name] for name in record.deployments},
        record.overrides,
        evaluators,
        concurrency_per_deployment,
        retry_policy=retry_policy,
        guards=guards,
    )
