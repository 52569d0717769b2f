"""``GET /api/v1/trace``: the genealogy of a lot or serial, backward or forward. Thin: parse, call the selector, answer."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from common.api.base import ERRORS, ApiView, check_key
from mes.selectors.trace import BACKWARD, DIRECTIONS, trace

_DECIMAL = {"max_digits": 20, "decimal_places": 3, "coerce_to_string": False}


class _Nodes(serializers.ListField):
    """The nested nodes, of the same shape as their parent (the schema cannot recurse inline)."""

    child = serializers.DictField()


TRACE_RESPONSE = inline_serializer(
    "TraceNode",
    {
        "kind": serializers.ChoiceField(choices=["lot", "serial"]),
        "item": serializers.CharField(),
        "code": serializers.CharField(),
        "quantity": serializers.DecimalField(
            **_DECIMAL, required=False, help_text="backward, below the top: the quantity net-issued to the order above"
        ),
        "produced_by": inline_serializer(
            "TraceProducedBy",
            {
                "work_order": serializers.CharField(),
                "operations": inline_serializer(
                    "TraceOperation",
                    {
                        "sequence": serializers.IntegerField(),
                        "name": serializers.CharField(),
                        "confirmations": inline_serializer(
                            "TraceConfirmation",
                            {
                                "id": serializers.UUIDField(),
                                "at": serializers.DateTimeField(),
                                "operator_badge": serializers.CharField(allow_null=True),
                                "equipment": serializers.CharField(allow_null=True, help_text="the machine, when a machine reported it"),
                                "station": serializers.CharField(allow_null=True),
                                "good_qty": serializers.DecimalField(**_DECIMAL),
                                "scrap_qty": serializers.DecimalField(**_DECIMAL),
                            },
                            many=True,
                        ),
                        "inspections": inline_serializer(
                            "TraceInspection",
                            {
                                "id": serializers.UUIDField(),
                                "characteristic": serializers.CharField(),
                                "name": serializers.CharField(),
                                "sample_no": serializers.IntegerField(),
                                "value": serializers.DecimalField(max_digits=18, decimal_places=6, coerce_to_string=False, allow_null=True),
                                "passed": serializers.BooleanField(),
                                "serial": serializers.CharField(allow_null=True),
                                "lot": serializers.CharField(allow_null=True),
                                "at": serializers.DateTimeField(),
                                "disposition": serializers.CharField(
                                    allow_null=True, help_text="how a failing result was decided (scrap, rework, use_as_is, …); null until then"
                                ),
                            },
                            many=True,
                            help_text="the operation's inspection results, oldest first",
                        ),
                    },
                    many=True,
                ),
            },
            required=False,
            allow_null=True,
            help_text="backward: the order that made the lot; null when it came from the ERP",
        ),
        "consumed": _Nodes(required=False, help_text="backward: the lots net-issued to the order that made this one, as nodes"),
        "consumed_by": inline_serializer(
            "TraceConsumedBy",
            {
                "work_order": serializers.CharField(),
                "operation": serializers.IntegerField(),
                "quantity": serializers.DecimalField(**_DECIMAL),
                "at": serializers.DateTimeField(help_text="the first issue"),
                "produced": _Nodes(help_text="the lots and serials the order made, as nodes"),
            },
            many=True,
            required=False,
            help_text="forward: the orders (and operations) the lot was net-issued to",
        ),
        "cycle": serializers.BooleanField(required=False, help_text="present when the lot is its own ancestor here (a booking error); not followed again"),
        "truncated": serializers.BooleanField(required=False, help_text="on the top node: the tree was cut at 50 levels"),
    },
)


class TraceView(ApiView):
    capabilities = {"GET": "api.read"}

    @extend_schema(
        tags=["lots"],
        summary="Trace a lot or serial: what it was made from (backward) or what was made from it (forward)",
        description=(
            "Genealogy is order-level: a lot made by an order was made from every lot net-issued to that order "
            "(posted issues; reversed ones do not count). 404 `unknown_lot`; 422 `ambiguous_code` when the code "
            "names lots of several items and `item` is not given; 422 `invalid_direction`."
        ),
        parameters=[
            OpenApiParameter("code", OpenApiTypes.STR, required=True, description="the lot or serial code, as scanned"),
            OpenApiParameter("item", OpenApiTypes.STR, description="the item's code, when the lot code is not unique"),
            OpenApiParameter("direction", OpenApiTypes.STR, enum=list(DIRECTIONS), default=BACKWARD),
        ],
        responses={200: TRACE_RESPONSE, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        code = check_key("code", request.query_params.get("code", ""))
        item = request.query_params.get("item") or None
        return Response(
            trace(code=code, item=check_key("item", item) if item else None, direction=request.query_params.get("direction") or BACKWARD)
        )
