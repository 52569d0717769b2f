"""Quality holds and nonconformances (NCR) in the API. Thin views: parse, call one service or selector."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from common.api.base import ERRORS, ApiView, InboundWriteView, check_number, validated
from mes.api.serializers import KEY, QUANTITY, StrictSerializer
from mes.models import Hold, Nonconformance, NonconformanceDisposition
from mes.selectors.nonconformances import (
    hold_get,
    hold_json,
    holds_list,
    nonconformance_get,
    nonconformance_json,
    nonconformances_list,
)
from mes.services.dispositions import DispositionRequest, nonconformance_disposition
from mes.services.holds import HoldRequest, hold_place, hold_release
from mes.services.nonconformances import NonconformanceRequest, nonconformance_close, nonconformance_open

_OPTIONAL_TEXT = {"max_length": 64, "required": False, "allow_blank": True, "allow_null": True, "default": ""}
_REASON = {"max_length": 500, "allow_blank": False, "trim_whitespace": True}


def _texts(data: dict, *names: str) -> dict:
    return data | {name: (data.get(name) or "").strip() for name in names}


class HoldSerializer(StrictSerializer):
    work_order = serializers.CharField(**_OPTIONAL_TEXT)
    operation = serializers.IntegerField(min_value=1, max_value=9999, required=False, allow_null=True, default=None)
    lot = serializers.CharField(**_OPTIONAL_TEXT)
    serial = serializers.CharField(**_OPTIONAL_TEXT)
    item = serializers.CharField(**_OPTIONAL_TEXT)
    reason = serializers.CharField(**_REASON)


class HoldReleaseSerializer(StrictSerializer):
    reason = serializers.CharField(**_REASON)


class NoteSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class NonconformanceSerializer(StrictSerializer):
    work_order = serializers.CharField(**KEY)
    operation = serializers.IntegerField(min_value=1, max_value=9999)
    quantity = serializers.DecimalField(**QUANTITY, min_value=Decimal("0.001"))
    defect_code = serializers.CharField(**KEY)
    description = serializers.CharField(max_length=1000, required=False, allow_blank=True, allow_null=True, default="")
    serial = serializers.CharField(**_OPTIONAL_TEXT)
    lot = serializers.CharField(**_OPTIONAL_TEXT)


class DispositionSerializer(StrictSerializer):
    disposition = serializers.ChoiceField(choices=NonconformanceDisposition.Kind.values)
    quantity = serializers.DecimalField(**QUANTITY, min_value=Decimal("0.001"), required=False, allow_null=True, default=None)
    reason = serializers.CharField(**_REASON)
    defect_code = serializers.CharField(**_OPTIONAL_TEXT)


class HoldListView(InboundWriteView):
    capabilities = {"GET": "api.read", "POST": "hold.manage"}

    @extend_schema(
        tags=["holds"], summary="Quality holds, newest first (at most 500), by state and work order",
        parameters=[OpenApiParameter("state", str, enum=Hold.State.values), OpenApiParameter("work_order", str)],
        responses={200: dict, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        holds = holds_list(state=request.query_params.get("state", ""), work_order=request.query_params.get("work_order", ""))
        return Response({"results": [hold_json(hold) for hold in holds]})

    @extend_schema(
        tags=["holds"],
        summary="Place a quality hold on a work order (or one operation), a lot or a serial",
        description=(
            "Name exactly one of `work_order`, `lot` or `serial` (`operation` only with `work_order`; `item` when a lot code "
            "alone is not unique). A held order or operation refuses reports (409 `quality_hold`) on every path and a held "
            "order cannot be released or closed; a held lot or serial is not issued (`lot_on_hold`). 422 `hold_target_required`, "
            "`unknown_operation`, `ambiguous_lot`; 404 `unknown_work_order`, `lot_unknown`; 409 `work_order_not_holdable`."
        ),
        request=HoldSerializer,
        examples=[OpenApiExample("Hold an order", request_only=True, value={"work_order": "WO-1001", "reason": "suspect weld wire batch"})],
        responses={201: dict, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = _texts(validated(HoldSerializer, request.data), "work_order", "lot", "serial", "item")
        hold = hold_place(request=HoldRequest(**data), actor=request.user)
        return Response(hold_json(hold_get(hold_id=hold.pk)), status=status.HTTP_201_CREATED)


class HoldReleaseView(InboundWriteView):
    capabilities = {"POST": "hold.manage"}

    @extend_schema(
        tags=["holds"], summary="Release a quality hold, saying why",
        description=(
            "409 `hold_not_active` for a hold already released; 404 `unknown_hold`. A lot gets back the status it had before it was held. "
            "A hold of cause `quality_stop` (placed by the MES on an operation with too many failed or scrapped pieces) is released "
            "by quality only (403 `quality_stop_release_forbidden` otherwise): its NCR closes with the reason and the operation resumes."
        ),
        request=HoldReleaseSerializer,
        examples=[OpenApiExample("Checked and cleared", request_only=True, value={"reason": "wire batch tested good"})],
        responses={200: dict, **ERRORS},
    )
    def post(self, request: Request, hold_id: int) -> Response:
        data = validated(HoldReleaseSerializer, request.data)
        hold = hold_release(hold_id=check_number("id", hold_id), reason=data["reason"], actor=request.user)
        return Response(hold_json(hold_get(hold_id=hold.pk)))


class NonconformanceListView(InboundWriteView):
    capabilities = {"GET": "api.read", "POST": "nonconformance.open"}

    @extend_schema(
        operation_id="nonconformances_list",
        tags=["nonconformances"], summary="Nonconformances, newest first (at most 500), by state and work order",
        parameters=[OpenApiParameter("state", str, enum=Nonconformance.State.values), OpenApiParameter("work_order", str)],
        responses={200: dict, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        rows = nonconformances_list(state=request.query_params.get("state", ""), work_order=request.query_params.get("work_order", ""))
        return Response({"results": [nonconformance_json(row) for row in rows]})

    @extend_schema(
        tags=["nonconformances"], summary="Report a nonconformance by hand: its quantity goes on hold at the operation",
        description=(
            "`defect_code` is a reason code of kind `defect`. The quantity is of the pieces the operation reported good and "
            "not yet on hold. 422 `unknown_defect_code`, `defect_code_wrong_kind`, `quantity_exceeds_good`, `unknown_operation`; "
            "404 `unknown_work_order`; 409 `work_order_not_open`. A failing inspection result opens one by itself."
        ),
        request=NonconformanceSerializer,
        examples=[OpenApiExample(
            "Two frames with a cracked weld", request_only=True,
            value={"work_order": "WO-1001", "operation": 20, "quantity": "2", "defect_code": "DEF-CRACK", "description": "crack at the left joint"},
        )],
        responses={201: dict, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = _texts(validated(NonconformanceSerializer, request.data), "description", "serial", "lot")
        nonconformance = nonconformance_open(request=NonconformanceRequest(**data), actor=request.user)
        return Response(nonconformance_json(nonconformance_get(nonconformance_id=nonconformance.pk)), status=status.HTTP_201_CREATED)


class NonconformanceDetailView(ApiView):
    capabilities = {"GET": "api.read"}

    @extend_schema(operation_id="nonconformances_read", tags=["nonconformances"], summary="One nonconformance with its dispositions", responses={200: dict, **ERRORS})
    def get(self, request: Request, nonconformance_id: int) -> Response:
        return Response(nonconformance_json(nonconformance_get(nonconformance_id=check_number("id", nonconformance_id))))


class NonconformanceDispositionView(InboundWriteView):
    capabilities = {"POST": "nonconformance.disposition"}

    @extend_schema(
        tags=["nonconformances"], summary="Decide part or all of a nonconformance: scrap, rework, use as is or return to supplier",
        description=(
            "`quantity` left out: all still open. `scrap` books a scrap confirmation with the defect code (`defect_code` names "
            "one for an NCR a failed inspection opened), which reaches the ERP like any scrap; `rework` books a rework confirmation "
            "likewise and keeps the pieces on hold until a result of the operation judges them again; `use_as_is` is a concession "
            "recorded with its approver; `return_to_supplier` blocks the NCR's lot and queues a `return_to_supplier` message "
            "for the ERP. Scrapped, used or returned pieces leave the hold. 422 `quantity_exceeds_open`, `defect_code_required`, `lot_required`, "
            "`reinspection_impossible` (rework of an operation without characteristics); 409 `nonconformance_not_open`."
        ),
        request=DispositionSerializer,
        examples=[OpenApiExample("Scrap both", request_only=True, value={"disposition": "scrap", "reason": "crack cannot be welded over"})],
        responses={200: dict, **ERRORS},
    )
    def post(self, request: Request, nonconformance_id: int) -> Response:
        data = _texts(validated(DispositionSerializer, request.data), "defect_code")
        nonconformance_disposition(nonconformance_id=check_number("id", nonconformance_id), request=DispositionRequest(**data), actor=request.user)
        return Response(nonconformance_json(nonconformance_get(nonconformance_id=nonconformance_id)))


class NonconformanceCloseView(InboundWriteView):
    capabilities = {"POST": "nonconformance.disposition"}

    @extend_schema(
        tags=["nonconformances"], summary="Close a dispositioned nonconformance",
        description="409 `nonconformance_not_dispositioned` while some of its quantity is still to decide.",
        request=NoteSerializer,
        examples=[OpenApiExample("Closed after the review", request_only=True, value={"reason": "reviewed in the quality meeting"})],
        responses={200: dict, **ERRORS},
    )
    def post(self, request: Request, nonconformance_id: int) -> Response:
        data = validated(NoteSerializer, request.data or {})
        nonconformance_close(nonconformance_id=check_number("id", nonconformance_id), reason=data["reason"], actor=request.user)
        return Response(nonconformance_json(nonconformance_get(nonconformance_id=nonconformance_id)))
