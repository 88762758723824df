"""Datasets for evaluations: CSV / JSONL / testData become rows of text, bad input is refused with a clear sentence,
and the columns a template needs are named before anything is sent."""

from __future__ import annotations

import json

import pytest

from services.eval_dataset import (
    MAX_DATASET_BYTES,
    MAX_DATASET_ROWS,
    Dataset,
    DatasetError,
    check_columns,
    load_dataset,
    missing_columns,
    rows_from_test_data,
    template_variables,
)
from services.eval_model import EvalError
from services.prompts import parse_prompt

YML = """\
name: Capitals
model: openai/gpt-4o-mini
messages:
  - role: system
    content: Answer in {{language}}.
  - role: user
    content: What is the capital of {{country}}?
testData:
  - country: France
    language: English
    expected: Paris
  - country: Japan
    language: English
    expected: Tokyo
    population: 125
"""

PROMPTY = """\
---
name: Greeter
inputs:
  name:
    type: string
  tone:
    type: string
    default: friendly
---
system:
Be {{tone}}.
user:
{% for item in items %}{{item}} {% endfor %}Hello {{name}}
"""


def refused(name: str, data: bytes) -> DatasetError:
    with pytest.raises(DatasetError) as info:
        load_dataset(name, data)
    message = str(info.value)
    assert "\n" not in message and name in message
    return info.value


# --- reading ---------------------------------------------------------------------------------------------------------


def test_csv_with_header_gives_ordered_columns_and_text_rows() -> None:
    found = load_dataset("qa.csv", b'question,expected\n"Is 2, 3?",no\nWhy?,because\n')
    assert found.columns == ("question", "expected") and found.has_expected
    assert found.rows == [{"question": "Is 2, 3?", "expected": "no"}, {"question": "Why?", "expected": "because"}]
    assert len(found) == 2 and found.source == "qa.csv"


def test_csv_separator_semicolon_and_tab_are_found_from_the_header() -> None:
    semicolon = load_dataset("excel.csv", b"country;expected\nFrance;Paris, of course\n")
    tab = load_dataset("sheet.txt", b"country\texpected\nJapan\tTokyo\n")
    assert semicolon.rows == [{"country": "France", "expected": "Paris, of course"}]
    assert tab.rows == [{"country": "Japan", "expected": "Tokyo"}]


def test_csv_with_utf8_bom_and_crlf_reads_the_first_column_name_cleanly() -> None:
    found = load_dataset("bom.csv", b"\xef\xbb\xbfcity,country\r\nK\xc3\xb8benhavn,Denmark\r\n\r\n")
    assert found.columns == ("city", "country") and found.rows == [{"city": "København", "country": "Denmark"}]


def test_csv_short_row_is_padded_with_empty_values_and_blank_lines_are_skipped() -> None:
    found = load_dataset("short.csv", b"a,b,c\n1,2\n\n4,5,6\n")
    assert found.rows == [{"a": "1", "b": "2", "c": ""}, {"a": "4", "b": "5", "c": "6"}]


def test_csv_quoted_field_may_span_lines() -> None:
    found = load_dataset("multi.csv", b'text,expected\n"line one\nline two",x\n')
    assert found.rows[0]["text"] == "line one\nline two"


def test_jsonl_values_that_are_not_strings_become_their_json_text() -> None:
    lines = [
        {"q": "sum", "numbers": [1, 2], "n": 3, "ok": True, "none": None, "meta": {"k": "é"}},
        {"q": "second"},
    ]
    data = "\n".join(json.dumps(line) for line in lines).encode() + b"\n\n"
    found = load_dataset("rows.jsonl", data)
    assert found.columns == ("q", "numbers", "n", "ok", "none", "meta")
    assert found.rows[0] == {
        "q": "sum",
        "numbers": "[1, 2]",
        "n": "3",
        "ok": "true",
        "none": "null",
        "meta": '{"k": "é"}',
    }
    assert found.rows[1] == {"q": "second", "numbers": "", "n": "", "ok": "", "none": "", "meta": ""}


def test_unknown_extension_starting_with_a_brace_is_read_as_jsonl() -> None:
    assert load_dataset("upload.dat", b'{"a": "1"}\n').rows == [{"a": "1"}]
    assert load_dataset("upload.dat", b"a,b\n1,2\n").rows == [{"a": "1", "b": "2"}]


def test_test_data_of_a_prompt_file_becomes_a_dataset_with_every_column() -> None:
    prompt = parse_prompt(YML, "prompt.yml", "capitals.prompt.yml")
    found = rows_from_test_data(prompt.test_data)
    assert found.columns == ("country", "language", "expected", "population")
    assert found.rows[0]["population"] == "" and found.rows[1]["population"] == "125"


def test_same_rows_from_csv_jsonl_and_test_data_have_the_same_digest() -> None:
    csv_rows = load_dataset("a.csv", b"country,expected\nFrance,Paris\n")
    jsonl_rows = load_dataset("b.jsonl", b'{"country": "France", "expected": "Paris"}\n')
    test_data = rows_from_test_data([{"country": "France", "expected": "Paris"}])
    changed = load_dataset("a.csv", b"country,expected\nFrance,Lyon\n")
    assert csv_rows.digest == jsonl_rows.digest == test_data.digest
    assert changed.digest != csv_rows.digest and len(csv_rows.digest) == 64


# --- refused input -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"  \n\n", b"\xef\xbb\xbf"])
def test_empty_file_is_refused(data: bytes) -> None:
    assert "is empty" in str(refused("empty.csv", data))


def test_csv_header_without_rows_is_refused() -> None:
    assert "no rows" in str(refused("header.csv", b"question,expected\n"))


