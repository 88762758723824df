"""Datasets for evaluations: CSV and JSONL uploads and a prompt file's `testData`, as rows of text by column.

Every value is text (a JSON number, list or object becomes its JSON text), so a row renders into a template the same
way whatever file it came from; `digest` tells two runs they used the same rows. Bad input is refused with a
DatasetError that says what is wrong, where (line, byte offset), and what to do. `missing_columns` names the
template variables a dataset has no column for, so a run can be refused before any request is sent.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.eval_model import EXPECTED_COLUMN, EvalError
from services.prompt_model import Prompt, PromptError, TemplateSyntax
from services.prompt_render import prompt_variables, variables_in

MAX_DATASET_BYTES = 20_000_000
MAX_DATASET_ROWS = 10_000
BOM = b"\xef\xbb\xbf"
CSV_EXTENSIONS = (".csv", ".tsv", ".txt")
JSONL_EXTENSIONS = (".jsonl", ".ndjson")
DELIMITERS = (",", ";", "\t")


class DatasetError(EvalError):
    """A dataset that cannot be used: `str(error)` says what, where (`line` when known) and what to do."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        self.line = line
        super().__init__(message)


@dataclass(frozen=True)
class Dataset:
    """Rows of text by column name (every row has every column), in file order; `digest` identifies the rows."""

    columns: tuple[str, ...]
    rows: list[dict[str, str]]
    source: str
    digest: str

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def has_expected(self) -> bool:
        """True when the rows carry an `expected` column for the evaluators that compare with it."""
        return EXPECTED_COLUMN in self.columns


