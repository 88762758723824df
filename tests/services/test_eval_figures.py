"""The summary table of a run and two runs compared per deployment and check, from runs stored with hand-made cells."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.eval_figures import ALL_CHECKS, compare_runs, same_dataset, summary_records
from services.eval_matrix import cell_figures, cell_mark, verdict_mark
from services.eval_model import CellResult, EvaluatorSpec, Verdict
from services.prompt_model import Prompt, PromptMessage
from services.store.evals import EvalStore, RunRecord

PROMPT = Prompt(name="p", messages=[PromptMessage(role="user", content="{{q}}")])
SPECS = [EvaluatorSpec("contains", "has"), EvaluatorSpec("similarity", "close")]


@pytest.fixture
def store(tmp_path: Path) -> EvalStore:
    return EvalStore(tmp_path / "evals.sqlite")


def _run(store: EvalStore, passes: dict[str, list[bool]], digest: str = "sha256:same") -> RunRecord:
    rows = max(len(v) for v in passes.values())
    run_id = store.create_run(
        name="r", prompt=PROMPT, dataset_name="d.csv", dataset_digest=digest,
        rows=[{"q": str(i)} for i in range(rows + 1)], deployments=list(passes), evaluators=SPECS,
    )  # fmt: skip
    for deployment, marks in passes.items():
        for index, passed in enumerate(marks):
            verdicts = [Verdict("has", passed), Verdict("close", None, 0.5)]
            store.save_cell(run_id, CellResult(index, deployment, answer="x", latency_s=1.0, verdicts=verdicts))
    store.save_cell(run_id, CellResult(rows, next(iter(passes)), error="gone", error_type="timeout"))  # last row
    record = store.load_run(run_id)
    assert record is not None
    return record


def test_summary_records_count_errors_apart_and_give_rates_in_percent(store: EvalStore) -> None:
    record = _run(store, {"a": [True, True, False, True], "b": [False, False, True, True]})
    records = summary_records(record, store.summary(record.id))
    assert [r["Deployment"] for r in records] == ["a", "b"]
    a = records[0]
    assert (a["Calls"], a["Errors"], a["Failures"]) == (5, 1, 1)
    assert a[f"{ALL_CHECKS} pass %"] == 75.0 and a["has pass %"] == 75.0 and a["close mean score"] == 0.5
    assert "close pass %" not in a and a["Mean latency (s)"] == 1.0 and a["Cost ($)"] is None
    assert records[1]["has pass %"] == 50.0 and records[1]["Errors"] == 0


def test_two_runs_on_one_dataset_compare_rates_per_deployment_and_check(store: EvalStore) -> None:
    before = _run(store, {"a": [True, False, False, False], "b": [True, True, False, False]})
    after = _run(store, {"a": [True, True, True, False], "c": [True, True, True, True]})
    assert same_dataset(before, after)
    changes = {(c.deployment, c.check): c for c in compare_runs(before, store.summary(before.id), after,
                                                                    store.summary(after.id))}  # fmt: skip
    assert list(changes)[:2] == [("a", ALL_CHECKS), ("a", "has")]  # a score-only evaluator has no pass rate
    assert ("a", "close") not in changes
    helped = changes[("a", "has")]
    assert (helped.rate_a, helped.rate_b, helped.difference) == (25.0, 75.0, 50.0)
    gone, new = changes[("b", ALL_CHECKS)], changes[("c", "has")]
    assert (gone.rate_a, gone.rate_b, gone.difference) == (50.0, None, None)
    assert (new.rate_a, new.rate_b, new.difference) == (None, 100.0, None)
    other = _run(store, {"a": [True]}, digest="sha256:other")
    assert not same_dataset(before, other)


def test_marks_say_pass_fail_score_error_and_pending() -> None:
    assert verdict_mark(Verdict("v", True)) == "✓" and verdict_mark(Verdict("v", False, 0.25)) == "✗ 0.25"
    assert verdict_mark(Verdict("v", None, 4.0)) == "4" and verdict_mark(Verdict("v", None)) == "?"
    assert cell_mark(None) == "…" and cell_mark(CellResult(0, "a", error="x")) == "⚠"
    assert cell_mark(CellResult(0, "a", answer="y", verdicts=[Verdict("v", True), Verdict("w", False)])) == "✗"
    assert cell_mark(CellResult(0, "a", answer="y", verdicts=[Verdict("v", None, 0.3)])) == "–"
    figures = CellResult(0, "a", answer="y", latency_s=0.456, input_tokens=10, output_tokens=None)
    assert cell_figures(figures) == "0.46 s · 10 tok" and cell_figures(CellResult(0, "a")) == ""
