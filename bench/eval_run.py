"""Evaluation runner: how close a run comes to the ideal wall time, and what it adds to each call.

Two figures, with span recording ON and the run stored in SQLite (both in a temporary PLAYGROUND_DATA_DIR):
- concurrency: a ROWS-row x 3-deployment run against the fault server answering each call after a fixed 200 ms, with
  4 calls at a time per deployment; wall time over the ideal rows x deployments x 0.2 s / (4 x 3) (goal <= 1.2x);
- overhead: per call, the runner (render, call, judge, save the cell; 1 deployment, 1 call at a time) over the bare
  client's streamed chat with the same messages and parameters, on the embedded endpoint (smollm2-135m,
  max_tokens 1): many short rounds in alternating order, the median of the per-round ratios (goal <= 1.1x); the
  same on the fault server answering at once, where the milliseconds the runner adds per cell show plainly.
Run: `.venv/bin/python bench/eval_run.py [--rows 200] [--calls 20] [--rounds 9]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["PLAYGROUND_DATA_DIR"] = tempfile.mkdtemp(prefix="bench-eval-")

from services import tracing  # noqa: E402
from services.client import InferenceClient  # noqa: E402
from services.config import LOCAL_DEPLOYMENTS, Deployment, load_settings  # noqa: E402
from services.eval_model import Row, Verdict  # noqa: E402
from services.eval_run import EvalRunner  # noqa: E402
from services.prompt_model import Prompt, PromptMessage, PromptParameters  # noqa: E402
from services.prompt_render import render_messages  # noqa: E402
from services.prompts import chat_parameters  # noqa: E402
from services.store.eval_filter import CellFilter  # noqa: E402
from services.store.evals import EvalStore  # noqa: E402
from tests.fixtures.fault_server import FaultServer, Reply, chat_chunks, start_in_thread  # noqa: E402
from tests.fixtures.local_endpoint import run_local_endpoint  # noqa: E402

DELAY_S = 0.2
CONCURRENCY = 4
GOAL_WALL = 1.2
GOAL_OVERHEAD = 1.1
CHAT = "smollm2-135m-instruct"
PROMPT = Prompt(
    name="bench",
    messages=[PromptMessage(role="user", content="Repeat the word {{word}}.")],
    parameters=PromptParameters(max_tokens=1, temperature=0),
)


class NonEmpty:
    """A check as cheap as an evaluator gets: the cost measured is the runner's, not a judge's."""

    name = "non-empty"

    def evaluate(self, answer: str, row: Row) -> Verdict:
        return Verdict(self.name, bool(answer.strip()))


def _run(store: EvalStore, rows: list[dict[str, str]], deployments: dict[str, Deployment], concurrency: int) -> float:
    """Seconds for a new run over `rows` on `deployments`, from creating the runner to its end."""
    run_id = store.create_run(
        name="bench",
        prompt=PROMPT,
        dataset_name="bench",
        dataset_digest="-",
        rows=rows,
        deployments=list(deployments),
    )
    started = time.perf_counter()
    status = EvalRunner(store, run_id, PROMPT, rows, deployments, None, [NonEmpty()], concurrency).run()
    elapsed = time.perf_counter() - started
    cells = store.count_cells(run_id)
    errors = store.count_cells(run_id, CellFilter(errors=True))
    if status != "finished" or cells != len(rows) * len(deployments) or errors:
        raise SystemExit(f"the run ended {status} with {cells} cells, {errors} errors")
    return elapsed


def concurrency_ratio(rows: int) -> None:
    """Wall time of a rows x 3 run against 200 ms answers over the ideal."""
    server = FaultServer()
    running = start_in_thread(server)
    server.url = running.url
    try:
        deployments = {
            name: Deployment(
                name=name, endpoint=server.scenario(Reply(sse=chat_chunks(["ok"]), first_byte_delay=DELAY_S)).endpoint
            )
            for name in ("alpha", "beta", "gamma")
        }
        store = EvalStore()
        _run(store, [{"word": "warm"}], deployments, CONCURRENCY)  # warm-up: imports, migrations, first connections
        elapsed = _run(store, [{"word": f"w{i}"} for i in range(rows)], deployments, CONCURRENCY)
    finally:
        running.stop()
    ideal = rows * len(deployments) * DELAY_S / (CONCURRENCY * len(deployments))
    ratio = elapsed / ideal
    verdict = "PASS" if ratio <= GOAL_WALL else "MISS"
    print(
        f"concurrency: {rows} rows x {len(deployments)} deployments, {CONCURRENCY} at a time each, {DELAY_S * 1000:.0f}"
        f" ms per call: {elapsed:.2f} s, ideal {ideal:.2f} s; ratio {ratio:.3f} (goal <= {GOAL_WALL}) {verdict}"
    )


def _bare(client: InferenceClient, rows: list[dict[str, str]]) -> float:
    """Seconds for the bare client's streamed chats of `rows`, one after another, with the run's parameters."""
    params = chat_parameters(PROMPT)
    started = time.perf_counter()
    for row in rows:
        with client.stream_chat(render_messages(PROMPT, row), **params) as stream:
            for _ in stream:
                pass
    return time.perf_counter() - started


def _paired(deployment: Deployment, calls: int, rounds: int) -> tuple[float, float, float]:
    """Per-call seconds of the bare client and of the runner (medians over rounds), and the median of the per-round
    ratios; the order alternates each round, so a load that comes and goes hits both alike."""
    store = EvalStore()
    rows = [{"word": f"w{i}"} for i in range(calls)]
    bare_times, runner_times, ratios = [], [], []
    with InferenceClient(deployment) as client:
        _bare(client, rows[:3])  # warm-up
        _run(store, rows[:3], {deployment.name: deployment}, 1)
        for number in range(rounds):
            measured = {}
            for which in ("bare", "runner") if number % 2 == 0 else ("runner", "bare"):
                if which == "bare":
                    measured[which] = _bare(client, rows) / calls
                else:
                    measured[which] = _run(store, rows, {deployment.name: deployment}, 1) / calls
                tracing.flush(30)  # the trace writer's leftovers must not land in the other's time
            bare_times.append(measured["bare"])
            runner_times.append(measured["runner"])
            ratios.append(measured["runner"] / measured["bare"])
    return statistics.median(bare_times), statistics.median(runner_times), statistics.median(ratios)


def overhead_ratio(calls: int, rounds: int) -> None:
    """Per-call time of the runner over the bare client: on the embedded endpoint (the goal), and on the fault
    server answering at once (what the runner adds, without a model's time around it)."""
    empty = Path(tempfile.mkdtemp(prefix="bench-eval-config-")) / "deployments.toml"
    empty.write_text("")
    with run_local_endpoint() as url:
        settings = load_settings(empty, environ={"PLAYGROUND_LOCAL_ENDPOINT": url})
        assert set(settings.deployments) == set(LOCAL_DEPLOYMENTS)
        bare, ours, ratio = _paired(settings.deployments[CHAT], calls, rounds)
    verdict = "PASS" if ratio <= GOAL_OVERHEAD else "MISS"
    print(
        f"overhead on the embedded endpoint: per call bare client {bare * 1000:.1f} ms, runner {ours * 1000:.1f} ms;"
        f" ratio {ratio:.3f} (median of {rounds} rounds of {calls} calls; goal <= {GOAL_OVERHEAD}) {verdict}"
    )
    server = FaultServer()
    running = start_in_thread(server)
    server.url = running.url
    try:
        instant = Deployment(name="instant", endpoint=server.scenario(Reply(sse=chat_chunks(["ok"]))).endpoint)
        bare, ours, ratio = _paired(instant, calls * 5, rounds)
    finally:
        running.stop()
    print(
        f"overhead on an instant server: per call bare client {bare * 1000:.2f} ms, runner {ours * 1000:.2f} ms"
        f" (+{(ours - bare) * 1000:.2f} ms a cell: render, judge, save, run set-up shared); ratio {ratio:.2f}"
    )


def main() -> None:
    """Print both figures, whether or not they meet their goals."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    concurrency_ratio(args.rows)
    overhead_ratio(args.calls, args.rounds)


if __name__ == "__main__":
    main()
