"""``GET /api/v1/reports/daily``: the daily execution report as JSON, PDF or XLSX. Thin."""

from __future__ import annotations

from django.http import HttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from common.api.base import ERRORS, ApiView, check_key
from common.errors import DomainError
from shopfloor.documents.daily_report import daily_report_pdf
from shopfloor.documents.views import document_language
from shopfloor.reports.daily import daily_report, report_day_default, report_day_parse
from shopfloor.reports.xlsx import daily_report_xlsx

FORMATS = ("json", "pdf", "xlsx")


DOWNTIME = inline_serializer("DailyReportDowntime", {
    "reason_code": serializers.CharField(), "name": serializers.CharField(), "seconds": serializers.FloatField(), "stops": serializers.IntegerField(),
}, many=True)


def _figures() -> dict:
    """The figures of a work center or a line (``shopfloor.reports.daily.Figures.as_json``)."""
    ratio = {"allow_null": True, "help_text": "null when its denominator is 0"}
    return {
        "planned_qty": serializers.FloatField(), "planned_hours": serializers.FloatField(), "planned_operations": serializers.IntegerField(),
        "good_qty": serializers.FloatField(), "scrap_qty": serializers.FloatField(), "rework_qty": serializers.FloatField(),
        "completion": serializers.FloatField(**ratio), "scrap_rate": serializers.FloatField(**ratio),
        "oee": serializers.DictField(help_text="availability, performance, quality, oee (null when unknown) and the seconds behind them, as /equipment/{code}/oee"),
        "downtime_by_reason": DOWNTIME,
        "unexplained_downtime_seconds": serializers.FloatField(), "short_stop_seconds": serializers.FloatField(),
        "capacity_hours": serializers.FloatField(), "earned_hours": serializers.FloatField(help_text="standard hours of the confirmed quantities"),
        "utilisation": serializers.FloatField(**ratio), "queue_operations": serializers.IntegerField(), "queue_hours": serializers.FloatField(),
    }


DAILY_REPORT = inline_serializer("DailyReport", {
    "date": serializers.DateField(), "line": serializers.CharField(allow_null=True), "generated_at": serializers.DateTimeField(),
    "bottleneck": serializers.CharField(allow_null=True, help_text="the work center with the highest utilisation"),
    "lines": inline_serializer("DailyReportLine", {
        "line": serializers.CharField(),
        "totals": inline_serializer("DailyReportFigures", _figures()),
        "work_centers": inline_serializer("DailyReportWorkCenter", {
            "code": serializers.CharField(), "name": serializers.CharField(),
            "from": serializers.DateTimeField(), "to": serializers.DateTimeField(help_text="the work center's production day"),
            "plan_source": serializers.ChoiceField(choices=["recorded", "schedule", "none"]),
            "is_bottleneck": serializers.BooleanField(), **_figures(),
        }, many=True),
    }, many=True),
})
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class FormatNamesTheDownload(DefaultContentNegotiation):
    """``?format=`` names what to download (json, pdf, xlsx), not one of DRF's renderers; errors answer JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class DailyReportView(ApiView):
    capabilities = {"GET": "report.view"}
    renderer_classes = [JSONRenderer]
    content_negotiation_class = FormatNamesTheDownload

    @extend_schema(
        tags=["reports"],
        operation_id="reports_daily_retrieve",
        summary="The daily execution report of a production day, per line and work center",
        description=(
            "Per work center and line: planned vs actual (planned from the schedule as recorded when the day began), "
            "completion, scrap rate, downtime by reason, OEE (as `/equipment/{code}/oee` computes it) and the bottleneck "
            "(utilisation and queue). The production day is the one the board and OEE use: from the first shift that "
            "starts on `date` to the end of its last. 400 `invalid_request` naming `date`, `format` or `lang`; 404 `unknown_line`."
        ),
        parameters=[
            OpenApiParameter("date", OpenApiTypes.DATE, description="The production day (YYYY-MM-DD); default: today's."),
            OpenApiParameter("line", OpenApiTypes.STR, description="Only this line; default: every line."),
            OpenApiParameter("format", OpenApiTypes.STR, enum=list(FORMATS), default="json"),
            OpenApiParameter("lang", OpenApiTypes.STR, description="PDF and XLSX: zh-hans or en; else the reader's language."),
        ],
        responses={
            (200, "application/json"): DAILY_REPORT,
            (200, "application/pdf"): OpenApiTypes.BINARY,
            (200, XLSX): OpenApiTypes.BINARY,
            **ERRORS,
        },
    )
    def get(self, request: Request) -> Response | HttpResponse:
        kind = request.query_params.get("format", "json") or "json"
        if kind not in FORMATS:
            raise ValidationError({"format": [f"Must be one of {', '.join(FORMATS)}."]})
        line = request.query_params.get("line", "")
        line = check_key("line", line) if line else ""
        text = request.query_params.get("date", "")
        try:
            day = report_day_parse(text) if text else report_day_default(line=line)
        except DomainError as error:
            if error.code == "invalid_date":
                raise ValidationError({"date": [error.message]}, code="invalid_date") from None
            raise
        report = daily_report(day=day, line=line)
        if kind == "json":
            return Response(report.as_json())
        language = document_language(request._request)
        if language is None:
            raise ValidationError({"lang": ["Must be zh-hans or en."]})
        name = f"daily-report-{day.isoformat()}{'-' + line if line else ''}"
        if kind == "pdf":
            response = HttpResponse(daily_report_pdf(report, language=language), content_type="application/pdf")
            response["Content-Disposition"] = content_disposition_header(False, f"{name}.pdf")
        else:
            response = HttpResponse(daily_report_xlsx(report, language=language), content_type=XLSX)
            response["Content-Disposition"] = content_disposition_header(True, f"{name}.xlsx")
        return response
