"""Where the texts come from (sample, pasted lines, an uploaded CSV / JSONL) and the API options for embeddings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from services import datasets
from services.datasets import DatasetError, TextDataset

SOURCE_KEY = "emb_source"
SOURCES = ("Sample dataset", "Paste texts", "Upload a file")
NOT_SENT = "(not sent)"
NO_LABEL = "(none)"


@dataclass(frozen=True)
class EmbedOptions:
    """Request options for /embeddings plus how the work is split."""

    input_type: str | None
    dimensions: int | None
    encoding_format: str | None
    batch_size: int
    concurrency: int

    def params(self) -> dict[str, Any]:
        """The API parameters that are set (None ones are not sent)."""
        found = {"input_type": self.input_type, "dimensions": self.dimensions, "encoding_format": self.encoding_format}
        return {name: value for name, value in found.items() if value is not None}


@st.cache_data(show_spinner=False)
def _sample() -> TextDataset:
    return datasets.sample_dataset()


@st.cache_data(show_spinner=False, max_entries=4)
def _table(data: bytes, name: str) -> Any:
    try:
        return datasets.read_table(data, name)
    except DatasetError as err:
        return err


def _from_upload() -> TextDataset | DatasetError | None:
    upload = st.file_uploader(
        "CSV, TSV or JSONL file", type=["csv", "tsv", "jsonl", "ndjson", "json"], key="emb_upload"
    )
    if upload is None:
        return None
    table = _table(upload.getvalue(), upload.name)
    if isinstance(table, DatasetError):
        return table
    columns = list(table.columns)
    guess = datasets.guess_text_column(table)
    left, right = st.columns(2)
    text_column = left.selectbox("Text column", columns, index=columns.index(guess), key="emb_text_column")
    label_choices = [NO_LABEL] + [c for c in columns if c != text_column]
    default_label = next((c for c in label_choices if c.lower() in ("label", "labels", "topic", "category")), NO_LABEL)
    label_column = right.selectbox(
        "Label column (optional)", label_choices, index=label_choices.index(default_label), key="emb_label_column"
    )
    return datasets.dataset_from_table(table, text_column, None if label_column == NO_LABEL else label_column)


def collect_dataset() -> TextDataset | DatasetError | None:
    """The texts chosen on the page, an error saying what is wrong with them, or None when nothing is given yet."""
    source = st.radio("Texts", SOURCES, horizontal=True, key=SOURCE_KEY)
    try:
        if source == SOURCES[0]:
            sample = _sample()
            st.caption(f"{len(sample.texts)} short sentences in {len(set(sample.labels or []))} labelled topics.")
            return sample
        if source == SOURCES[1]:
            raw = st.text_area(
                "One text per line",
                key="emb_paste",
                height=180,
                placeholder="The cat sat on the mat.\nStocks fell sharply today.\n…",
            )
            return datasets.texts_from_lines(raw) if raw.strip() else None
        return _from_upload()
    except DatasetError as err:
        return err


def render_options() -> EmbedOptions:
    """The API options (input_type, dimensions, encoding_format) and batch size / concurrency."""
    with st.expander("Options", expanded=False):
        cols = st.columns(5)
        input_type = cols[0].selectbox(
            "input_type",
            [NOT_SENT, "document", "query", "text"],
            key="emb_input_type",
            help="Asymmetric models embed documents and queries differently; search queries use `query`.",
        )
        # Defaults go through session_state, so a "retry without" callback can reset the widget without a warning.
        st.session_state.setdefault("emb_dimensions", 0)
        dimensions = cols[1].number_input(
            "dimensions",
            min_value=0,
            max_value=8192,
            step=1,
            key="emb_dimensions",
            help="0 = the model's own size. Only some models can shorten their vectors.",
        )
        encoding = cols[2].selectbox(
            "encoding_format",
            [NOT_SENT, "float", "base64"],
            key="emb_encoding",
            help="base64 is smaller on the wire; it is decoded to the same float32 vectors.",
        )
        batch_size = cols[3].number_input("Batch size", 1, 2048, 64, key="emb_batch_size")
        concurrency = cols[4].number_input("Parallel requests", 1, 16, 4, key="emb_concurrency")
    return EmbedOptions(
        input_type=None if input_type == NOT_SENT else str(input_type),
        dimensions=int(dimensions) or None,
        encoding_format=None if encoding == NOT_SENT else str(encoding),
        batch_size=int(batch_size),
        concurrency=int(concurrency),
    )


def query_params(params: dict[str, Any]) -> dict[str, Any]:
    """Options for embedding a search query: the same, except documents are searched with `input_type=query`."""
    found = dict(params)
    if found.get("input_type") == "document":
        found["input_type"] = "query"
    return found


# The widget behind each API option, and the value that means "not sent".
_OPTION_WIDGETS = {"input_type": ("emb_input_type", NOT_SENT), "dimensions": ("emb_dimensions", 0)}
_OPTION_WIDGETS["encoding_format"] = ("emb_encoding", NOT_SENT)


def reset_option(param: str) -> None:
    """Set an API option's widget back to "not sent" (call from a callback, before the widgets are drawn)."""
    if param in _OPTION_WIDGETS:
        key, value = _OPTION_WIDGETS[param]
        st.session_state[key] = value
