"""The planner's charts: the load of each work center over the next days and the Gantt of the
stored schedule per line (server-rendered SVG, ``charts``), read through ``selectors``."""

from __future__ import annotations

import datetime

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from common.access import capability_required
from mes.selectors.planning import production_lines
from shopfloor.planning.charts import gantt_chart, is_overloaded, load_chart
from shopfloor.planning.selectors import day_start, line_schedules, load_overview
from shopfloor.shift_calendar import plant_production_day, plant_zone

LOAD_DAYS = 14
GANTT_DAYS = 14  # at most; fewer when the schedule ends sooner


def _line(request: HttpRequest) -> str:
    return (request.GET.get("line") or "").strip()[:64]


@capability_required("planning.view")
@require_safe
def load_page(request: HttpRequest) -> HttpResponse:
    line = _line(request)
    today = plant_production_day(lines=[line] if line else None).day  # at 02:30, the night shift's day still
    centers = [
        {
            "center": center,
            "chart": load_chart(days),
            "days": [
                {"day": day, "is_overloaded": is_overloaded(load_hours=day.load_hours, capacity_hours=day.capacity_hours)}
                for day in days
            ],
        }
        for center, days in load_overview(first_day=today, days=LOAD_DAYS, line=line)
    ]
    context = {"centers": centers, "line": line, "lines": production_lines(), "first_day": today, "last_day": today + datetime.timedelta(days=LOAD_DAYS - 1)}
    return render(request, "mes/planning/load.html", context)


@capability_required("planning.view")
@require_safe
def gantt_page(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    line = _line(request)
    start = day_start(plant_production_day(now=now, lines=[line] if line else None).day)
    lines, operations, orders = line_schedules(start=start, end=start + datetime.timedelta(days=GANTT_DAYS), line=line)
    last = max((operation.finish for operation in operations), default=now)
    shown_days = min(max((last.astimezone(plant_zone()).date() - start.date()).days + 1, 1), GANTT_DAYS)
    end = day_start(start.date() + datetime.timedelta(days=shown_days))
    late = {order.number for order in orders if order.is_late}
    charts = []
    for name, centers in lines:
        codes = {center.code for center in centers}
        charts.append({
            "line": name,
            "chart": gantt_chart(
                start=start, end=end, centers=[(center.code, center.name) for center in centers],
                operations=[operation for operation in operations if operation.work_center in codes], late=late, now=now,
            ),
        })
    context = {"charts": charts, "orders": orders, "line": line, "lines": production_lines(), "start": start, "end": end}
    return render(request, "mes/planning/gantt.html", context)
