"""The evaluation run store on both engines: a cell is stored once, pages and filters of a run's matrix, owner rules,
per-deployment summaries from hand-made cells, and a run left running by a dead runner showing as interrupted."""

from __future__ import annotations

import pytest

from services.eval_model import CellResult, EvaluatorSpec, Verdict
from services.identity import ANONYMOUS, Viewer
from services.prompt_model import Prompt, PromptMessage
from services.store.eval_filter import CellFilter
from services.store.evals import STALE_AFTER_S, EvalStore

ANN = Viewer(owner="ann@example.com", name="Ann")
BOB = Viewer(owner="bob@example.com", name="Bob")
ADMIN = Viewer(owner="root@example.com", name="Root", is_admin=True)
PROMPT = Prompt(name="capital", messages=[PromptMessage(role="user", content="Capital of {{country}}?")])
SPECS = [EvaluatorSpec("contains", "has-city", {"text": "{{expected}}"}), EvaluatorSpec("similarity", "close")]


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture
def store(database_url: str) -> EvalStore:
    return EvalStore(clock=Clock())


def _run(store: EvalStore, rows: int = 3, owner: str | None = None, name: str = "run") -> str:
    return store.create_run(
        name=name,
        prompt=PROMPT,
        dataset_name="capitals.csv",
        dataset_digest="sha256:abc",
        rows=[{"country": f"C{i}", "expected": f"City{i}"} for i in range(rows)],
        deployments=["a", "b", "c"],
        overrides={"b": {"temperature": 0.2}},
        evaluators=SPECS,
        owner=owner,
    )


def _cell(row: int, deployment: str, *, passed: bool | None = True, error: bool = False, **figures) -> CellResult:
    if error:
        return CellResult(row, deployment, error="a rejected the request. HTTP 422: bad", error_type="InvalidRequest")
    verdicts = [] if passed is None else [Verdict("has-city", passed, reason="looked"), Verdict("close", None, 0.5)]
    return CellResult(row, deployment, answer=f"answer {row}", verdicts=verdicts, **figures)


def test_a_run_is_stored_with_its_rows_prompt_and_settings(store: EvalStore) -> None:
    run_id = _run(store, rows=4, owner=ANN.owner)
    record = store.load_run(run_id, ANN)
    assert record is not None and record.status == "running" and record.total_cells == 12
    assert record.deployments == ("a", "b", "c") and record.overrides == {"b": {"temperature": 0.2}}
    assert record.evaluators == (SPECS[0], EvaluatorSpec("similarity", "close", {}))
    assert record.prompt().messages[0].content == "Capital of {{country}}?"
    assert (record.dataset_name, record.dataset_digest, record.row_count) == ("capitals.csv", "sha256:abc", 4)
    assert store.rows(run_id)[3] == {"country": "C3", "expected": "City3"}
    assert store.rows(run_id, limit=2, offset=1) == [
        {"country": "C1", "expected": "City1"},
        {"country": "C2", "expected": "City2"},
    ]


def test_saving_the_same_cell_twice_keeps_one_row_and_counts_it_once(store: EvalStore) -> None:
    run_id = _run(store)
    assert store.save_cell(run_id, _cell(0, "a", passed=False)) is True
    assert store.save_cell(run_id, _cell(0, "a", passed=True)) is False
    assert store.save_cell(run_id, _cell(0, "b", error=True)) is True
    assert store.count_cells(run_id) == 2 and store.done_cells(run_id) == {(0, "a"), (0, "b")}
    kept = store.cells(run_id, CellFilter(deployment="a"))
    assert len(kept) == 1 and kept[0].passed is False  # the first save stays
    record = store.load_run(run_id)
    assert record is not None and (record.cells_done, record.cells_errors, record.cells_failed) == (2, 1, 1)


def test_cells_page_in_row_order_and_filter_failures_errors_and_disagreements(store: EvalStore) -> None:
    run_id = _run(store, rows=5)
    for row in range(5):
        store.save_cell(run_id, _cell(row, "a", passed=True))
        store.save_cell(run_id, _cell(row, "b", passed=row != 2))  # row 2: a passed, b failed
        store.save_cell(run_id, _cell(row, "c", error=row == 4))
    page = store.cells(run_id, limit=4, offset=3)
    assert [(c.row_index, c.deployment) for c in page] == [(1, "a"), (1, "b"), (1, "c"), (2, "a")]
    assert page[0].verdicts == [Verdict("has-city", True, reason="looked"), Verdict("close", None, 0.5)]
    assert [(c.row_index, c.deployment) for c in store.cells(run_id, CellFilter(failures=True))] == [(2, "b")]
    errors = store.cells(run_id, CellFilter(errors=True))
    assert [(c.row_index, c.deployment) for c in errors] == [(4, "c")] and errors[0].error_type == "InvalidRequest"
    disagreeing = store.cells(run_id, CellFilter(disagreements=True))
    assert {(c.row_index, c.deployment) for c in disagreeing} == {(2, "a"), (2, "b"), (2, "c")}
    assert store.count_cells(run_id, CellFilter(disagreements=True)) == 3 and store.count_cells(run_id) == 15
    assert store.cells(run_id, CellFilter(failures=True, errors=True)) == []


