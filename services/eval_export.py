"""A run's results as files: CSV and JSON Lines (one record per stored cell) and a self-contained HTML report.

Every export reads the store a page of rows at a time (services.eval_matrix). Answers, rows and errors are
untrusted text: the CSV and JSONL writers quote them as their formats require, and the HTML report escapes every
value, loads nothing (no script, stylesheet, font or image: its Content-Security-Policy forbids them too) and shows
the run's settings as stored, which hold no key.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from services.csv_safe import spreadsheet_safe
from services.eval_html import html_report
from services.eval_matrix import finite, iter_matrix, row_columns
from services.eval_model import CellResult
from services.store.evals import EvalStore, RunRecord

CELL_FIELDS = (
    "deployment", "answer", "error", "error_type", "latency_s", "input_tokens", "output_tokens", "cost", "trace_id",
    "passed",
)  # fmt: skip

__all__ = ["CELL_FIELDS", "csv_header", "to_csv", "to_html", "to_jsonl"]


class ExportError(LookupError):
    """The run is not in the store."""


def _record(store: EvalStore, run_id: str) -> RunRecord:
    record = store.load_run(run_id)
    if record is None:
        raise ExportError(f"No evaluation run {run_id!r} in {store.where}.")
    return record


def _stored_cells(store: EvalStore, record: RunRecord) -> Iterator[tuple[dict[str, str], CellResult]]:
    """(row values, cell) for every stored cell, by row and then in the run's deployment order."""
    for row in iter_matrix(store, record):
        for deployment in record.deployments:
            cell = row.cells.get(deployment)
            if cell is not None:
                yield row.values, cell


def _cell_values(cell: CellResult) -> dict[str, Any]:
    return {
        "deployment": cell.deployment,
        "answer": cell.answer,
        "error": cell.error,
        "error_type": cell.error_type,
        "latency_s": finite(cell.latency_s),
        "input_tokens": cell.input_tokens,
        "output_tokens": cell.output_tokens,
        "cost": finite(cell.cost),
        "trace_id": cell.trace_id,
        "passed": cell.passed,
    }


def csv_header(record: RunRecord, columns: list[str]) -> list[str]:
    """row_index, the dataset's columns (prefixed "row: " when one shares a result column's name), the cell's
    fields, then "<evaluator> passed/score/reason" for each evaluator."""
    taken = {"row_index", *CELL_FIELDS}
    header = ["row_index", *(f"row: {name}" if name in taken else name for name in columns), *CELL_FIELDS]
    for spec in record.evaluators:
        header += [f"{spec.name} passed", f"{spec.name} score", f"{spec.name} reason"]
    return header


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return spreadsheet_safe(value)  # an answer "=HYPERLINK(...)" must not run when the file is opened


def to_csv(store: EvalStore, run_id: str) -> str:
    """One line per stored cell (header first); empty fields for what is unknown, true/false for pass marks, and
    text that a spreadsheet would run as a formula prefixed with an apostrophe (services/csv_safe.py)."""
    record = _record(store, run_id)
    columns = row_columns(store, record)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([spreadsheet_safe(name) for name in csv_header(record, columns)])
    for values, cell in _stored_cells(store, record):
        line: list[Any] = [cell.row_index, *(_csv_value(values.get(name)) for name in columns)]
        line += [_csv_value(value) for value in _cell_values(cell).values()]
        verdicts = {verdict.evaluator: verdict for verdict in cell.verdicts}
        for spec in record.evaluators:
            verdict = verdicts.get(spec.name)
            if verdict is None:
                line += ["", "", ""]
            else:
                line += [_csv_value(verdict.passed), _csv_value(finite(verdict.score)), _csv_value(verdict.reason)]
        writer.writerow(line)
    return out.getvalue()


def to_jsonl(store: EvalStore, run_id: str) -> str:
    """One JSON object per stored cell and line: row_index, row (the dataset row), the cell's fields and its
    verdicts (evaluator, passed, score, reason)."""
    record = _record(store, run_id)
    lines = []
    for values, cell in _stored_cells(store, record):
        item: dict[str, Any] = {"row_index": cell.row_index, "row": values, **_cell_values(cell)}
        item["verdicts"] = [
            {"evaluator": v.evaluator, "passed": v.passed, "score": finite(v.score), "reason": v.reason}
            for v in cell.verdicts
        ]
        lines.append(json.dumps(item, ensure_ascii=False, allow_nan=False))
    return "".join(line + "\n" for line in lines)


def to_html(store: EvalStore, run_id: str) -> str:
    """The self-contained HTML report: settings, summary per deployment and the matrix (rows x deployments)."""
    record = _record(store, run_id)
    return html_report(record, store.summary(run_id), row_columns(store, record), iter_matrix(store, record))
