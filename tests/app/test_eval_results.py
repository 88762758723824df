"""The results of an evaluation run in AppTest, the component alone on runs stored in the test's data directory:
summary figures, a paged and filtered matrix, trace links, inert answers, another run compared, the exports."""

from __future__ import annotations

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from services.eval_model import CellResult, EvaluatorSpec, Verdict
from services.prompt_model import Prompt, PromptMessage
from services.store.evals import EvalStore
from tests.app.conftest import all_text

TRACE = "fedcba9876543210fedcba9876543210"
HOSTILE = "<script>alert(1)</script> **bold** ![pixel](http://198.51.100.7/p.png?q=secret) [x](javascript:alert(1))"
SPECS = [EvaluatorSpec("contains", "has-city", {"text": "{{expected}}"}), EvaluatorSpec("similarity", "close")]


def _script(run_id: str) -> None:
    from app.components.eval_results import render_results
    from services.store.evals import EvalStore

    render_results(EvalStore(), run_id)


def _prompt(system: str = "Be brief.") -> Prompt:
    return Prompt(
        name="capitals",
        messages=[PromptMessage(role="system", content=system), PromptMessage(role="user", content="{{country}}")],
    )


def _verdicts(passed: bool) -> list[Verdict]:
    return [Verdict("has-city", passed, reason="looked for the city"), Verdict("close", None, 0.75)]


def _run(store: EvalStore, rows: int, *, failing: set[int], digest: str = "sha256:capitals", system: str = "") -> str:
    """Two deployments, `rows` rows: row 1 on `b` is an error, rows in `failing` fail on `b`, row 2 on `a` carries
    a trace id and a hostile answer, and every other cell passes."""
    run_id = store.create_run(
        name="capitals run",
        prompt=_prompt(system or "Be brief."),
        dataset_name="capitals.csv",
        dataset_digest=digest,
        rows=[{"country": f"Country {i}", "expected": f"City {i}"} for i in range(rows)],
        deployments=["a", "b"],
        evaluators=SPECS,
    )
    for index in range(rows):
        answer_a = HOSTILE if index == 2 else f"City {index}"
        store.save_cell(
            run_id,
            CellResult(index, "a", answer=answer_a, latency_s=0.5, input_tokens=10, output_tokens=4, cost=0.001,
                       trace_id=TRACE if index == 2 else None, verdicts=_verdicts(True)),
        )  # fmt: skip
        if index == 1:
            words = "b rejected the request\\. HTTP 400: <img src=x onerror=alert(1)> ![p](http://198.51.100.7/e.png)"
            store.save_cell(run_id, CellResult(index, "b", error=words, error_type="UnsupportedParameterError"))
        else:
            passed = index not in failing
            store.save_cell(
                run_id,
                CellResult(index, "b", answer="somewhere" if not passed else f"City {index}", latency_s=1.0,
                           input_tokens=10, output_tokens=6, verdicts=_verdicts(passed)),
            )  # fmt: skip
    store.set_status(run_id, "finished")
    return run_id


@pytest.fixture
def store() -> EvalStore:
    return EvalStore()  # the test's own PLAYGROUND_DATA_DIR (tests/conftest.py), as the script opens it


def _open(run_id: str) -> AppTest:
    at = AppTest.from_function(_script, args=(run_id,), default_timeout=30)
    at.run()
    assert not at.exception, at.exception
    return at


def _matrix(at: AppTest) -> pd.DataFrame:
    """The matrix: the dataframe with a "#" column and a column per deployment."""
    found = [frame.value for frame in at.dataframe if "#" in frame.value.columns]
    assert len(found) == 1
    return found[0]


def test_summary_shows_calls_errors_failures_rates_and_latency_per_deployment(store: EvalStore) -> None:
    at = _open(_run(store, 10, failing={3, 4}))
    summary = at.dataframe[0].value.set_index("Deployment")
    assert list(summary.index) == ["a", "b"]
    assert summary.loc["a", "Calls"] == 10 and summary.loc["a", "Errors"] == 0 and summary.loc["a", "Failures"] == 0
    assert summary.loc["b", "Calls"] == 10 and summary.loc["b", "Errors"] == 1 and summary.loc["b", "Failures"] == 2
    assert summary.loc["a", "has-city pass %"] == 100.0
    assert summary.loc["b", "has-city pass %"] == pytest.approx(700 / 9)  # 7 of the 9 answers; the error apart
    assert summary.loc["b", "close mean score"] == 0.75 and summary.loc["a", "Mean latency (s)"] == 0.5
    assert summary.loc["a", "Input tokens"] == 100 and summary.loc["a", "Cost ($)"] == pytest.approx(0.01)
    assert "Finished · 20 of 20 cells · 1 errors" in all_text(at)
    assert len(at.get("plotly_chart")) == 1