def test_matrix_rows_page_by_filter_and_their_cells_and_rows_are_read_by_index(store: EvalStore) -> None:
    run_id = _run(store, rows=8)
    for row in range(8):
        store.save_cell(run_id, _cell(row, "a", passed=row not in (1, 6)))
        if row != 5:  # row 5 on b not stored yet: a running run's matrix has holes
            store.save_cell(run_id, _cell(row, "b", error=row == 3))
    assert store.row_indices(run_id) == list(range(8)) and store.count_rows(run_id) == 8
    assert (
        store.row_indices(run_id, CellFilter(failures=True)) == [1, 6]
        and store.count_rows(run_id, CellFilter(failures=True)) == 2
    )
    assert store.row_indices(run_id, CellFilter(failures=True), limit=1, offset=1) == [6]
    assert (
        store.row_indices(run_id, CellFilter(errors=True)) == [3]
        and store.count_rows(run_id, CellFilter(errors=True)) == 1
    )
    cells = store.cells(run_id, CellFilter(rows=(1, 5, 6)))
    assert [(c.row_index, c.deployment) for c in cells] == [(1, "a"), (1, "b"), (5, "a"), (6, "a"), (6, "b")]
    assert store.cells(run_id, CellFilter(rows=())) == []
    assert store.rows(run_id, indices=[6, 1]) == [
        {"country": "C1", "expected": "City1"},
        {"country": "C6", "expected": "City6"},
    ]
    assert store.rows(run_id, indices=[]) == []


def test_a_thousand_by_three_matrix_pages_through_every_cell_once(store: EvalStore) -> None:
    run_id = _run(store, rows=1000)
    for row in range(1000):
        for name in ("a", "b", "c"):
            store.save_cell(run_id, _cell(row, name))
    seen: list[tuple[int, str]] = []
    for offset in range(0, 3000, 250):
        seen += [(c.row_index, c.deployment) for c in store.cells(run_id, limit=250, offset=offset)]
    assert len(seen) == len(set(seen)) == 3000 and seen[-1] == (999, "c")


def test_a_user_sees_only_their_runs_and_admins_and_anonymous_see_all(store: EvalStore) -> None:
    anns = _run(store, owner=ANN.owner, name="ann's")
    bobs = _run(store, owner=BOB.owner, name="bob's")
    assert [r.id for r in store.runs_for(ANN)] == [anns]
    assert store.load_run(bobs, ANN) is None and store.load_run(anns, ANN) is not None
    assert [r.id for r in store.runs_for(ADMIN)] == [bobs, anns]  # newest first
    assert [r.id for r in store.runs_for(ANONYMOUS)] == [bobs, anns]
    assert store.load_run("not an id", ADMIN) is None
    assert store.delete_run(bobs, ANN) is False and store.load_run(bobs, ADMIN) is not None
    store.save_cell(bobs, _cell(0, "a"))
    assert store.delete_run(bobs, BOB) is True
    assert store.load_run(bobs, ADMIN) is None and store.done_cells(bobs) == set() and store.rows(bobs) == []


def test_summary_counts_errors_apart_from_failures_with_rates_latency_tokens_and_cost(store: EvalStore) -> None:
    run_id = _run(store, rows=20)
    for row in range(20):
        # a: 20 answers, latency 1..20 s, 3 of them fail the check; b: 5 errors, the rest pass; c: nothing yet.
        figures = {"latency_s": float(row + 1), "input_tokens": 10, "output_tokens": 2, "cost": 0.001}
        store.save_cell(run_id, _cell(row, "a", passed=row not in (3, 7, 11), **figures))
        store.save_cell(run_id, _cell(row, "b", error=row < 5) if row < 5 else _cell(row, "b", latency_s=2.0))
    a, b, c = store.summary(run_id)
    assert (a.deployment, a.calls, a.errors, a.failures, a.passed) == ("a", 20, 0, 3, 17)
    assert a.pass_rates == {"has-city": 17 / 20, "close": None} and a.mean_scores == {"has-city": None, "close": 0.5}
    assert a.mean_latency_s == pytest.approx(10.5) and a.p95_latency_s == 19.0
    assert (a.input_tokens, a.output_tokens) == (200, 40) and a.cost == pytest.approx(0.02)
    assert (b.calls, b.errors, b.failures, b.passed) == (20, 5, 0, 15)
    assert b.pass_rates["has-city"] == 1.0 and b.p95_latency_s == 2.0 and b.cost is None
    assert (c.deployment, c.calls, c.pass_rates, c.mean_latency_s) == ("c", 0, {"has-city": None, "close": None}, None)


def test_statuses_and_a_silent_running_run_shows_as_interrupted(store: EvalStore) -> None:
    run_id = _run(store)
    store.set_status(run_id, "cancelled")
    record = store.load_run(run_id)
    assert record is not None and record.status == "cancelled" and record.ended is not None
    store.set_status(run_id, "running")
    assert store.load_run(run_id).status == "running"  # type: ignore[union-attr]
    store.clock.now += STALE_AFTER_S + 5  # type: ignore[attr-defined]
    assert store.load_run(run_id).status == "interrupted"  # type: ignore[union-attr]
    store.touch(run_id)
    assert store.load_run(run_id).status == "running"  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="Unknown run status"):
        store.set_status(run_id, "paused")
