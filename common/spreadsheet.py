"""Cells bound for a spreadsheet (CSV or XLSX downloads), made safe against formula injection.

A spreadsheet program runs a cell whose text starts with ``=``, ``+``, ``-`` or ``@`` as a formula
(and a leading tab or carriage return can hide such a start), so a name typed in as
``=HYPERLINK("http://…")`` would become a live link or worse in whoever opens the export (OWASP,
"CSV injection"). ``safe_cell`` puts a leading apostrophe before such text, which shows the text as
it is; numbers, dates and other values pass unchanged (a negative *number* is not text).
"""

from __future__ import annotations

from typing import Any

#: How text that a spreadsheet would run as a formula starts.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` as a spreadsheet cell may hold it: text starting like a formula gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
