"""REST API of the shop floor: signal mappings of machines. Thin: parse, call, answer."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from mes.api.base import ERRORS, ApiView, check_key, check_number, validated
from mes.roles import ALL_ROLES, Role
from shopfloor.services import (
    equipment_signals_get,
    equipment_signals_set,
    equipment_signals_test,
    operation_start_on_equipment,
    operation_stop_on_equipment,
)

MAPPING_WRITERS = {Role.ADMIN, Role.INTEGRATION}


class EquipmentSignalsView(ApiView):
    roles = {"GET": ALL_ROLES, "PUT": MAPPING_WRITERS}

    @extend_schema(tags=["equipment"], summary="Where the machine's signals come from", responses={200: dict, **ERRORS})
    def get(self, request: Request, code: str) -> Response:
        return Response(equipment_signals_get(check_key("code", code)).config)

    @extend_schema(
        tags=["equipment"],
        summary="Set the machine's signal mapping (Modbus TCP, OPC UA or MQTT); every bad field is named",
        request=dict,
        responses={200: dict, 201: dict, **ERRORS},
    )
    def put(self, request: Request, code: str) -> Response:
        mapping, created = equipment_signals_set(equipment_code=check_key("code", code), config=request.data, actor=request.user)
        return Response(mapping.config, status=201 if created else 200)


class EquipmentSignalsTestView(ApiView):
    roles = {"POST": MAPPING_WRITERS | {Role.SUPERVISOR}}

    @extend_schema(tags=["equipment"], summary="Read the machine once with its mapping: live values", request=None, responses={200: dict, **ERRORS})
    def post(self, request: Request, code: str) -> Response:
        return Response(equipment_signals_test(check_key("code", code)))


class OperationEquipmentSerializer(serializers.Serializer):
    equipment = serializers.CharField(max_length=64, required=False, allow_blank=True)


class OperationStartView(ApiView):
    roles = {"POST": {Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN}}

    @extend_schema(tags=["work-orders"], summary="Start an operation on a machine: its counts are confirmed on it from now on",
                   request=OperationEquipmentSerializer, responses={200: dict, **ERRORS})
    def post(self, request: Request, number: str, sequence: int) -> Response:
        data = validated(OperationEquipmentSerializer, request.data or {})
        if not data.get("equipment"):
            raise serializers.ValidationError({"equipment": ["Name the machine the operation starts on."]})
        assignment = operation_start_on_equipment(
            number=check_key("number", number), sequence=check_number("sequence", sequence, 9999), equipment_code=data["equipment"], actor=request.user
        )
        return Response({"work_order": number, "operation": sequence, "equipment": data["equipment"], "started_at": assignment.started_at})


class OperationStopView(ApiView):
    roles = {"POST": {Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN}}

    @extend_schema(tags=["work-orders"], summary="Stop counting machine output on an operation (one machine, or all)",
                   request=OperationEquipmentSerializer, responses={200: dict, **ERRORS})
    def post(self, request: Request, number: str, sequence: int) -> Response:
        data = validated(OperationEquipmentSerializer, request.data or {})
        stopped = operation_stop_on_equipment(
            number=check_key("number", number), sequence=check_number("sequence", sequence, 9999), equipment_code=data.get("equipment") or None, actor=request.user
        )
        return Response({"work_order": number, "operation": sequence, "stopped": stopped})
