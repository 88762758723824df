"""Texts to embed: the sample, pasted lines, CSV / JSONL uploads; length checks; CSV and Parquet export."""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from services.csv_safe import spreadsheet_safe

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_PATH = REPO_ROOT / "data" / "sample_sentences.csv"
MAX_TEXTS = 10_000
# Token limits of well-known embedding models (lower-case name fragments); unknown models get no length warning.
TOKEN_LIMITS: dict[str, int] = {
    "all-minilm-l6-v2": 256,
    "paraphrase-minilm-l3-v2": 128,  # the embedded endpoint's second text model cuts at 128 tokens
    "all-mpnet-base-v2": 384,
    "text-embedding-3": 8191,
    "text-embedding-ada-002": 8191,
    "cohere-embed-v3": 512,
    "embed-v-4": 128_000,
    "bge-": 512,
    "e5-": 512,
}
_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)


class DatasetError(ValueError):
    """The input cannot be used as it is; the message says what to change."""


@dataclass(frozen=True)
class TextDataset:
    """Texts to embed with optional labels (same length), and how many input rows were skipped as empty."""

    texts: list[str]
    labels: list[str] | None = None
    skipped_empty: int = 0
    source: str = ""

    def __post_init__(self) -> None:
        if self.labels is not None and len(self.labels) != len(self.texts):
            raise DatasetError(f"{len(self.labels)} labels for {len(self.texts)} texts")


def counted(count: int, noun: str = "text") -> str:
    """`1 text`, `2 texts`, `1,000 texts`: the plural only for more than one."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def sample_dataset() -> TextDataset:
    """The sentences shipped in data/sample_sentences.csv (ten labelled topics)."""
    frame = pd.read_csv(SAMPLE_PATH, dtype=str, keep_default_na=False)
    return TextDataset(frame["text"].tolist(), frame["label"].tolist(), source="sample dataset")


def texts_from_lines(text: str) -> TextDataset:
    """One text per non-blank line of a text area (surrounding spaces removed)."""
    lines = text.splitlines()
    texts = [line.strip() for line in lines if line.strip()]
    return TextDataset(texts, None, skipped_empty=len(lines) - len(texts), source="pasted text")


def read_table(data: bytes, filename: str) -> pd.DataFrame:
    """An uploaded `.csv` or `.jsonl` / `.ndjson` file as a table of strings; DatasetError says what is wrong."""
    name = filename.lower()
    try:
        if name.endswith(".csv") or name.endswith(".tsv"):
            sep = "\t" if name.endswith(".tsv") else _csv_separator(data)
            frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, sep=sep)
        elif name.endswith((".jsonl", ".ndjson", ".json")):
            frame = _read_jsonl(data, array_allowed=name.endswith(".json"))
        else:
            raise DatasetError(f"{filename}: use a .csv, .tsv or .jsonl file")
    except UnicodeDecodeError as exc:
        raise DatasetError(
            f"{filename}: the file is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8 "
            "(in Excel: CSV UTF-8) and upload it again"
        ) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DatasetError(f"{filename}: cannot read it as a table ({' '.join(str(exc).split())})") from None
    if frame.empty or not len(frame.columns):
        raise DatasetError(f"{filename}: the file has no rows")
    frame.columns = [str(column) for column in frame.columns]
    return frame


def _csv_separator(data: bytes) -> str:
    """`;` or `|` when the header line uses it and has no comma (spreadsheets in many locales export `;`), else `,`."""
    header = data[:4096].split(b"\n", 1)[0]
    if b"," in header:
        return ","
    return next((sep for sep in (";", "|", "\t") if sep.encode() in header), ",")


def _read_jsonl(data: bytes, *, array_allowed: bool = False) -> pd.DataFrame:
    text = data.decode("utf-8-sig")
    if array_allowed and text.lstrip().startswith("["):
        return _read_json_array(text)
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"line {number} is not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise DatasetError(f"line {number} is not a JSON object")
        rows.append({key: "" if value is None else _as_text(value) for key, value in row.items()})
    return pd.DataFrame(rows).fillna("")


def _read_json_array(text: str) -> pd.DataFrame:
    """A `.json` file holding one array of objects (what most tools write), read like JSONL."""
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"line {exc.lineno} is not valid JSON ({exc.msg})") from None
    if not isinstance(items, list):
        raise DatasetError("the JSON is not an array of objects")
    rows = []
    for number, row in enumerate(items, start=1):
        if not isinstance(row, dict):
            raise DatasetError(f"item {number} of the JSON array is not an object")
        rows.append({key: "" if value is None else _as_text(value) for key, value in row.items()})
    return pd.DataFrame(rows).fillna("")


def _as_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def text_columns(frame: pd.DataFrame) -> list[str]:
    """Columns holding at least one value that is not a number (columns of numbers or blanks only are left out)."""
    found = []
    for column in frame.columns:
        values = frame[column].astype(str).str.strip()
        values = values[values != ""]
        if len(values) and pd.to_numeric(values, errors="coerce").isna().any():
            found.append(column)
    return found


def guess_text_column(frame: pd.DataFrame) -> str | None:
    """The column most likely to hold the texts: a conventional name, else the text column with the longest values;
    None when no column holds text (numbers only), for the user to choose."""
    candidates = text_columns(frame)
    for name in ("text", "sentence", "content", "document", "body", "input", "query"):
        for column in candidates:
            if column.lower() == name:
                return column
    if not candidates:
        return None
    return max(candidates, key=lambda column: frame[column].astype(str).str.len().mean())


def dataset_from_table(frame: pd.DataFrame, text_column: str, label_column: str | None = None) -> TextDataset:
    """Texts (and labels) from chosen columns; rows with an empty text are skipped and counted."""
    for column in (text_column, label_column):
        if column is not None and column not in frame.columns:
            raise DatasetError(f"no column named {column!r}; the file has {', '.join(map(repr, frame.columns))}")
    texts = frame[text_column].astype(str).str.strip()
    keep = texts != ""
    labels = frame.loc[keep, label_column].astype(str).tolist() if label_column else None
    return TextDataset(texts[keep].tolist(), labels, skipped_empty=int((~keep).sum()), source="uploaded file")


def check_size(dataset: TextDataset, limit: int = MAX_TEXTS) -> None:
    """Raise DatasetError for an empty dataset or one over `limit` texts."""
    if not dataset.texts:
        raise DatasetError("there are no texts to embed: paste one text per line, upload a file or use the sample")
    if len(dataset.texts) > limit:
        raise DatasetError(f"{len(dataset.texts):,} texts is more than the {limit:,} this page handles; use fewer")


def estimate_tokens(text: str) -> int:
    """A conservative token estimate without the model's tokenizer: words and punctuation, long words in pieces."""
    return sum(max(1, math.ceil(len(piece) / 6)) for piece in _WORD.findall(text))


