"""Pages about machines for supervisors, planners and quality: OEE overview and detail, unassigned production."""

from __future__ import annotations

import datetime

from django.contrib import messages as flash
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from common.access import capability_required
from common.errors import DomainError
from common.period import PeriodError
from mes.models import ReasonCode
from shopfloor.oee import equipment_board_rows, equipment_oee_page
from shopfloor.oee_charts import timeline_chart, trend_chart
from shopfloor.production import scrap_reason_default
from shopfloor.selectors import unassigned_production_rows
from shopfloor.services import unassigned_production_assign, unassigned_production_dismiss
from shopfloor.shift_calendar import plant_production_day, plant_zone

TRENDS = {"day": 14, "shift": 7}  # bars per production day over 14 days, or per shift over 7


@capability_required("oee.view")
@require_safe
def oee_overview(request: HttpRequest) -> HttpResponse:
    rows = equipment_board_rows(with_today=True)
    template = "shopfloor/oee_overview.html#oee-table" if request.htmx else "shopfloor/oee_overview.html"
    return render(request, template, {"rows": rows, "checked_at": timezone.now(), "production_day": plant_production_day()})


@capability_required("oee.view")
@require_safe
def oee_detail(request: HttpRequest, code: str) -> HttpResponse:
    trend = request.GET.get("trend") if request.GET.get("trend") in TRENDS else "day"
    from_text, to_text = request.GET.get("from") or None, request.GET.get("to") or None
    context = {"code": code, "trend_kind": trend, "from_text": from_text or "", "to_text": to_text or ""}
    try:
        page = equipment_oee_page(code=code, from_text=from_text, to_text=to_text, trend_days=TRENDS[trend])
    except DomainError as error:
        return render(request, "shopfloor/oee_detail.html", context | {"missing": error.message}, status=404)
    except PeriodError as error:
        return render(request, "shopfloor/oee_detail.html", context | {"period_error": error.message}, status=400)
    if trend == "shift":
        rows = [(f"{entry.span.day:%m-%d} {entry.span.shift}", entry.tally) for entry in page.trend.shifts]
    else:
        rows = [(f"{day:%m-%d}", tally) for day, tally in page.trend.days()]
    report = page.report
    return render(
        request,
        "shopfloor/oee_detail.html",
        context
        | {
            "page": page,
            "machine": report.equipment,
            "figures": report.total.figures(),
            "losses": report.total.losses(report.reasons),
            "trend": trend_chart(rows),
            "trend_rows": rows,
            "timeline": timeline_chart(page.timeline_start, page.timeline_end, page.timeline, page.planned),
            "last_week": {"from": _plant_time(page.last_week[0]), "to": _plant_time(page.last_week[1])},
        },
    )


def _plant_time(moment: datetime.datetime) -> str:
    """A moment as the period form takes it: ISO 8601 in plant time, to the minute, without offset."""
    return moment.astimezone(plant_zone()).strftime("%Y-%m-%dT%H:%M")


MAX_ID = 2**63 - 1


@capability_required("unassigned_production.resolve")
@require_http_methods(["GET", "POST"])
def unassigned_production_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        _unassigned_decide(request)
        return redirect(request.get_full_path())
    resolved = request.GET.get("show") == "resolved"
    return render(
        request,
        "shopfloor/unassigned_production.html",
        {
            "rows": unassigned_production_rows(resolved=resolved),
            "resolved": resolved,
            "scrap_reasons": ReasonCode.objects.filter(kind=ReasonCode.Kind.SCRAP).order_by("code"),
            "scrap_reason_default": scrap_reason_default(),
        },
    )


def _unassigned_decide(request: HttpRequest) -> None:
    """Assign or dismiss one row as the form says; the outcome (or the refusal) is flashed."""
    row_text = request.POST.get("row", "")
    if not row_text.isdigit() or int(row_text) > MAX_ID:
        flash.error(request, _("Choose a row."))
        return
    row_id = int(row_text)
    try:
        if request.POST.get("action") == "dismiss":
            row = unassigned_production_dismiss(row_id=row_id, reason=request.POST.get("reason", "")[:500], actor=request.user)
            flash.success(request, _("Dismissed the counts of %(code)s.") % {"code": row.equipment.code})
            return
        number, _slash, sequence = request.POST.get("operation", "").rpartition("/")
        if not number or not sequence.isdigit() or not 1 <= int(sequence) <= 9999:
            flash.error(request, _("Choose the operation to confirm the counts on."))
            return
        row = unassigned_production_assign(
            row_id=row_id, work_order=number[:64], sequence=int(sequence),
            scrap_reason_code=request.POST.get("scrap_reason", "")[:64], actor=request.user,
        )
        flash.success(
            request, _("Confirmed the counts of %(code)s on %(operation)s.") % {"code": row.equipment.code, "operation": row.resolution_note}
        )
    except DomainError as error:
        flash.error(request, error.message)
