"""The evaluation run's HTML report: one self-contained file (inline CSS, nothing loaded, no script) in which every
value from the run, the dataset or a model is HTML-escaped. services.eval_export reads the store and calls this."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from services.eval_figures import summary_records
from services.eval_matrix import MatrixRow, cell_figures, cell_mark, error_plain, shorten, verdict_mark
from services.eval_model import CellResult
from services.store.eval_summary import DeploymentSummary
from services.store.evals import RunRecord

# Nothing may load or run, even if a value slipped through unescaped: only the inline style is allowed.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; form-action 'none'; base-uri 'none'"
_PREVIEW_CHARS = 160
_VALUE_CHARS = 300
_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1f2328;font-size:14px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #d0d7de;padding:4px 8px;vertical-align:top}
th{background:#f6f8fa;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
pre{white-space:pre-wrap;word-break:break-word;margin:4px 0;font-size:13px;background:#f6f8fa;padding:6px}
.cell{min-width:180px;max-width:360px}.pass{background:#eef8ee}.fail{background:#fdeeee}.error{background:#fff4e0}
.pending{color:#8c959f}.mark{font-weight:bold}.v{margin-right:8px;white-space:nowrap}.fig{color:#57606a;font-size:12px}
.answer{margin:4px 0;word-break:break-word}.words{color:#9a3412}.note{color:#57606a}
"""


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _number(value: Any, column: str) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    if column.endswith("%"):
        return f"{value:.1f}%"
    if column.startswith("Cost"):
        return f"{value:.6f}".rstrip("0").rstrip(".") or "0"
    return f"{value:.2f}" if "score" in column else f"{value:.3f}"


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "–"
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _settings_table(record: RunRecord) -> list[str]:
    rows = [
        ("Status", record.status),
        ("Started", _when(record.created)),
        ("Ended", _when(record.ended)),
        ("Dataset", record.dataset_name),
        ("Dataset digest", record.dataset_digest),
        ("Rows", f"{record.row_count:,}"),
        ("Deployments", ", ".join(record.deployments)),
        ("Cells stored", f"{record.cells_done:,} of {record.total_cells:,}"),
        ("Errors / failed checks", f"{record.cells_errors:,} / {record.cells_failed:,}"),
    ]
    return ["<table>", *(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows), "</table>"]


def _prompt_section(record: RunRecord) -> list[str]:
    prompt = record.prompt()
    parts = ["<h2>Prompt</h2>"]
    for message in prompt.messages:
        parts.append(f"<div><strong>{_e(message.role)}</strong><pre>{_e(message.content)}</pre></div>")
    parameters = {k: v for k, v in prompt.parameters.model_dump(exclude_none=True).items() if v not in ({}, [])}
    if parameters:
        parts.append(f"<p>Parameters</p><pre>{_e(json.dumps(parameters, ensure_ascii=False, indent=1))}</pre>")
    if record.overrides:
        parts.append("<p>Parameters per deployment (over the prompt's)</p><table>")
        for name, values in record.overrides.items():
            parts.append(
                f"<tr><th>{_e(name)}</th><td><pre>{_e(json.dumps(values, ensure_ascii=False))}</pre></td></tr>"
            )
        parts.append("</table>")
    return parts


def _evaluators_section(record: RunRecord) -> list[str]:
    parts = ["<h2>Evaluators</h2>"]
    if not record.evaluators:
        return [*parts, "<p class='note'>None: answers were collected, not judged.</p>"]
    parts.append("<table><tr><th>Name</th><th>Kind</th><th>Settings</th></tr>")
    for spec in record.evaluators:
        settings = json.dumps(dict(spec.settings), ensure_ascii=False)
        parts.append(f"<tr><td>{_e(spec.name)}</td><td>{_e(spec.kind)}</td><td><pre>{_e(settings)}</pre></td></tr>")
    return [*parts, "</table>"]


