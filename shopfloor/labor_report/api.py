"""``GET /api/v1/reports/labor?from=&to=&format=json|csv|xlsx``: labor per operator. Thin."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from common.api.base import ERRORS, ApiView
from common.period import PeriodError, days_parse
from shopfloor.labor_report.exports import report_csv, report_json, report_xlsx
from shopfloor.labor_report.selectors import labor_report

FORMATS = ("json", "csv", "xlsx")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class JsonAnswers(BaseContentNegotiation):
    """Answers (and errors) are JSON whatever ``format`` says: here ``format`` picks the download, not DRF's renderer."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = next(renderer for renderer in renderers if renderer.format == "json")
        return renderer, renderer.media_type


def report_period(params) -> tuple:
    """The production days asked for; a 400 naming ``from``, ``to`` or ``format`` when they are wrong."""
    try:
        first, last = days_parse(
            from_text=params.get("from"), to_text=params.get("to"), longest_days=settings.MES_LABOR_REPORT_MAX_DAYS
        )
    except PeriodError as error:
        raise ValidationError({error.field: [error.message]}) from None
    return first, last


class LaborReportView(ApiView):
    capabilities = {"GET": "labor_report.view"}
    content_negotiation_class = JsonAnswers

    @extend_schema(
        tags=["reports"],
        operation_id="reports_labor",
        summary="Labor per operator for payroll: clocked hours by day, shift, order and operation",
        description=(
            "Production days `from` to `to` (both required, included; at most `MES_LABOR_REPORT_MAX_DAYS`, default 93). "
            "Clocked time comes from the operators' labor sessions, cut along their work center's shifts (time outside "
            "every shift has shift `\"\"`); good and scrap from their confirmations (reversals negative) at the day and "
            "shift of `confirmed_at`. `standard_hours`: run time per piece × pieces reported + the setup time shared over "
            "the planned quantity; `efficiency` = standard ÷ clocked (null without clocked time). `format=csv` or `xlsx` "
            "answers a download with the same columns as `rows`; text starting with = + - @ or a tab or carriage return "
            "gets a leading apostrophe (no formulas). 400 naming `from`, `to` or `format` when one is missing or wrong."
        ),
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, required=True, description="First production day (YYYY-MM-DD)."),
            OpenApiParameter("to", OpenApiTypes.DATE, required=True, description="Last production day, included."),
            OpenApiParameter("format", OpenApiTypes.STR, enum=list(FORMATS), default="json", description="json, csv or xlsx."),
        ],
        responses={
            (200, "application/json"): OpenApiResponse(dict, description="`from`, `to`, `rows` and `operators` (a total per operator)."),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The rows as CSV (UTF-8 with BOM)."),
            (200, XLSX): OpenApiResponse(OpenApiTypes.BINARY, description="Sheets `labor` (the rows) and `operators`."),
            **ERRORS,
        },
    )
    def get(self, request: Request) -> Response | HttpResponse:
        answer = (request.query_params.get("format") or "json").strip().lower()
        if answer not in FORMATS:
            raise ValidationError({"format": [f"Must be one of {', '.join(FORMATS)}."]})
        first, last = report_period(request.query_params)
        report = labor_report(first_day=first, last_day=last)
        if answer == "json":
            return Response(report_json(report))
        name = f"labor-{first.isoformat()}-{last.isoformat()}.{answer}"
        if answer == "csv":
            response = HttpResponse(report_csv(report), content_type="text/csv; charset=utf-8")
        else:
            response = HttpResponse(report_xlsx(report), content_type=XLSX)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