def test_the_matrix_shows_25_rows_a_page_and_pages_on(store: EvalStore) -> None:
    at = _open(_run(store, 60, failing=set()))
    first = _matrix(at)
    assert first["#"].tolist() == list(range(1, 26))
    assert list(first.columns[:3]) == ["#", "country", "expected"]
    assert first.loc[0, "a"] == "✓ City 0" and first.loc[0, "b · checks"] == "has-city ✓ · close 0.75 · 1.00 s · 16 tok"
    assert first.loc[1, "b"].startswith("⚠ UnsupportedParameterError: b rejected the request")
    assert "Rows 1–25 of 60 · page 1 of 3" in all_text(at)
    at.number_input(key="evres_page").set_value(3).run()
    assert _matrix(at)["#"].tolist() == list(range(51, 61))


def test_failures_errors_and_disagreements_narrow_the_rows(store: EvalStore) -> None:
    at = _open(_run(store, 40, failing={5, 30}))
    assert len(_matrix(at)) == 25
    at.radio(key="evres_show").set_value("failures").run()
    failures = _matrix(at)
    assert failures["#"].tolist() == [6, 31] and failures.loc[0, "b"] == "✗ somewhere"
    assert failures.loc[0, "a"] == "✓ City 5"  # every deployment's cell of a matching row is shown
    assert "Rows 1–2 of 2" in all_text(at)
    at.radio(key="evres_show").set_value("errors").run()
    assert _matrix(at)["#"].tolist() == [2]
    at.radio(key="evres_show").set_value("disagreements").run()
    assert _matrix(at)["#"].tolist() == [6, 31]


def test_a_cell_with_a_trace_links_to_it_and_the_others_do_not(store: EvalStore) -> None:
    at = _open(_run(store, 5, failing=set()))
    links = _matrix(at)["a · trace"].tolist()
    assert links[2] == f"/traces?trace={TRACE}"
    assert [pd.isna(link) for link in links] == [True, True, False, True, True]
    at.selectbox(key="evres_detail_row").set_value(2).run()
    assert f"[Open its trace](/traces?trace={TRACE})" in all_text(at)


def test_answers_with_markdown_and_html_are_shown_as_text(store: EvalStore) -> None:
    at = _open(_run(store, 5, failing=set()))
    assert _matrix(at).loc[2, "a"].startswith("✓ <script>alert(1)</script> **bold** ![pixel](")
    at.selectbox(key="evres_detail_row").set_value(2).run()
    assert not at.exception
    assert [code.value for code in at.code] == [HOSTILE, "City 2"]  # the whole answers, as plain text
    drawn = "\n".join(str(element.value) for element in at.markdown)
    assert "<script>" not in drawn and "![pixel]" not in drawn and "javascript:" not in drawn
    at.selectbox(key="evres_detail_row").set_value(1).run()
    errors = [str(m.value) for m in at.markdown if "HTTP 400" in str(m.value)]
    assert len(errors) == 1 and "\\<img src\\=x" in errors[0]  # raw HTML in the error's words shows as text
    assert "![p]" not in errors[0] and "[image: p](http://198.51.100.7/e.png)" in errors[0]  # an image, not loaded


def test_another_run_on_the_same_dataset_is_compared_and_another_dataset_is_not(store: EvalStore) -> None:
    before = _run(store, 10, failing={3, 4, 5, 6})
    other_data = _run(store, 4, failing=set(), digest="sha256:other")
    after = _run(store, 10, failing={3}, system="Answer with the city only.")
    at = _open(after)
    at.selectbox(key="evres_compare").set_value(before).run()
    frame = next(f.value for f in at.dataframe if "Change (points)" in f.value.columns)
    row = frame.set_index(["Deployment", "Check"]).loc[("b", "has-city")]
    assert row["Other run pass %"] == pytest.approx(500 / 9) and row["This run pass %"] == pytest.approx(800 / 9)
    assert row["Change (points)"] == pytest.approx(300 / 9)
    assert "Changed: the prompt." in all_text(at)
    at.selectbox(key="evres_compare").set_value(other_data).run()
    assert any("another dataset" in w.value and "not comparable" in w.value for w in at.warning)
    assert not [f for f in at.dataframe if "Change (points)" in f.value.columns]


def test_the_three_exports_are_offered(store: EvalStore) -> None:
    at = _open(_run(store, 3, failing=set()))
    buttons = at.get("download_button")
    assert len(buttons) == 3
    labels = [button.proto.label for button in buttons]
    assert labels == ["Download CSV", "Download JSONL", "Download HTML report"]
