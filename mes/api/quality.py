"""Inspections in the API: plans per routing operation, results, an order's inspections. Thin views."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from common.api.base import ERRORS, ApiView, InboundWriteView, check_key, check_number, validated
from common.period import PeriodError
from mes.api.serializers import KEY, StrictSerializer
from mes.models import InspectionCharacteristic
from mes.models.quality import MEASURE
from mes.selectors.quality import (
    characteristic_json,
    inspection_plan_get,
    inspection_plan_rows,
    inspection_result_get,
    result_json,
    work_order_inspections,
)
from mes.selectors.spc import spc_json, spc_report
from mes.services.quality import (
    InspectionRequest,
    inspection_plan_set,
    inspection_record,
    inspector_check,
)

_MEASURE = {**MEASURE, "required": False, "allow_null": True, "default": None}


class SamplingSerializer(StrictSerializer):
    rule = serializers.ChoiceField(choices=InspectionCharacteristic.Sampling.values)
    n = serializers.IntegerField(required=False, allow_null=True, default=None, max_value=1_000_000)


class CharacteristicSerializer(StrictSerializer):
    code = serializers.CharField(**KEY)
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=InspectionCharacteristic.Kind.values)
    nominal = serializers.DecimalField(**_MEASURE)
    lower_limit = serializers.DecimalField(**_MEASURE)
    upper_limit = serializers.DecimalField(**_MEASURE)
    unit = serializers.CharField(max_length=16, required=False, allow_blank=True, allow_null=True, default="")
    sampling = SamplingSerializer()
    mandatory = serializers.BooleanField()


class InspectionPlanSerializer(StrictSerializer):
    characteristics = CharacteristicSerializer(many=True, max_length=200)


class InspectionResultSerializer(StrictSerializer):
    client_id = serializers.UUIDField()
    work_order = serializers.CharField(**KEY)
    operation = serializers.IntegerField(min_value=1, max_value=9999)
    characteristic = serializers.CharField(**KEY)
    value = serializers.DecimalField(**_MEASURE)
    passed = serializers.BooleanField(required=False, allow_null=True, default=None)
    sample_no = serializers.IntegerField(min_value=1, max_value=10_000_000, required=False, allow_null=True, default=None)
    serial = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True, default="")
    lot = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True, default="")
    inspector_badge = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True, default="")
    equipment = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True, default="")


def _plan_body(item_code: str, sequence: int, rows: list[InspectionCharacteristic]) -> dict[str, Any]:
    return {"item": item_code, "sequence": sequence, "characteristics": [characteristic_json(row) for row in rows]}


class InspectionPlanView(InboundWriteView):
    capabilities = {"GET": "api.read", "PUT": "inspection_plan.write"}

    @extend_schema(tags=["inspections"], summary="The inspection plan of an item's routing operation", responses={200: dict, **ERRORS})
    def get(self, request: Request, item_code: str, sequence: int) -> Response:
        item_code, sequence = check_key("item", item_code), check_number("sequence", sequence, 9999)
        return Response(_plan_body(item_code, sequence, inspection_plan_get(item_code=item_code, sequence=sequence)))

    @extend_schema(
        tags=["inspections"],
        summary="Replace the inspection plan of an item's routing operation (idempotent): 201 new, 200 updated or unchanged",
        description=(
            "Copied into an order when it is released, like the routing. Refusals (422): `limits_not_ordered` (lower < upper, "
            "the nominal between), `limits_required` (a measured characteristic needs a limit), `limits_on_attribute`, "
            "`invalid_sampling` (every_n needs n >= 1; n only for every_n), `unknown_unit`, `duplicate_characteristic`; 404 "
            "`unknown_routing_operation`."
        ),
        request=InspectionPlanSerializer,
        examples=[
            OpenApiExample(
                "A length checked on the first piece, a visual check on every report", request_only=True,
                value={"characteristics": [
                    {"code": "LEN", "name": "Length", "kind": "measured", "nominal": "100", "lower_limit": "99.5", "upper_limit": "100.5",
                     "unit": "MM", "sampling": {"rule": "first_piece"}, "mandatory": True},
                    {"code": "LOOK", "name": "Visual", "kind": "attribute", "sampling": {"rule": "per_report"}, "mandatory": True},
                ]},
            )
        ],
        responses={200: dict, 201: dict, **ERRORS},
    )
    def put(self, request: Request, item_code: str, sequence: int) -> Response:
        item_code, sequence = check_key("item", item_code), check_number("sequence", sequence, 9999)
        data = validated(InspectionPlanSerializer, request.data)
        result = inspection_plan_set(item_code=item_code, sequence=sequence, characteristics=data["characteristics"], actor=request.user)
        rows = inspection_plan_rows(item_code=item_code, sequence=sequence)
        return Response(_plan_body(item_code, sequence, rows), status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class InspectionCreateView(ApiView):
    capabilities = {"POST": "inspection.record"}

    @extend_schema(
        tags=["inspections"],
        summary="Record an inspection result; a resend with the same client_id answers the original",
        description=(
            "A measured characteristic takes `value`, judged against its limits by the server (`passed` in the answer); an "
            "attribute takes `passed`. `sample_no` left out: the sample due next. 422 `value_required`, `passed_required`, "
            "`value_or_passed`, `unknown_characteristic`, `unknown_inspector`; 409 `client_id_conflict`. An operator's token "
            "may name only its own badge as `inspector_badge` (403 `badge_not_bound`)."
        ),
        request=InspectionResultSerializer,
        examples=[
            OpenApiExample(
                "A measured first piece", request_only=True,
                value={"client_id": "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f", "work_order": "WO-1001", "operation": 10,
                       "characteristic": "LEN", "value": "100.12", "sample_no": 1, "inspector_badge": "E1001"},
            )
        ],
        responses={201: dict, 200: dict, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = validated(InspectionResultSerializer, request.data)
        for name in ("serial", "lot", "inspector_badge", "equipment"):
            data[name] = (data.get(name) or "").strip()
        inspection_request = InspectionRequest(**data)
        inspector_check(actor=request.user, badge=inspection_request.inspector_badge)
        outcome = inspection_record(request=inspection_request, actor=request.user)
        return Response(result_json(inspection_result_get(result_id=outcome.result.pk)), status=status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK)


class WorkOrderInspectionsView(ApiView):
    capabilities = {"GET": "api.read"}

    @extend_schema(
        tags=["inspections"],
        summary="An order's inspections per operation: characteristics, what is due now and why, results",
        responses={200: dict, **ERRORS},
    )
    def get(self, request: Request, key: str) -> Response:
        return Response(work_order_inspections(number=check_key("number", key)))


class SpcView(ApiView):
    """``GET /api/v1/spc/{item_code}/{sequence}/{characteristic}?from=&to=``: the control chart's numbers."""

    capabilities = {"GET": "api.read"}

    @extend_schema(
        tags=["inspections"],
        summary="Control chart of a measured characteristic: mean, sigma, limits, Cp/Cpk and Western Electric violations",
        parameters=[
            OpenApiParameter("from", str, description="ISO 8601 date or date-time (no offset: plant time); default 30 days ago"),
            OpenApiParameter("to", str, description="ISO 8601 date or date-time; a date alone means the end of that day; default now"),
        ],
        responses={200: dict, **ERRORS},
    )
    def get(self, request: Request, item_code: str, sequence: int, characteristic: str) -> Response:
        try:
            report = spc_report(
                item_code=check_key("item_code", item_code), sequence=check_number("sequence", sequence, maximum=9999),
                characteristic=check_key("characteristic", characteristic),
                from_text=request.query_params.get("from"), to_text=request.query_params.get("to"),
            )
        except PeriodError as error:
            raise serializers.ValidationError({error.field: [error.message]}) from None
        return Response(spc_json(report))
