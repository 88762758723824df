"""Which columns of an upload hold text: numbers-only columns are never guessed as the text; counts in words."""

from __future__ import annotations

from services import datasets


def test_a_table_of_numbers_only_has_no_text_column() -> None:
    frame = datasets.read_table(b"id,score,when\n1,0.5,\n2,-3e4,\n3, 7 ,\n", "scores.csv")
    assert datasets.text_columns(frame) == []
    assert datasets.guess_text_column(frame) is None


def test_a_long_numeric_column_is_not_preferred_over_a_short_text_column() -> None:
    frame = datasets.read_table(b"id,amount,note\n1,123456789012345,ok\n2,987654321098765,no\n", "mixed.csv")
    assert datasets.text_columns(frame) == ["note"]
    assert datasets.guess_text_column(frame) == "note"


def test_a_conventional_name_holding_only_numbers_is_not_the_text() -> None:
    frame = datasets.read_table(b"text,comment\n1,fine weather\n2,heavy rain\n", "named.csv")
    assert datasets.guess_text_column(frame) == "comment"


def test_counts_are_plural_only_above_one() -> None:
    assert datasets.counted(1) == "1 text"
    assert datasets.counted(0) == "0 texts"
    assert datasets.counted(2) == "2 texts"
    assert datasets.counted(10_000) == "10,000 texts"
