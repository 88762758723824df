"""Where the texts come from (sample, pasted lines, an uploaded CSV / JSONL) and the API options for embeddings."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
import streamlit as st

from app.components import kept_uploads
from app.components.kept_uploads import KeptFile
from services import datasets
from services.datasets import DatasetError, TextDataset

SOURCE_KEY = "emb_source"
PASTE_KEY = "emb_paste"
UPLOAD_KEY = "emb_upload"
# The uploaded (or moved) file, kept so it outlives a visit to another page.
KEPT_KEY = "emb_upload_kept"
COLUMNS_KEY = "emb_columns_kept"
MOVED_KEY = "emb_paste_moved"
SOURCES = ("Sample dataset", "Paste texts", "Upload a file")
NOT_SENT = "(not sent)"
NO_LABEL = "(none)"
# Past this many lines the text box is the wrong tool (a longer paste is moved into a file); the browser stays
# quick well past it (10,000 pasted lines: under a second in Chromium), but editing that many lines in a box is not.
PASTE_MAX_LINES = 1_000
# The box refuses a longer value outright, so the browser never holds more than about a megabyte of text.
PASTE_MAX_CHARS = 1_000_000
PASTED_FILE_NAME = "pasted-lines.txt"
UPLOAD_TYPES = ["txt", "csv", "tsv", "jsonl", "ndjson", "json"]
# Texts per request and requests in flight unless the Options panel says otherwise (bench/embeddings_page.py).
DEFAULT_BATCH_SIZE = 64
DEFAULT_CONCURRENCY = 4


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
def _over_limit(digest: str, limit: int, _texts: list[str]) -> list[int]:
    return datasets.over_limit(_texts, limit)


def over_limit(texts: list[str], limit: int) -> list[int]:
    """Indices of texts over `limit` estimated tokens, kept per text list: every rerun of the page asks again, and
    estimating 10,000 texts takes about a second on a busy machine (hashing them for the cache, milliseconds)."""
    digest = hashlib.sha256("\x00".join(texts).encode("utf-8")).hexdigest()
    return _over_limit(digest, limit, texts)


def _read_lines(data: bytes, name: str) -> pd.DataFrame:
    """A .txt file as a one-column table, one text per line."""
    try:
        lines = data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise DatasetError(
            f"{name}: the file is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8 and upload it "
            "again"
        ) from None
    if not lines:
        raise DatasetError(f"{name}: the file has no lines")
    return pd.DataFrame({"text": lines})


@st.cache_data(show_spinner=False, max_entries=4)
def _table(data: bytes, name: str) -> Any:
    try:
        if name.lower().endswith(".txt"):
            return _read_lines(data, name)
        return datasets.read_table(data, name)
    except DatasetError as err:
        return err


def _move_long_paste() -> None:
    """on_change of the text box: a paste past PASTE_MAX_LINES becomes the kept file, every line of it."""
    raw = str(st.session_state.get(PASTE_KEY) or "")
    lines = len(raw.splitlines())
    if lines <= PASTE_MAX_LINES:
        return
    kept_uploads.keep_one(KEPT_KEY, KeptFile(PASTED_FILE_NAME, raw.encode()))
    st.session_state.pop(COLUMNS_KEY, None)
    st.session_state[PASTE_KEY] = ""
    st.session_state[SOURCE_KEY] = SOURCES[2]
    st.session_state[MOVED_KEY] = lines


def _from_paste() -> TextDataset | None:
    raw = st.text_area(
        "One text per line",
        key=PASTE_KEY,
        height=180,
        max_chars=PASTE_MAX_CHARS,
        on_change=_move_long_paste,
        placeholder="The cat sat on the mat.\nStocks fell sharply today.\n…",
    )
    st.caption(
        f"Up to {PASTE_MAX_LINES:,} lines here. For more, use **{SOURCES[2]}** (a .txt file with one text per "
        f"line, or CSV / JSONL): a longer paste is moved there for you, and the box refuses a paste over "
        f"{PASTE_MAX_CHARS:,} characters as a whole (what you typed before stays)."
    )
    return datasets.texts_from_lines(raw) if raw.strip() else None


def _column(holder: Any, label: str, options: list[str], default: str | None, key: str) -> str | None:
    """A column picker whose choice for the kept file comes back after a visit to another page; with no default it
    starts empty (None) for the user to choose."""
    remembered: dict[str, str] = st.session_state.setdefault(COLUMNS_KEY, {})
    if st.session_state.get(key) not in options:
        st.session_state[key] = remembered.get(key) if remembered.get(key) in options else default
    value = holder.selectbox(label, options, key=key, placeholder="Choose a column")
    if value is None:
        return None
    remembered[key] = str(value)
    return str(value)


def _current_file() -> KeptFile | None:
    """The uploader's file, else the one kept from before (shown with a way to clear it)."""
    upload = st.file_uploader(
        "A .txt file (one text per line), or a CSV, TSV or JSONL file",
        type=UPLOAD_TYPES,
        key=UPLOAD_KEY,
        on_change=kept_uploads.remember_one,
        args=(UPLOAD_KEY, KEPT_KEY),
    )
    moved = st.session_state.pop(MOVED_KEY, None)
    if moved is not None:
        st.info(
            f"The {moved:,} pasted lines are more than the text box takes ({PASTE_MAX_LINES:,}), so they were moved "
            f"to a file, **{PASTED_FILE_NAME}**, with nothing left out. Next time, upload such texts as a file.",
            icon=":material/move_down:",
        )
    if upload is not None:
        return KeptFile(upload.name, upload.getvalue())
    kept = kept_uploads.kept_one(KEPT_KEY)
    if kept is None:
        return None
    line = st.container(horizontal=True, vertical_alignment="center", key="emb_kept_file")
    line.markdown(
        f"Current file: **{kept.name}** ({kept_uploads.size_text(len(kept.data))}); upload another file to replace it."
    )
    if line.button("Clear file", key="emb_kept_clear", icon=":material/close:"):
        kept_uploads.forget(KEPT_KEY)
        st.session_state.pop(COLUMNS_KEY, None)
        st.rerun()
    return kept