def test_jsonl_with_only_blank_lines_after_nothing_is_refused_as_empty() -> None:
    assert "is empty" in str(refused("blank.jsonl", b"\n \n"))


def test_file_over_the_size_limit_is_refused_naming_the_limit() -> None:
    big = b"text\n" + b"x" * (MAX_DATASET_BYTES + 1)
    error = refused("fifty.csv", big)
    assert "20 MB limit" in str(error) and f"{MAX_DATASET_BYTES:,}" in str(error)


def test_fifty_megabytes_of_rows_are_refused_before_parsing() -> None:
    row = b"some question text,some expected answer\n"
    data = b"q,expected\n" + row * (50_000_000 // len(row))
    assert "limit" in str(refused("huge.csv", data))


def test_more_rows_than_the_row_limit_are_refused() -> None:
    data = b"q\n" + b"x\n" * (MAX_DATASET_ROWS + 1)
    assert f"more than {MAX_DATASET_ROWS:,} rows" in str(refused("many.csv", data))
    assert len(load_dataset("ok.csv", b"q\n" + b"x\n" * MAX_DATASET_ROWS)) == MAX_DATASET_ROWS


def test_non_utf8_text_is_refused_naming_the_encoding_and_byte_offset() -> None:
    error = refused("latin1.csv", "city\nKøbenhavn\n".encode("latin-1"))
    assert "not UTF-8" in str(error) and "at byte 6" in str(error) and "save it as UTF-8" in str(error)


def test_non_utf8_offset_counts_the_bom() -> None:
    assert "at byte 8" in str(refused("bom.csv", b"\xef\xbb\xbfcity\n\xff\n"))


def test_csv_row_with_more_fields_than_the_header_names_its_line() -> None:
    error = refused("wide.csv", b"a,b\n1,2\n3,4,5\n")
    assert error.line == 3 and "line 3 has 3 fields but the header has 2" in str(error)


def test_jsonl_line_that_is_not_json_names_its_line() -> None:
    error = refused("bad.jsonl", b'{"a": "1"}\n\n{"a": oops}\n')
    assert error.line == 3 and "line 3 is not JSON" in str(error)


@pytest.mark.parametrize(("line", "kind"), [(b"[1, 2]", "a list"), (b'"text"', "a string"), (b"42", "a number")])
def test_jsonl_line_that_is_not_an_object_names_its_line_and_kind(line: bytes, kind: str) -> None:
    error = refused("rows.jsonl", b'{"a": "1"}\n' + line + b"\n")
    assert error.line == 2 and f"line 2 is {kind}, not a JSON object" in str(error)


def test_duplicate_column_names_are_refused() -> None:
    assert "'q' is used twice" in str(refused("dup.csv", b"q,expected,q\n1,2,3\n"))
    assert "uses the key 'q' twice" in str(refused("dup.jsonl", b'{"q": "1", "q": "2"}\n'))


def test_empty_column_name_is_refused_with_its_position() -> None:
    assert "column 2 has no name" in str(refused("blank.csv", b"q, ,expected\n1,2,3\n"))
    assert "column 1 has no name" in str(refused("blank.jsonl", b'{"": "1"}\n'))


def test_test_data_row_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(DatasetError, match="row 2 is not a mapping"):
        rows_from_test_data([{"a": "1"}, ["not", "a", "row"]])  # type: ignore[list-item]


def test_empty_test_data_is_refused() -> None:
    with pytest.raises(DatasetError, match="has no rows"):
        rows_from_test_data([])


def test_dataset_error_is_an_eval_error() -> None:
    assert issubclass(DatasetError, EvalError)


# --- the template's columns --------------------------------------------------------------------------------------


def test_missing_columns_names_the_prompt_variables_the_dataset_lacks_in_template_order() -> None:
    prompt = parse_prompt(YML, "prompt.yml", "capitals.prompt.yml")
    only_country = load_dataset("c.csv", b"country,expected\nFrance,Paris\n")
    assert missing_columns(prompt, only_country) == ["language"]
    assert missing_columns(prompt, rows_from_test_data(prompt.test_data)) == []
    assert missing_columns(prompt, load_dataset("x.csv", b"expected\nParis\n")) == ["language", "country"]


def test_check_columns_raises_naming_every_missing_variable_and_the_columns_it_has() -> None:
    prompt = parse_prompt(YML, "prompt.yml", "capitals.prompt.yml")
    dataset = load_dataset("x.csv", b"expected,notes\nParis,n\n")
    with pytest.raises(DatasetError) as info:
        check_columns(prompt, dataset)
    message = str(info.value)
    assert "variables 'language', 'country'" in message and "'expected', 'notes'" in message
    check_columns(prompt, load_dataset("ok.csv", b"country,language\nFrance,English\n"))


def test_prompty_variables_with_a_default_or_bound_by_a_loop_are_not_required() -> None:
    prompt = parse_prompt(PROMPTY, "prompty", "greeter.prompty")
    assert template_variables(prompt) == ["items", "name"]
    assert missing_columns(prompt, load_dataset("n.csv", b"name\nAda\n")) == ["items"]


def test_plain_template_text_is_checked_too() -> None:
    dataset = Dataset(("a",), [{"a": "1"}], "rows", "d")
    assert missing_columns("{{a}} and {{b}}", dataset, "placeholders") == ["b"]
    assert missing_columns("{{ a }} {% if c %}{{ d }}{% endif %}", dataset) == ["c", "d"]


def test_template_that_does_not_parse_is_an_eval_error() -> None:
    dataset = Dataset(("a",), [{"a": "1"}], "rows", "d")
    with pytest.raises(EvalError, match="does not parse"):
        missing_columns("{% if %}", dataset)