def token_limit(model_name: str | None) -> int | None:
    """The input limit in tokens of a known embedding model, or None when it is not known."""
    name = (model_name or "").lower()
    return next((limit for fragment, limit in TOKEN_LIMITS.items() if fragment in name), None)


def over_limit(texts: Sequence[str], limit: int) -> list[int]:
    """Indices of texts whose estimated token count exceeds `limit` (the model truncates or rejects them)."""
    return [i for i, text in enumerate(texts) if estimate_tokens(text) > limit]


def export_frame(
    texts: Sequence[str],
    vectors: NDArray[np.float32],
    *,
    labels: Sequence[str] | None = None,
    clusters: Sequence[int] | None = None,
    coords: NDArray[np.float32] | None = None,
) -> pd.DataFrame:
    """One row per text: text, label, cluster, x / y / z and the vector (as a list of floats)."""
    frame = pd.DataFrame({"text": list(texts)})
    if labels is not None:
        frame["label"] = list(labels)
    if clusters is not None:
        frame["cluster"] = list(clusters)
    if coords is not None:
        for axis, name in zip(range(coords.shape[1]), "xyz", strict=False):
            frame[name] = coords[:, axis].astype(float)
    frame["vector"] = [row.astype(np.float32).tolist() for row in np.asarray(vectors)]
    return frame


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """CSV with the vector as a JSON list in one column (NaN rows, never embedded, as an empty cell); a text or
    label that a spreadsheet would run as a formula is written as text (services/csv_safe.py)."""
    out = frame.copy()
    for column in ("text", "label"):
        if column in out:
            out[column] = [spreadsheet_safe(value) for value in out[column]]
    out["vector"] = [
        "" if any(math.isnan(x) for x in row) else json.dumps([round(x, 7) for x in row]) for row in out["vector"]
    ]
    return out.to_csv(index=False).encode("utf-8")


def to_parquet_bytes(frame: pd.DataFrame) -> bytes:
    """Parquet with the vector as a list<float32> column."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {name: frame[name].tolist() for name in frame.columns if name != "vector"}
    table = pa.table(columns)
    vectors = pa.array([list(row) for row in frame["vector"]], type=pa.list_(pa.float32()))
    table = table.append_column("vector", vectors)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()
