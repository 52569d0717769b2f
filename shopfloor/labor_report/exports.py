"""The labor report as JSON, CSV and XLSX: the same columns in each, every text cell through
``common.spreadsheet.safe_cell`` (formula injection), numbers as numbers (typed cells in XLSX)."""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter

from common.spreadsheet import safe_cell
from shopfloor.labor_report.selectors import LaborReport

#: The columns of the rows, in the order of the CSV and XLSX (stable names a payroll import maps).
ROW_COLUMNS = (
    "day", "shift", "operator_badge", "operator_name", "work_order", "operation", "operation_name", "work_center",
    "clocked_hours", "good_qty", "scrap_qty", "standard_hours", "efficiency",
)
OPERATOR_COLUMNS = ("operator_badge", "operator_name", "clocked_hours", "good_qty", "scrap_qty", "standard_hours", "efficiency")


def report_json(report: LaborReport) -> dict[str, Any]:
    return {
        "from": report.first_day,
        "to": report.last_day,
        "rows": [
            {
                "day": row.day, "shift": row.shift, "operator_badge": row.badge, "operator_name": row.name,
                "work_order": row.work_order, "operation": row.sequence, "operation_name": row.operation,
                "work_center": row.work_center, "clocked_hours": row.clocked_hours, "good_qty": row.good,
                "scrap_qty": row.scrap, "standard_hours": row.standard_hours, "efficiency": row.efficiency,
            }
            for row in report.rows
        ],
        "operators": [
            {
                "operator_badge": total.badge, "operator_name": total.name, "clocked_hours": total.clocked_hours,
                "good_qty": total.good, "scrap_qty": total.scrap, "standard_hours": total.standard_hours,
                "efficiency": total.efficiency,
            }
            for total in report.operators
        ],
    }


def _cells(record: dict[str, Any], columns: tuple[str, ...]) -> list[Any]:
    return [safe_cell(record[column]) for column in columns]


def report_csv(report: LaborReport) -> str:
    """The rows, one line each, under a header of ``ROW_COLUMNS`` (UTF-8 with BOM, so spreadsheet programs read Chinese)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ROW_COLUMNS)
    for record in report_json(report)["rows"]:
        writer.writerow(["" if cell is None else cell for cell in _cells(record, ROW_COLUMNS)])
    return out.getvalue()


def _text(value: Any) -> Any:
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)  # control characters an XLSX cannot hold
    return value


def report_xlsx(report: LaborReport) -> bytes:
    """Two sheets: ``labor`` (the rows) and ``operators`` (a total per operator); numbers and dates typed."""
    book = Workbook()
    body = report_json(report)
    for index, (title, columns, records) in enumerate(
        (("labor", ROW_COLUMNS, body["rows"]), ("operators", OPERATOR_COLUMNS, body["operators"]))
    ):
        sheet = book.active if index == 0 else book.create_sheet()
        sheet.title = title
        sheet.append(list(columns))
        for record in records:
            sheet.append([_text(cell) for cell in _cells(record, columns)])
        for position, column in enumerate(columns, start=1):
            if column == "day":
                for (cell,) in sheet.iter_rows(min_row=2, min_col=position, max_col=position):
                    cell.number_format = "yyyy-mm-dd"
            sheet.column_dimensions[get_column_letter(position)].width = max(12, len(column) + 2)
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