def _summary_section(record: RunRecord, summaries: Sequence[DeploymentSummary]) -> list[str]:
    records = summary_records(record, summaries)
    parts = [
        "<h2>Summary per deployment</h2>",
        "<p class='note'>Errors are calls that gave no answer, counted apart from failures (answers a check failed);"
        " pass rates and latency count answered cells only.</p>",
    ]
    if not records:
        return parts
    columns = list(records[0])
    parts.append("<table><tr>" + "".join(f"<th>{_e(c)}</th>" for c in columns) + "</tr>")
    for item in records:
        cells = [f"<td>{_e(item['Deployment'])}</td>"]
        cells += [f"<td class='num'>{_e(_number(item[c], c))}</td>" for c in columns[1:]]
        parts.append("<tr>" + "".join(cells) + "</tr>")
    return [*parts, "</table>"]


def _status_class(cell: CellResult | None) -> str:
    if cell is None:
        return "pending"
    if not cell.ok:
        return "error"
    return {True: "pass", False: "fail", None: ""}[cell.passed]


def _cell_html(cell: CellResult | None) -> str:
    if cell is None:
        return "<td class='cell pending'>not run yet</td>"
    parts = [f"<td class='cell {_status_class(cell)}'><span class='mark'>{_e(cell_mark(cell))}</span> "]
    for verdict in cell.verdicts:
        kind = {True: "pass", False: "fail", None: ""}[verdict.passed]
        parts.append(f"<span class='v {kind}'>{_e(verdict.evaluator)} {_e(verdict_mark(verdict))}</span>")
    if cell.error is not None:
        parts.append(f"<div class='words'>{_e(cell.error_type or 'error')}: {_e(error_plain(cell.error))}</div>")
    if cell.answer is not None:
        preview = shorten(cell.answer, _PREVIEW_CHARS)
        parts.append(f"<div class='answer'>{_e(preview)}</div>")
        reasons = [v for v in cell.verdicts if v.reason]
        if preview != cell.answer or reasons:
            parts.append(f"<details><summary>Whole answer and reasons</summary><pre>{_e(cell.answer)}</pre>")
            parts += [f"<div>{_e(v.evaluator)}: {_e(v.reason)}</div>" for v in reasons]
            parts.append("</details>")
    figures = cell_figures(cell)
    if cell.trace_id:
        figures = f"{figures} · trace {cell.trace_id}" if figures else f"trace {cell.trace_id}"
    if figures:
        parts.append(f"<div class='fig'>{_e(figures)}</div>")
    return "".join(parts) + "</td>"


def _value_html(value: object) -> str:
    text = "" if value is None else str(value)
    if len(text) <= _VALUE_CHARS:
        return f"<td>{_e(text)}</td>"
    return f"<td><details><summary>{_e(shorten(text, 80))}</summary><pre>{_e(text)}</pre></details></td>"


def _matrix_section(record: RunRecord, columns: Sequence[str], rows: Iterable[MatrixRow]) -> list[str]:
    parts = [
        "<h2>Results: rows × deployments</h2>",
        "<p class='note'>✓ every check passed · ✗ a check failed · ⚠ the call gave no answer (error) · – no"
        " pass/fail check; scores beside each evaluator's name.</p>",
        "<table><tr><th>#</th>",
    ]
    parts[-1] += "".join(f"<th>{_e(c)}</th>" for c in columns)
    parts[-1] += "".join(f"<th>{_e(d)}</th>" for d in record.deployments) + "</tr>"
    for row in rows:
        cells = [f"<td class='num'>{row.index + 1}</td>"]
        cells += [_value_html(row.values.get(c)) for c in columns]
        cells += [_cell_html(row.cells.get(d)) for d in record.deployments]
        parts.append("<tr>" + "".join(cells) + "</tr>")
    return [*parts, "</table>"]


def html_report(
    record: RunRecord, summaries: Sequence[DeploymentSummary], columns: Sequence[str], rows: Iterable[MatrixRow]
) -> str:
    """The whole report as one HTML document; `rows` is consumed once, in order."""
    title = f"Evaluation: {record.name}"
    parts = [
        "<!DOCTYPE html>",
        "<html lang='en'><head><meta charset='utf-8'>",
        f"<meta http-equiv='Content-Security-Policy' content=\"{_CSP}\">",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        *_settings_table(record),
        *_prompt_section(record),
        *_evaluators_section(record),
        *_summary_section(record, summaries),
        *_matrix_section(record, columns, rows),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"
