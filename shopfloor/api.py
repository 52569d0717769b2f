"""REST API of the shop floor: signal mappings of machines, operations on them, their OEE. Thin: parse, call, answer."""

from __future__ import annotations

from django.http import HttpResponse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from common.api.base import ERRORS, ApiView, InboundWriteView, check_key, check_number, validated
from common.errors import DomainError, ErrorKind
from common.period import PeriodError
from mes.models import Lot
from shopfloor.documents.labels import lot_label_pdf
from shopfloor.documents.views import document_language, unknown_language
from shopfloor.oee import equipment_oee_report
from shopfloor.services import (
    equipment_signals_get,
    equipment_signals_public,
    equipment_signals_set,
    equipment_signals_test,
    operation_start_on_equipment,
    operation_stop_on_equipment,
)
from shopfloor.station.access import station_of


class EquipmentSignalsView(InboundWriteView):
    capabilities = {"GET": "api.read", "PUT": "device_mapping.write"}

    @extend_schema(tags=["equipment"], summary="Where the machine's signals come from", responses={200: dict, **ERRORS})
    def get(self, request: Request, code: str) -> Response:
        return Response(equipment_signals_public(config=equipment_signals_get(equipment_code=check_key("code", code)).config))

    @extend_schema(
        tags=["equipment"],
        summary="Set the machine's signal mapping (Modbus TCP, OPC UA or MQTT); every bad field is named. "
        "A device password is answered as \"***\"; sending \"***\" back keeps the stored one",
        request=dict,
        examples=[
            OpenApiExample(
                "Modbus TCP: a good-parts counter and a running flag",
                value={
                    "protocol": "modbus", "host": "10.0.4.21", "port": 502, "unit_id": 1, "poll_interval_s": 1,
                    "signals": {
                        "good_count": {"register": 0, "kind": "holding", "type": "uint32", "word_order": "big"},
                        "running": {"register": 4, "kind": "holding", "type": "uint16"},
                    },
                },
                request_only=True,
            )
        ],
        responses={200: dict, 201: dict, **ERRORS},
    )
    def put(self, request: Request, code: str) -> Response:
        mapping, created = equipment_signals_set(equipment_code=check_key("code", code), config=request.data, actor=request.user)
        return Response(equipment_signals_public(config=mapping.config), status=201 if created else 200)


class EquipmentSignalsTestView(InboundWriteView):
    capabilities = {"POST": "device_mapping.test"}

    @extend_schema(tags=["equipment"], summary="Read the machine once with its mapping: live values", request=None, responses={200: dict, **ERRORS})
    def post(self, request: Request, code: str) -> Response:
        return Response(equipment_signals_test(equipment_code=check_key("code", code)))


class OperationEquipmentSerializer(serializers.Serializer):
    equipment = serializers.CharField(max_length=64, required=False, allow_blank=True)


class OperationStartView(InboundWriteView):
    capabilities = {"POST": "operation.run_on_equipment"}

    @extend_schema(tags=["work-orders"], summary="Start an operation on a machine: its counts are confirmed on it from now on",
                   request=OperationEquipmentSerializer, responses={200: dict, **ERRORS},
                   examples=[OpenApiExample("On a machine", value={"equipment": "CUT-01"}, request_only=True)])
    def post(self, request: Request, number: str, sequence: int) -> Response:
        data = validated(OperationEquipmentSerializer, request.data or {})
        if not data.get("equipment"):
            raise serializers.ValidationError({"equipment": ["Name the machine the operation starts on."]})
        assignment = operation_start_on_equipment(
            number=check_key("number", number), sequence=check_number("sequence", sequence, 9999), equipment_code=data["equipment"], actor=request.user
        )
        return Response({"work_order": number, "operation": sequence, "equipment": data["equipment"], "started_at": assignment.started_at})


class OperationStopView(InboundWriteView):
    capabilities = {"POST": "operation.run_on_equipment"}

    @extend_schema(tags=["work-orders"], summary="Stop counting machine output on an operation (one machine, or all)",
                   request=OperationEquipmentSerializer, responses={200: dict, **ERRORS},
                   examples=[OpenApiExample("One machine", value={"equipment": "CUT-01"}, request_only=True),
                             OpenApiExample("Every machine it runs on", value={}, request_only=True)])
    def post(self, request: Request, number: str, sequence: int) -> Response:
        data = validated(OperationEquipmentSerializer, request.data or {})
        stopped = operation_stop_on_equipment(
            number=check_key("number", number), sequence=check_number("sequence", sequence, 9999), equipment_code=data.get("equipment") or None, actor=request.user
        )
        return Response({"work_order": number, "operation": sequence, "stopped": stopped})


