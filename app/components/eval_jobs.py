"""The evaluation runs this process is running, by run id, and the evaluation store they write to.

Both are process-wide, not per session: a reload, another page or another browser tab finds a run still going here,
and its progress and Cancel keep working. A runner is kept after it ends (it holds only counters), so the page can
still read its last progress; the store keeps everything else.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

from services.eval_model import Evaluator
from services.eval_run import EvalRunner
from services.store.evals import EvalStore
from services.store.location import DATA_DIR_ENV, DATABASE_URL_ENV

_LOCK = threading.Lock()
_RUNNERS: dict[str, EvalRunner] = {}
_STORES: dict[tuple[str, str], EvalStore] = {}


def eval_store() -> EvalStore:
    """The store for the current data directory or database (one per location, shared by every session)."""
    where = (os.environ.get(DATABASE_URL_ENV, ""), os.environ.get(DATA_DIR_ENV, ""))
    with _LOCK:
        store = _STORES.get(where)
        if store is None:
            store = _STORES[where] = EvalStore()
        return store


def start(runner: EvalRunner, evaluators: Sequence[Evaluator] = ()) -> EvalRunner:
    """Start `runner` in the background and keep it under its run id; the evaluators' clients close when it ends."""
    with _LOCK:
        running = _RUNNERS.get(runner.run_id)
        if running is not None and running.progress().status == "running":
            raise RuntimeError("This run is running already.")
        _RUNNERS[runner.run_id] = runner
    runner.start()
    threading.Thread(target=_close_when_done, args=(runner, list(evaluators)), daemon=True).start()
    return runner


def _close_when_done(runner: EvalRunner, evaluators: list[Evaluator]) -> None:
    runner.wait()
    for evaluator in evaluators:
        close = getattr(evaluator, "close", None)  # judges and similarity hold a client; checks hold nothing
        if close is not None:
            close()


def runner_for(run_id: str) -> EvalRunner | None:
    """The runner of this run in this process (running or ended), or None."""
    with _LOCK:
        return _RUNNERS.get(run_id)


def is_running(run_id: str) -> bool:
    """True when this process is running the run now."""
    runner = runner_for(run_id)
    return runner is not None and runner.progress().status == "running"
