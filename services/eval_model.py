"""Evaluations as plain data: what a run is (prompt, dataset, deployments, evaluators), and what each cell became.

An evaluation runs one prompt over every row of a dataset against one to six deployments. A *cell* is one row on one
deployment: the answer (or the error that replaced it), its latency and tokens, its trace id, and one `Verdict` per
evaluator. Errors are kept apart from failures: a cell with an error has no verdicts, and summaries count it as an
error, never as a failed check. The runner (services/eval_run.py), the evaluators (services/eval_checks.py,
services/eval_judge.py, made from specs by services/eval_build.py), the datasets (services/eval_dataset.py) and
the store (services/store/evals.py) share these.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

# A row's values, by column name: the template's variables, and an optional `expected` column.
Row = Mapping[str, str]
EXPECTED_COLUMN = "expected"
MAX_DEPLOYMENTS = 6


class EvalError(ValueError):
    """A run cannot start, or an evaluator or dataset is invalid: `str(error)` says what and where, in one sentence."""


@dataclass(frozen=True)
class Verdict:
    """One evaluator's judgement of one answer: `passed` (None when the evaluator only scores), an optional
    `score` (0-1 for similarity, 1-5 for a judge), and a short `reason` a person can read."""

    evaluator: str
    passed: bool | None
    score: float | None = None
    reason: str = ""


class Evaluator(Protocol):
    """Something that judges an answer given its dataset row; `name` is unique within a run (the column header)."""

    name: str

    def evaluate(self, answer: str, row: Row) -> Verdict:
        """Judge `answer` for `row`; raise nothing for a bad answer (that is a failed Verdict), only for a broken
        evaluator (EvalError)."""
        ...


@dataclass
class CellResult:
    """One dataset row on one deployment: the answer or the error, the call's figures, and the verdicts."""

    row_index: int
    deployment: str
    answer: str | None = None
    error: str | None = None  # the error card's words (never a key or header value)
    error_type: str | None = None  # e.g. "UnsupportedParameterError", "ContentFilterError", "timeout"
    latency_s: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None
    trace_id: str | None = None
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the call answered (its verdicts may still fail)."""
        return self.error is None

    @property
    def passed(self) -> bool | None:
        """True when every pass/fail verdict passed, False when one failed, None for an error or no checks."""
        checks = [v.passed for v in self.verdicts if v.passed is not None]
        if self.error is not None or not checks:
            return None
        return all(checks)


@dataclass(frozen=True)
class EvaluatorSpec:
    """An evaluator as saved with a run: its kind (`exact`, `contains`, `not_contains`, `regex`, `starts_with`,
    `length`, `json`, `json_schema`, `similarity`, `judge`), its unique name and its settings."""

    kind: str
    name: str
    settings: Mapping[str, Any] = field(default_factory=dict)
