"""Inputs for the embeddings page (sample, pasted lines, CSV / JSONL uploads), length checks and exports."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from services import datasets
from services.datasets import DatasetError


def test_sample_dataset_has_a_few_hundred_labelled_sentences_in_balanced_topics() -> None:
    sample = datasets.sample_dataset()
    assert 200 <= len(sample.texts) <= 1000
    assert sample.labels is not None and len(sample.labels) == len(sample.texts)
    counts = pd.Series(sample.labels).value_counts()
    assert len(counts) >= 5 and counts.min() == counts.max()
    assert len(set(sample.texts)) == len(sample.texts)
    assert all(0 < len(text) < 200 for text in sample.texts)


def test_pasted_lines_become_texts_and_blank_lines_are_counted() -> None:
    found = datasets.texts_from_lines("  first text \n\n second text\n   \nthird")
    assert found.texts == ["first text", "second text", "third"]
    assert found.skipped_empty == 2 and found.labels is None


def test_csv_upload_with_chosen_text_and_label_columns_skips_empty_texts() -> None:
    raw = b'id,body,topic\n1,"Hello, world",greeting\n2,,empty\n3,Stocks fell,finance\n'
    frame = datasets.read_table(raw, "texts.csv")
    assert datasets.guess_text_column(frame) == "body"
    found = datasets.dataset_from_table(frame, "body", "topic")
    assert found.texts == ["Hello, world", "Stocks fell"]
    assert found.labels == ["greeting", "finance"]
    assert found.skipped_empty == 1


def test_jsonl_upload_reads_objects_and_names_a_bad_line() -> None:
    raw = b'{"text": "a cat", "label": "pets"}\n\n{"text": "a dog", "label": null}\n'
    frame = datasets.read_table(raw, "rows.jsonl")
    found = datasets.dataset_from_table(frame, "text", "label")
    assert found.texts == ["a cat", "a dog"] and found.labels == ["pets", ""]
    with pytest.raises(DatasetError, match="line 2 is not valid JSON"):
        datasets.read_table(b'{"text": "ok"}\n{"text": broken\n', "rows.jsonl")


def test_semicolon_separated_csv_is_split_into_its_columns() -> None:
    raw = "\ufefftext;label\ncafé crème;food\nsemi, with comma;x\n".encode()
    frame = datasets.read_table(raw, "excel.csv")
    found = datasets.dataset_from_table(frame, "text", "label")
    assert found.texts == ["café crème", "semi, with comma"] and found.labels == ["food", "x"]


def test_comma_csv_with_semicolons_in_texts_keeps_commas_as_separator() -> None:
    frame = datasets.read_table(b'text,label\n"a; b",x\n', "t.csv")
    assert list(frame.columns) == ["text", "label"] and frame["text"].tolist() == ["a; b"]


def test_json_file_holding_an_array_of_objects_is_read_like_jsonl() -> None:
    raw = b'[\n  {"text": "alpha", "label": "x"},\n  {"text": "beta", "label": null}\n]\n'
    found = datasets.dataset_from_table(datasets.read_table(raw, "rows.json"), "text", "label")
    assert found.texts == ["alpha", "beta"] and found.labels == ["x", ""]
    with pytest.raises(DatasetError, match="item 2 of the JSON array is not an object"):
        datasets.read_table(b'[{"text": "a"}, 3]', "rows.json")


def test_non_utf8_file_error_says_how_to_fix_it() -> None:
    with pytest.raises(DatasetError, match=r"latin1\.csv: the file is not UTF-8 .*save it as UTF-8"):
        datasets.read_table("text\ncafé\n".encode("latin-1"), "latin1.csv")


@pytest.mark.parametrize(
    ("raw", "name", "message"),
    [
        (b"a,b\n", "empty.csv", "no rows"),
        (b"\xff\xfe\x00bad", "latin.csv", "not UTF-8"),
        (b"text\nx\n", "notes.docx", "use a .csv"),
        (b"[1, 2]\n", "list.jsonl", "not a JSON object"),
    ],
)
def test_unusable_uploads_give_a_clear_error(raw: bytes, name: str, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        datasets.read_table(raw, name)


def test_missing_column_names_the_columns_that_exist() -> None:
    frame = datasets.read_table(b"a,b\n1,2\n", "t.csv")
    with pytest.raises(DatasetError, match=r"no column named 'text'.*'a', 'b'"):
        datasets.dataset_from_table(frame, "text")


def test_size_check_rejects_empty_input_and_more_than_the_limit() -> None:
    with pytest.raises(DatasetError, match="no texts to embed"):
        datasets.check_size(datasets.texts_from_lines("\n  \n"))
    with pytest.raises(DatasetError, match="more than the 3"):
        datasets.check_size(datasets.TextDataset(["a", "b", "c", "d"]), limit=3)
    datasets.check_size(datasets.TextDataset(["a"]))


def test_texts_over_a_known_model_limit_are_found() -> None:
    assert datasets.token_limit("all-MiniLM-L6-v2") == 256
    assert datasets.token_limit("paraphrase-MiniLM-L3-v2") == 128
    assert datasets.token_limit("text-embedding-3-small") == 8191
    assert datasets.token_limit("mystery-model") is None
    long_text = " ".join(["word"] * 300)
    assert datasets.estimate_tokens("Hello, world!") == 4
    assert datasets.over_limit(["short one", long_text, "also short"], 256) == [1]


def test_export_round_trips_through_csv_and_parquet() -> None:
    vectors = np.array([[0.1, 0.2, 0.3], [np.nan, np.nan, np.nan]], dtype=np.float32)
    coords = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    frame = datasets.export_frame(["a, b", "c"], vectors, labels=["x", "y"], clusters=[0, 1], coords=coords)
    csv = pd.read_csv(io.BytesIO(datasets.to_csv_bytes(frame)), keep_default_na=False)
    assert csv.columns.tolist() == ["text", "label", "cluster", "x", "y", "vector"]
    assert csv["text"].tolist() == ["a, b", "c"]
    assert np.allclose(json.loads(csv["vector"][0]), [0.1, 0.2, 0.3])
    assert csv["vector"][1] == ""
    formulas = datasets.export_frame(["=1+1", "-x"], vectors, labels=["@a", "ok"])
    csv = pd.read_csv(io.BytesIO(datasets.to_csv_bytes(formulas)), keep_default_na=False)
    assert csv["text"].tolist() == ["'=1+1", "'-x"] and csv["label"].tolist() == ["'@a", "ok"]
    table = pq.read_table(io.BytesIO(datasets.to_parquet_bytes(frame)))
    assert table.column_names == ["text", "label", "cluster", "x", "y", "vector"]
    assert np.allclose(table.column("vector")[0].as_py(), [0.1, 0.2, 0.3])
    assert table.column("y").to_pylist() == [2.0, 4.0]
