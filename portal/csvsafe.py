"""CSV cells that spreadsheets will not run as formulas (every CSV the portal writes uses these).

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading
apostrophe (OWASP "CSV injection"): Excel, LibreOffice and Google Sheets then show it as text.
"""
from __future__ import annotations

from typing import Any, TypeVar, overload

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

_T = TypeVar("_T")


@overload
def csv_cell(value: str) -> str: ...


@overload
def csv_cell(value: _T) -> _T: ...


def csv_cell(value: Any) -> Any:
    """*value*, neutralised if it is text a spreadsheet would read as a formula (other types unchanged)."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value


def csv_safe(values: list[Any]) -> list[Any]:
    return [csv_cell(v) for v in values]


def csv_safe_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: csv_cell(v) for k, v in row.items()}
