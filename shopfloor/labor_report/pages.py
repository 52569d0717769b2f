"""The labor report's page (``/reports/labor/``): production days from/to, the table, the downloads."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_safe

from common.access import capability_required
from common.period import PeriodError, days_parse
from shopfloor.labor_report.selectors import labor_report
from shopfloor.shift_calendar import plant_zone

DEFAULT_DAYS = 7


@capability_required("labor_report.view")
@require_safe
def labor_report_page(request: HttpRequest) -> HttpResponse:
    today = timezone.now().astimezone(plant_zone()).date()
    from_text = request.GET.get("from") or (today - datetime.timedelta(days=DEFAULT_DAYS - 1)).isoformat()
    to_text = request.GET.get("to") or today.isoformat()
    context = {"from_text": from_text[:40], "to_text": to_text[:40], "max_days": settings.MES_LABOR_REPORT_MAX_DAYS}
    try:
        first, last = days_parse(from_text=from_text, to_text=to_text, longest_days=settings.MES_LABOR_REPORT_MAX_DAYS)
    except PeriodError as error:
        return render(request, "shopfloor/labor_report.html", context | {"period_error": error.message}, status=400)
    api = reverse("api-reports-labor")
    downloads = {
        answer: f"{api}?{urlencode({'from': first.isoformat(), 'to': last.isoformat(), 'format': answer})}"
        for answer in ("csv", "xlsx")
    }
    report = labor_report(first_day=first, last_day=last)
    return render(request, "shopfloor/labor_report.html", context | {"report": report, "downloads": downloads})