def _from_upload() -> TextDataset | DatasetError | None:
    file = _current_file()
    if file is None:
        return None
    table = _table(file.data, file.name)
    if isinstance(table, DatasetError):
        return table
    if file.name.lower().endswith(".txt"):
        return replace(datasets.dataset_from_table(table, "text", None), source=file.name)
    columns = list(table.columns)
    left, right = st.columns(2)
    guessed = datasets.guess_text_column(table)
    text_column = _column(left, "Text column", columns, guessed, "emb_text_column")
    label_choices = [NO_LABEL] + [c for c in columns if c != text_column]
    default_label = next((c for c in label_choices if c.lower() in ("label", "labels", "topic", "category")), NO_LABEL)
    label_column = _column(right, "Label column (optional)", label_choices, default_label, "emb_label_column")
    if text_column is None:
        return DatasetError(
            f"{file.name}: no text column found, every column holds only numbers "
            f"({', '.join(map(str, columns[:6]))}{' …' if len(columns) > 6 else ''}). "
            "Choose the column to embed under **Text column**, or upload a file with a column of texts."
        )
    label = None if label_column in (None, NO_LABEL) else label_column
    return replace(datasets.dataset_from_table(table, text_column, label), source=file.name)


def collect_dataset() -> TextDataset | DatasetError | None:
    """The texts chosen on the page, an error saying what is wrong with them, or None when nothing is given yet."""
    source = st.radio("Texts", SOURCES, horizontal=True, key=SOURCE_KEY)
    try:
        if source == SOURCES[0]:
            sample = _sample()
            st.caption(f"{len(sample.texts)} short sentences in {len(set(sample.labels or []))} labelled topics.")
            return sample
        if source == SOURCES[1]:
            return _from_paste()
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
        batch_size = cols[3].number_input("Batch size", 1, 2048, DEFAULT_BATCH_SIZE, key="emb_batch_size")
        concurrency = cols[4].number_input("Parallel requests", 1, 16, DEFAULT_CONCURRENCY, key="emb_concurrency")
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
