"""Spreadsheet cells safe to open: text that a spreadsheet would take for a formula is kept as text.

A cell whose text begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula (or
becomes one) in Excel, LibreOffice and WPS: a reason or a note typed on the floor as
``=HYPERLINK("http://…")`` would run when the report is opened (CSV/formula injection, OWASP). Such
text is prefixed with a single quote, which the spreadsheet shows as the text itself. Numbers, dates
and booleans pass unchanged, so cells keep their types.
"""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` as a cell may hold it: text starting like a formula gets a leading ``'``; anything else as is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
