"""REST API of reconciliation: the drifts between MES and ERP, and their repair. Thin: parse, call, answer."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from common.api.base import ERRORS, ApiView, check_number, validated
from erp_sync import reconciliation
from erp_sync.api import ReasonSerializer, reason_example
from erp_sync.models import Drift

DRIFT_KINDS = list(Drift.Kind.values)


class DriftListView(ApiView):
    capabilities = {"GET": "api.read"}

    @extend_schema(
        tags=["erp-sync"],
        summary="Drifts between MES and ERP totals, per order and operation, with the last reconciliation run",
        parameters=[
            OpenApiParameter("status", enum=list(reconciliation.DRIFT_STATUSES), description="default open"),
            OpenApiParameter("work_order", str),
            OpenApiParameter("kind", enum=DRIFT_KINDS),
        ],
        responses={200: dict, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        status = request.query_params.get("status", "open")
        if status not in reconciliation.DRIFT_STATUSES:
            raise serializers.ValidationError({"status": [f"Must be one of {', '.join(reconciliation.DRIFT_STATUSES)}."]})
        kind = request.query_params.get("kind")
        if kind is not None and kind not in DRIFT_KINDS:
            raise serializers.ValidationError({"kind": [f"Must be one of {', '.join(DRIFT_KINDS)}."]})
        work_order = (request.query_params.get("work_order") or "")[:64] or None
        return Response(
            {
                "results": reconciliation.drift_list(status=status, work_order=work_order, kind=kind),
                "open_by_kind": reconciliation.drift_counts(),
                "last_run": reconciliation.reconciliation_run_latest(),
            }
        )


class DriftRepairView(ApiView):
    capabilities = {"POST": "erp_sync.resolve"}

    @extend_schema(
        tags=["erp-sync"],
        summary="Repair a drift (with a reason; audited): resend what the ERP is missing, queue the cancellation of what it holds extra (both through the outbox)",
        request=ReasonSerializer,
        examples=reason_example("The ERP lost the posting in the 3 December outage."),
        responses={200: dict, **ERRORS},
    )
    def post(self, request: Request, drift_id: int) -> Response:
        drift_id = check_number("id", drift_id)
        data = validated(ReasonSerializer, request.data)
        reconciliation.drift_repair(drift_id=drift_id, reason=data["reason"], actor=request.user)
        return Response(reconciliation.drift_get(drift_id))