OEE_FIGURES = {
    "availability": serializers.FloatField(allow_null=True, help_text="run / planned; null when nothing was planned or recorded"),
    "performance": serializers.FloatField(allow_null=True, help_text="Σ(ideal cycle × count) / run; not capped at 1"),
    "quality": serializers.FloatField(allow_null=True, help_text="good / (good + scrap)"),
    "oee": serializers.FloatField(allow_null=True, help_text="availability × performance × quality"),
    "run_seconds": serializers.FloatField(),
    "down_seconds": serializers.FloatField(),
    "good": serializers.DecimalField(max_digits=20, decimal_places=3, coerce_to_string=False),
    "scrap": serializers.DecimalField(max_digits=20, decimal_places=3, coerce_to_string=False),
    "planned_seconds": serializers.FloatField(),
    "idle_seconds": serializers.FloatField(),
    "unknown_seconds": serializers.FloatField(help_text="the machine did not answer, or nothing was recorded"),
    "ideal_seconds": serializers.FloatField(help_text="Σ(ideal cycle × (good + scrap))"),
    "counts_without_ideal_cycle": serializers.DecimalField(max_digits=20, decimal_places=3, coerce_to_string=False),
}
OEE_RESPONSE = inline_serializer(
    "EquipmentOee",
    {
        "equipment": serializers.CharField(),
        "from": serializers.DateTimeField(),
        "to": serializers.DateTimeField(),
        **OEE_FIGURES,
        "losses": inline_serializer(
            "OeeLosses",
            {
                "downtime_by_reason": inline_serializer(
                    "OeeReasonLoss",
                    {"reason_code": serializers.CharField(), "name": serializers.CharField(), "seconds": serializers.FloatField(), "stops": serializers.IntegerField()},
                    many=True,
                ),
                "unexplained_seconds": serializers.FloatField(help_text="stops long enough to ask for a reason, with none given"),
                "short_stop_seconds": serializers.FloatField(help_text="stops shorter than MES_DOWNTIME_REASON_AFTER_SECONDS"),
                "unknown_seconds": serializers.FloatField(),
                "speed_loss_seconds": serializers.FloatField(help_text="run − ideal; negative when faster than the ideal cycle"),
                "scrap_seconds": serializers.FloatField(help_text="ideal cycle × scrap"),
                "scrap": serializers.DecimalField(max_digits=20, decimal_places=3, coerce_to_string=False),
            },
        ),
        "shifts": inline_serializer(
            "OeeShift",
            {"shift": serializers.CharField(), "day": serializers.DateField(), "from": serializers.DateTimeField(), "to": serializers.DateTimeField(), **OEE_FIGURES},
            many=True,
        ),
        "days": inline_serializer("OeeDay", {"day": serializers.DateField(), **OEE_FIGURES}, many=True),
    },
)


class EquipmentOeeView(ApiView):
    capabilities = {"GET": "api.read"}

    @extend_schema(
        tags=["equipment"],
        summary="OEE of a machine over a period, with its losses and a row per shift and per production day",
        description=(
            "Planned time comes from the machine's shifts (its own, else its work center's, else all day) and stops at now. "
            "A date alone for `to` means the end of that day. Without `from`: the start of the first shift of the production day "
            "now (before the first shift of a calendar day starts, the day before: a night shift's hours after midnight are its "
            "day's); without `to`: now. "
            "At most 93 days."
        ),
        parameters=[
            OpenApiParameter("from", OpenApiTypes.STR, description="ISO 8601 date or date-time (no offset: plant time)"),
            OpenApiParameter("to", OpenApiTypes.STR, description="ISO 8601 date or date-time, exclusive"),
        ],
        responses={200: OEE_RESPONSE, **ERRORS},
    )
    def get(self, request: Request, code: str) -> Response:
        try:
            report = equipment_oee_report(
                code=check_key("code", code), from_text=request.query_params.get("from"), to_text=request.query_params.get("to")
            )
        except PeriodError as error:
            raise serializers.ValidationError({error.field: [error.message]}) from None
        return Response(report.as_json())


# --- lot and serial labels ---------------------------------------------------------------------


class LotLabelView(ApiView):
    """``GET /api/v1/lots/{item}/{lot}/label.pdf`` (a serial is a lot): anyone who may trace, by token
    or session, and any station (its cookie), which prints the label of what it just reported."""

    capabilities = {"GET": "trace.view"}

    def check_permissions(self, request: Request) -> None:
        if station_of(request._request) is None:
            super().check_permissions(request)

    @extend_schema(
        tags=["lots"], summary="The label of a lot or serial (PDF with a QR code; ?lang=zh-hans|en)",
        parameters=[OpenApiParameter("lang", str, description="zh-hans or en; else the reader's language")],
        responses={(200, "application/pdf"): OpenApiTypes.BINARY, **ERRORS},
    )
    def get(self, request: Request, item_code: str, lot_code: str) -> HttpResponse:
        language = document_language(request._request)
        if language is None:
            return unknown_language()
        lot = Lot.objects.select_related("item", "unit", "produced_by").filter(
            item__code=check_key("item_code", item_code), code=check_key("lot_code", lot_code)
        ).first()
        if lot is None:
            raise DomainError(
                "lot_unknown", _("Item %(item)s has no lot %(lot)s.") % {"item": item_code, "lot": lot_code},
                kind=ErrorKind.NOT_FOUND, fields={"lot": lot_code},
            )
        response = HttpResponse(lot_label_pdf(lot, language=language), content_type="application/pdf")
        response["Content-Disposition"] = content_disposition_header(False, f"label-{lot.item.code}-{lot.code}-{language}.pdf")
        return response
