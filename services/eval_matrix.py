"""A run's matrix read a page of rows at a time: each dataset row with its cell on every deployment, and the marks
a cell shows (pass, fail, score, error) in words the results page and the exports share.

Reading goes through the store in pages of rows (services.store.evals), so a 1,000-row run on six deployments is
never held in memory at once; a running run's cells not stored yet are simply absent from their row.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from services.eval_model import MAX_DEPLOYMENTS, CellResult, Verdict
from services.store.eval_filter import EVERY_CELL
from services.store.evals import EvalStore, RunRecord

PAGE_ROWS = 200
PASS_MARK = "✓"
FAIL_MARK = "✗"
ERROR_MARK = "⚠"
_MARKDOWN_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


@dataclass(frozen=True)
class MatrixRow:
    """One dataset row (`index` from 0) with its values and its stored cells by deployment."""

    index: int
    values: dict[str, str]
    cells: dict[str, CellResult]


def matrix_rows(store: EvalStore, run_id: str, indices: Sequence[int]) -> list[MatrixRow]:
    """The rows at `indices` (in row order) with their cells, in two reads."""
    wanted = sorted(set(int(i) for i in indices))
    if not wanted:
        return []
    values = store.rows(run_id, indices=wanted)
    by_row: dict[int, dict[str, CellResult]] = {index: {} for index in wanted}
    limit, offset = len(wanted) * MAX_DEPLOYMENTS, 0
    while True:
        page = store.cells(run_id, EVERY_CELL.of_rows(wanted), limit=limit, offset=offset)
        for cell in page:
            by_row[cell.row_index][cell.deployment] = cell
        if len(page) < limit:
            break
        offset += limit
    return [MatrixRow(index, dict(row), by_row[index]) for index, row in zip(wanted, values, strict=False)]


def iter_matrix(store: EvalStore, record: RunRecord, page_rows: int = PAGE_ROWS) -> Iterator[MatrixRow]:
    """Every row of the run in order, read `page_rows` rows at a time."""
    for offset in range(0, record.row_count, page_rows):
        yield from matrix_rows(store, record.id, range(offset, min(offset + page_rows, record.row_count)))


def row_columns(store: EvalStore, record: RunRecord, page_rows: int = PAGE_ROWS) -> list[str]:
    """The dataset's column names in first-seen order over all rows (read a page at a time)."""
    names: dict[str, None] = {}
    for offset in range(0, record.row_count, page_rows):
        for row in store.rows(record.id, limit=page_rows, offset=offset):
            names.update(dict.fromkeys(row))
    return list(names)


def finite(value: float | None) -> float | None:
    """The number, or None for a missing, NaN or infinite one (JSON and CSV readers agree on None)."""
    return value if value is not None and math.isfinite(value) else None


def verdict_mark(verdict: Verdict) -> str:
    """A verdict as a short mark: ✓ or ✗ (with the score when there is one), the score alone, or ? when the
    evaluator judged nothing (it failed itself)."""
    score = "" if verdict.score is None else f"{verdict.score:.2f}".rstrip("0").rstrip(".")
    if verdict.passed is None:
        return score or "?"
    mark = PASS_MARK if verdict.passed else FAIL_MARK
    return f"{mark} {score}" if score else mark


def cell_mark(cell: CellResult | None) -> str:
    """The cell at a glance: ⚠ for an error, ✓/✗ for all checks passed or one failed, – for no pass/fail check,
    … for a cell not stored yet."""
    if cell is None:
        return "…"
    if not cell.ok:
        return ERROR_MARK
    passed = cell.passed
    return "–" if passed is None else (PASS_MARK if passed else FAIL_MARK)


def cell_figures(cell: CellResult) -> str:
    """Latency and tokens as a short line ("0.42 s · 57 tok"), empty when neither is known."""
    parts = []
    if finite(cell.latency_s) is not None:
        parts.append(f"{cell.latency_s:.2f} s")
    if cell.input_tokens is not None or cell.output_tokens is not None:
        parts.append(f"{(cell.input_tokens or 0) + (cell.output_tokens or 0)} tok")
    return " · ".join(parts)


def shorten(text: str, limit: int) -> str:
    """`text` on one line, cut to `limit` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def error_plain(words: str) -> str:
    """A stored error's words without the markdown escapes that made them inert for st.markdown (for exports)."""
    return _MARKDOWN_ESCAPE.sub(r"\1", words)
