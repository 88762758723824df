"""The evaluation's dataset: an uploaded CSV or JSONL file, or the chosen prompt file's testData; its columns and
first rows are shown, and the template variables it has no column for are named before anything is sent."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.components import eval_form
from app.components.eval_form import Problem
from services.eval_dataset import (
    MAX_DATASET_BYTES,
    Dataset,
    DatasetError,
    check_columns,
    load_dataset,
    rows_from_test_data,
)
from services.eval_model import EvalError
from services.prompts import Prompt

SOURCE_KEY = "evf_dataset_source"
UPLOAD_KEY = "evals_upload"
_UPLOADED = "evals.uploaded"  # (file id, Dataset or DatasetError) of the last upload: kept across pages
UPLOAD = "Upload a file"
TEST_DATA = "The prompt file's testData"
PREVIEW_ROWS = 5


def _uploaded() -> tuple[Dataset | None, list[Problem]]:
    file = st.file_uploader(
        "CSV or JSONL file",
        type=["csv", "tsv", "txt", "jsonl", "ndjson"],
        key=UPLOAD_KEY,
        max_upload_size=max(1, MAX_DATASET_BYTES // 1_000_000),
        help="A header row of column names (CSV), or one JSON object a line (JSONL). An `expected` column holds "
        "the answers evaluators compare with.",
    )
    kept = st.session_state.get(_UPLOADED)
    if file is not None and (kept is None or kept[0] != file.file_id):
        try:
            found: Dataset | DatasetError = load_dataset(file.name, file.getvalue())
        except DatasetError as err:
            found = err
        kept = st.session_state[_UPLOADED] = (file.file_id, found)
    if kept is None:
        return None, [Problem("Upload a dataset.", quiet=True)]
    if isinstance(kept[1], DatasetError):
        return None, [Problem(str(kept[1]))]
    if file is None:
        st.caption(f"Using {kept[1].source}, uploaded before; upload another file to replace it.")
    return kept[1], []


def _test_data(prompt: Prompt) -> tuple[Dataset | None, list[Problem]]:
    try:
        return rows_from_test_data(prompt.test_data), []
    except DatasetError as err:
        return None, [Problem(str(err))]


def _preview(dataset: Dataset) -> None:
    st.caption(
        f"{len(dataset)} rows · columns: {', '.join(dataset.columns)}"
        + ("" if dataset.has_expected else " · no `expected` column")
    )
    frame = pd.DataFrame(dataset.rows[:PREVIEW_ROWS], columns=list(dataset.columns))
    st.dataframe(frame, hide_index=True, key="evals_dataset_preview", on_select="ignore")


def _column_problems(prompt: Prompt | None, dataset: Dataset) -> list[Problem]:
    if prompt is None:
        return []
    try:
        check_columns(prompt, dataset)
    except EvalError as err:  # a missing column (named), or a template that does not parse
        return [Problem(str(err))]
    return []


def render_dataset_pick(prompt: Prompt | None) -> Dataset | None:
    """Draw the dataset choice and preview; return the dataset when the template can be filled from it."""
    has_test_data = prompt is not None and bool(prompt.test_data)
    options = [UPLOAD, TEST_DATA] if has_test_data else [UPLOAD]
    eval_form.keep_choices(SOURCE_KEY, options)
    source = st.radio("Dataset", options, key=SOURCE_KEY, horizontal=True)
    dataset, problems = _test_data(prompt) if source == TEST_DATA and prompt is not None else _uploaded()
    if dataset is not None:
        _preview(dataset)
        problems = _column_problems(prompt, dataset)
    eval_form.show(problems)
    return dataset if dataset is not None and not problems else None
