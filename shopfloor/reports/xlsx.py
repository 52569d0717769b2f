"""The daily execution report as a workbook: typed cells (numbers as numbers, ratios as percentages),
every text through ``common.spreadsheet.safe_cell`` (names and reasons come from the ERP and the floor)."""

from __future__ import annotations

import io
from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import override
from openpyxl import Workbook
from openpyxl.styles import Font

from common.spreadsheet import safe_cell
from shopfloor.reports.daily import DailyReport, downtime_rows, summary_rows

PERCENT = "0.0%"
NUMBER = "0.###"


def _number(value) -> float | None:
    return None if value is None else float(value) if isinstance(value, Decimal) else value


def daily_report_xlsx(report: DailyReport, *, language: str) -> bytes:
    """Two sheets, summary and downtime, headed in ``language``."""
    with override(language):
        workbook = Workbook()
        summary = workbook.active
        summary.title = _("Summary")[:31]
        summary.append([safe_cell(_("Daily execution report")), report.day, safe_cell(report.line or _("all lines"))])
        summary["B1"].number_format = "yyyy-mm-dd"
        headings = [
            _("Line"), _("Work center"), _("Name"), _("Planned"), _("Good"), _("Scrap"), _("Rework"), _("Completion"), _("Scrap rate"),
            _("Availability"), _("Performance"), _("Quality"), _("OEE"), _("Capacity (h)"), _("Earned (h)"), _("Utilisation"),
            _("Queue (operations)"), _("Queue (h)"), _("Bottleneck"),
        ]
        summary.append([safe_cell(text) for text in headings])
        for cell in summary[2]:
            cell.font = Font(bold=True)
        percent_columns = {8, 9, 10, 11, 12, 13, 16}
        for row in summary_rows(report):
            figures = row.figures
            tally = figures.tally
            values = [
                safe_cell(row.line), safe_cell(row.code or _("total")), safe_cell(row.name),
                _number(figures.planned_qty), _number(figures.good), _number(figures.scrap), _number(figures.rework),
                figures.completion(), figures.scrap_rate(),
                *(None if value is None else float(value) for value in (tally.availability(), tally.performance(), tally.quality(), tally.oee())),
                _number(figures.capacity_hours), _number(figures.earned_hours), figures.utilisation(),
                figures.queue_operations, _number(figures.queue_hours), row.is_bottleneck,
            ]
            summary.append(values)
            for column in percent_columns:
                summary.cell(row=summary.max_row, column=column).number_format = PERCENT
            if row.is_total:
                for cell in summary[summary.max_row]:
                    cell.font = Font(bold=True)
        downtime = workbook.create_sheet(_("Downtime")[:31])
        downtime.append([safe_cell(text) for text in (_("Line"), _("Work center"), _("Reason code"), _("Reason"), _("Minutes"), _("Stops"))])
        for cell in downtime[1]:
            cell.font = Font(bold=True)
        for stop in downtime_rows(report):
            downtime.append([
                safe_cell(stop.line), safe_cell(stop.work_center), safe_cell(stop.reason_code), safe_cell(stop.reason),
                round(stop.seconds / 60, 2), stop.stops,
            ])
        buffer = io.BytesIO()
        workbook.save(buffer)
        return buffer.getvalue()
