"""The daily report's page: a production day and a line chosen, the report with its downloads."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from common.access import capability_required
from common.errors import DomainError
from shopfloor.reports.daily import daily_report, downtime_rows, report_day_default, report_day_parse, report_lines, summary_rows


@capability_required("report.view")
@require_safe
def daily_page(request: HttpRequest) -> HttpResponse:
    line = (request.GET.get("line") or "").strip()[:64]
    text = (request.GET.get("date") or "").strip()
    context = {"line": line, "lines": [name for name in report_lines() if name], "date_text": text[:40]}
    try:
        day = report_day_parse(text) if text else report_day_default(line=line)
        report = daily_report(day=day, line=line)
    except DomainError as error:
        return render(request, "shopfloor/daily_report.html", {**context, "error": error.message}, status=400 if error.code == "invalid_date" else 404)
    context.update(day=day, report=report, rows=summary_rows(report), stops=downtime_rows(report), date_text=day.isoformat())
    return render(request, "shopfloor/daily_report.html", context)