def rows_digest(columns: Sequence[str], rows: Iterable[Mapping[str, str]]) -> str:
    """SHA-256 of the columns and rows in a canonical JSON form: equal for equal data, whatever file held it."""
    canonical = {"columns": list(columns), "rows": [[row.get(c, "") for c in columns] for row in rows]}
    text = json.dumps(canonical, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def make_dataset(columns: Sequence[str], rows: Sequence[Mapping[str, str]], source: str) -> Dataset:
    """A Dataset from checked columns and rows: missing values become "", limits and emptiness are enforced."""
    _check_columns_named(columns, source)
    if not rows:
        raise DatasetError(f"{source} has no rows; add at least one row of values to evaluate.")
    if len(rows) > MAX_DATASET_ROWS:
        raise DatasetError(
            f"{source} has more than {MAX_DATASET_ROWS:,} rows, the limit for a dataset; split it into smaller files."
        )
    full = [{column: str(row.get(column, "")) for column in columns} for row in rows]
    return Dataset(tuple(columns), full, source, rows_digest(columns, full))


def load_dataset(name: str, data: bytes) -> Dataset:
    """An uploaded file as a Dataset: `.jsonl`/`.ndjson` as JSON Lines, `.csv`/`.tsv`/`.txt` as CSV (comma, `;` or
    tab, found from the header line), another name by its first character (`{` is JSON Lines). Raises DatasetError."""
    if len(data) > MAX_DATASET_BYTES:
        raise DatasetError(
            f"{name} is {len(data):,} bytes, over the {MAX_DATASET_BYTES // 1_000_000} MB limit for a dataset "
            f"({MAX_DATASET_BYTES:,} bytes); split it into smaller files."
        )
    text = _decode(name, data)
    if not text.strip():
        raise DatasetError(
            f"{name} is empty; upload a CSV file with a header row or a JSONL file with one object a line."
        )
    lower = name.lower()
    if lower.endswith(JSONL_EXTENSIONS) or (not lower.endswith(CSV_EXTENSIONS) and text.lstrip().startswith("{")):
        return _load_jsonl(name, text)
    return _load_csv(name, text)


def rows_from_test_data(test_data: Sequence[Mapping[Any, Any]], source: str = "the prompt's testData") -> Dataset:
    """A prompt file's `testData` (Prompt.test_data) as a Dataset; columns in order of first appearance."""
    columns: dict[str, None] = {}
    rows: list[dict[str, str]] = []
    for index, item in enumerate(test_data):
        if not isinstance(item, Mapping):
            raise DatasetError(
                f"{source}: row {index + 1} is not a mapping of names to values; write it as name: value."
            )
        row = {str(key): as_text(value) for key, value in item.items()}
        columns.update(dict.fromkeys(row))
        rows.append(row)
    return make_dataset(list(columns), rows, source)


def as_text(value: Any) -> str:
    """A value as the text a template receives: strings as they are, anything else as its JSON text."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _decode(name: str, data: bytes) -> str:
    offset = len(BOM) if data.startswith(BOM) else 0
    try:
        return data[offset:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetError(
            f"{name} is not UTF-8 text ({exc.reason} at byte {exc.start + offset}); save it as UTF-8 "
            "(in Excel: CSV UTF-8) and upload it again."
        ) from None


def _check_columns_named(columns: Sequence[str], source: str) -> None:
    seen: set[str] = set()
    for index, column in enumerate(columns):
        if not column.strip():
            raise DatasetError(f"{source}: column {index + 1} has no name; give every column a name in the header.")
        if column in seen:
            raise DatasetError(f"{source}: the column name {column!r} is used twice; give each column its own name.")
        seen.add(column)


def _delimiter(header_line: str) -> str:
    """The separator the header uses most (outside quotes); a comma when it has none."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in header_line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _load_csv(name: str, text: str) -> Dataset:
    delimiter = "\t" if name.lower().endswith(".tsv") else _delimiter(text.lstrip("\r\n").split("\n", 1)[0])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(row for row in reader if row)
        columns = [column.strip() for column in header]
        _check_columns_named(columns, name)
        rows: list[dict[str, str]] = []
        for fields in reader:
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue  # a blank line
            if len(fields) > len(columns):
                raise DatasetError(
                    f"{name}: line {reader.line_num} has {len(fields)} fields but the header has {len(columns)}; "
                    "quote values that contain the separator, or add a column to the header.",
                    line=reader.line_num,
                )
            rows.append(dict(zip(columns, fields, strict=False)))
            if len(rows) > MAX_DATASET_ROWS:
                break
    except csv.Error as exc:
        raise DatasetError(
            f"{name}: line {reader.line_num} is not valid CSV ({exc}); fix that line and upload it again.",
            line=reader.line_num,
        ) from None
    if not rows:
        raise DatasetError(f"{name} has a header but no rows; add at least one row of values under the header.")
    return make_dataset(columns, rows, name)


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _DuplicateKey(key)
        found[key] = value
    return found


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(key)


def _load_jsonl(name: str, text: str) -> Dataset:
    columns: dict[str, None] = {}
    rows: list[dict[str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line, object_pairs_hook=_object_without_duplicates)
        except _DuplicateKey as exc:
            raise DatasetError(
                f"{name}: line {number} uses the key {exc.key!r} twice; give each column its own name.", line=number
            ) from None
        except json.JSONDecodeError as exc:
            raise DatasetError(
                f"{name}: line {number} is not JSON ({exc.msg} at column {exc.colno}); write one JSON object a line.",
                line=number,
            ) from None
        if not isinstance(item, dict):
            kind = {list: "a list", str: "a string", bool: "true or false", type(None): "null"}.get(
                type(item), "a number"
            )
            raise DatasetError(
                f'{name}: line {number} is {kind}, not a JSON object; write each row as {{"column": "value"}}.',
                line=number,
            )
        row = {key: as_text(value) for key, value in item.items()}
        columns.update(dict.fromkeys(row))
        rows.append(row)
        if len(rows) > MAX_DATASET_ROWS:
            break
    return make_dataset(list(columns), rows, name)


def template_variables(prompt_or_template: Prompt | str, syntax: TemplateSyntax = "jinja2") -> list[str]:
    """The variables a prompt (or one template text) needs a value for; a prompt's variables with a declared default
    are not needed. Raises EvalError when the template does not parse."""
    try:
        if isinstance(prompt_or_template, Prompt):
            names = prompt_variables(prompt_or_template)
            declared = prompt_or_template.variables
            return [n for n in names if n not in declared or declared[n].default is None]
        return variables_in(prompt_or_template, syntax)
    except PromptError as exc:
        raise EvalError(f"The prompt's template does not parse ({exc}); fix it before running an evaluation.") from exc


def missing_columns(prompt_or_template: Prompt | str, dataset: Dataset, syntax: TemplateSyntax = "jinja2") -> list[str]:
    """The template variables the dataset has no column for, in the order the template uses them."""
    return [name for name in template_variables(prompt_or_template, syntax) if name not in dataset.columns]


def check_columns(prompt_or_template: Prompt | str, dataset: Dataset, syntax: TemplateSyntax = "jinja2") -> None:
    """Raise DatasetError naming every variable the template uses that the dataset lacks (before anything is sent)."""
    missing = missing_columns(prompt_or_template, dataset, syntax)
    if missing:
        names = ", ".join(repr(name) for name in missing)
        noun = "variable" if len(missing) == 1 else "variables"
        have = ", ".join(repr(c) for c in dataset.columns)
        raise DatasetError(
            f"{dataset.source} has no column for the template's {noun} {names} (its columns: {have}); "
            "add or rename columns so every variable has one."
        )
