"""The daily execution report on paper: planned vs actual, OEE, the bottleneck and downtime by reason,
per line and work center. Built from ``shopfloor.reports.daily.DailyReport`` (no query of its own)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import override
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, Spacer

from shopfloor.documents.layout import (
    ACCENT,
    CONTENT_WIDTH,
    DATETIME_FORMAT,
    FILL,
    MUTED,
    HeavyText,
    check_language,
    format_quantity,
    grid,
    paragraph,
    paragraph_style,
    render,
)
from shopfloor.oee_charts import percent
from shopfloor.reports.daily import DailyReport, downtime_rows, summary_rows


def daily_report_pdf(report: DailyReport, *, language: str) -> bytes:
    """The report as a PDF in ``language`` ("zh-hans" or "en")."""
    check_language(language)
    with override(language):
        return _render(report)


def hours(value: Decimal) -> str:
    return format_quantity(Decimal(value).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _render(report: DailyReport) -> bytes:
    title = _("Daily execution report")
    line = report.line or _("all lines")
    subject = f"{report.day.isoformat()} · {line}"
    note = paragraph_style("note", size=8.5, color=MUTED, label=True)
    header = paragraph_style("header", size=8, color=MUTED, label=True)
    cell = paragraph_style("cell", size=8.5, leading=10.5)
    number = paragraph_style("number", size=8.5, leading=10.5, alignment=TA_RIGHT)
    rows = summary_rows(report)

    def label(row) -> str:
        if row.is_total:
            return _("Line %(line)s total") % {"line": row.line or "—"}
        return f"{row.code} {row.name}" + (" ★" if row.is_bottleneck else "")

    shaded = [("BACKGROUND", (0, index), (-1, index), FILL) for index, row in enumerate(rows, start=1) if row.is_total]
    plan = [[paragraph(text, header) for text in (
        _("Work center"), _("Planned"), _("Good"), _("Scrap"), _("Rework"), _("Completion"), _("Scrap rate"), _("OEE"),
    )]]
    for row in rows:
        figures = row.figures
        plan.append([paragraph(label(row), cell)] + [paragraph(text, number) for text in (
            format_quantity(figures.planned_qty), format_quantity(figures.good), format_quantity(figures.scrap),
            format_quantity(figures.rework), percent(figures.completion()), percent(figures.scrap_rate()), percent(figures.tally.oee()),
        )])
    load = [[paragraph(text, header) for text in (
        _("Work center"), _("Capacity (h)"), _("Earned (h)"), _("Utilisation"), _("Queue (operations)"), _("Queue (h)"),
    )]]
    for row in rows:
        figures = row.figures
        load.append([paragraph(label(row), cell)] + [paragraph(text, number) for text in (
            hours(figures.capacity_hours), hours(figures.earned_hours), percent(figures.utilisation()),
            str(figures.queue_operations), hours(figures.queue_hours),
        )])
    stops = downtime_rows(report)
    downtime = [[paragraph(text, header) for text in (_("Work center"), _("Reason"), _("Minutes"), _("Stops"))]]
    for stop in stops:
        downtime.append([
            paragraph(stop.work_center, cell), paragraph(f"{stop.reason_code} {stop.reason}".strip(), cell),
            paragraph(format_quantity(Decimal(str(round(stop.seconds / 60, 1)))), number), paragraph(str(stop.stops or ""), number),
        ])
    bottleneck = report.bottleneck
    made = formats.date_format(timezone.localtime(report.generated_at), DATETIME_FORMAT)
    flowables: list[Flowable] = [
        HeavyText(title, size=20),
        Spacer(0, 1.5 * mm),
        HeavyText(subject, size=15, color=ACCENT, rule=True, space_after=3 * mm),
        paragraph(_("Production day %(date)s, as of %(time)s. Completion = good ÷ planned; scrap rate = scrap ÷ (good + scrap).")
                  % {"date": report.day.isoformat(), "time": made}, note),
        HeavyText(_("Planned and actual"), size=12, rule=True, space_before=5 * mm, space_after=2 * mm),
        grid(plan, widths=[CONTENT_WIDTH - 7 * 18 * mm, *[18 * mm] * 7], style=shaded),
        CondPageBreak(30 * mm),
        HeavyText(_("Bottleneck: utilisation and queue"), size=12, rule=True, space_before=5 * mm, space_after=2 * mm),
        grid(load, widths=[CONTENT_WIDTH - 5 * 22 * mm, *[22 * mm] * 5], style=shaded),
        Spacer(0, 1.5 * mm),
        paragraph(
            _("Bottleneck: %(code)s (★).") % {"code": bottleneck.code} if bottleneck else _("No work center was loaded."), note
        ),
        CondPageBreak(30 * mm),
        HeavyText(_("Downtime by reason"), size=12, rule=True, space_before=5 * mm, space_after=2 * mm),
        grid(downtime, widths=[40 * mm, CONTENT_WIDTH - 80 * mm, 20 * mm, 20 * mm]) if stops else paragraph(_("No downtime."), note),
    ]
    return render(flowables, title=f"{title} {subject}", running_header=f"{title} {subject}", footer_center=subject)
