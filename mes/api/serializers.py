"""Request shapes of the inbound API. Strict: unknown fields are refused, numbers are bounded."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from mes.models import ReasonCode

QUANTITY = {"max_digits": 14, "decimal_places": 3}
MINUTES = {"max_digits": 10, "decimal_places": 2}
KEY = {"max_length": 64, "allow_blank": False, "trim_whitespace": True}


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, so a typo in an ERP mapping is an error, not a silent default."""

    def to_internal_value(self, data):
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, dict) else []
        errors = {name: ["Unknown field."] for name in unknown}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            detail = error.detail if isinstance(error.detail, dict) else {"non_field_errors": error.detail}
            raise serializers.ValidationError({**detail, **errors}) from None
        if errors:
            raise serializers.ValidationError(errors)
        return value


class ItemSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    unit = serializers.CharField(max_length=16)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=10000)


class WorkCenterSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    capacity_hours_per_day = serializers.DecimalField(
        max_digits=6, decimal_places=2, min_value=Decimal(0), max_value=Decimal(24), required=False, allow_null=True, default=None
    )
    line = serializers.CharField(max_length=64, required=False, allow_blank=True)


class EquipmentSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    work_center = serializers.CharField(**KEY)


class EmployeeSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    skills = serializers.ListField(child=serializers.CharField(**KEY), required=False, max_length=200)
    is_active = serializers.BooleanField(required=False)


class ReasonCodeSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=ReasonCode.Kind.values)
    name = serializers.CharField(max_length=200)


class BomLineSerializer(StrictSerializer):
    item = serializers.CharField(**KEY)
    quantity = serializers.DecimalField(**QUANTITY, min_value=Decimal("0.001"))
    unit = serializers.CharField(max_length=16, required=False)


class BomSerializer(StrictSerializer):
    version = serializers.CharField(max_length=32)
    valid_from = serializers.DateField(required=False, allow_null=True, default=None)
    valid_to = serializers.DateField(required=False, allow_null=True, default=None)
    lines = BomLineSerializer(many=True, max_length=2000)


class RoutingOperationSerializer(StrictSerializer):
    sequence = serializers.IntegerField(min_value=1, max_value=9999)
    name = serializers.CharField(max_length=200)
    work_center = serializers.CharField(**KEY)
    setup_minutes = serializers.DecimalField(**MINUTES, min_value=Decimal(0), default=Decimal(0))
    run_minutes_per_unit = serializers.DecimalField(**MINUTES, min_value=Decimal(0), default=Decimal(0))
    quality_checkpoint = serializers.BooleanField(required=False, default=False)


class RoutingSerializer(StrictSerializer):
    operations = RoutingOperationSerializer(many=True, min_length=1, max_length=200)


class WorkOrderSerializer(StrictSerializer):
    item = serializers.CharField(**KEY)
    quantity = serializers.DecimalField(**QUANTITY, min_value=Decimal("0.001"))
    due_date = serializers.DateField()
    priority = serializers.IntegerField(min_value=1, max_value=99, required=False)


class TransitionSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class ConfirmationSerializer(StrictSerializer):
    client_id = serializers.UUIDField()
    work_order = serializers.CharField(**KEY)
    operation = serializers.IntegerField(min_value=1, max_value=9999)
    good_qty = serializers.DecimalField(**QUANTITY, min_value=Decimal(0), default=Decimal(0))
    scrap_qty = serializers.DecimalField(**QUANTITY, min_value=Decimal(0), default=Decimal(0))
    rework_qty = serializers.DecimalField(**QUANTITY, min_value=Decimal(0), default=Decimal(0))
    reason_code = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True, default="")
    operator_badge = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True, default="")
    station = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True, default="")
    labor_minutes = serializers.DecimalField(**MINUTES, min_value=Decimal(0), default=Decimal(0))
    machine_minutes = serializers.DecimalField(**MINUTES, min_value=Decimal(0), default=Decimal(0))
    final = serializers.BooleanField(required=False, default=False)
    confirmed_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class ReversalSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


# --- answers (documented in the OpenAPI schema) -------------------------------------


class OperationOutSerializer(serializers.Serializer):
    sequence = serializers.IntegerField()
    name = serializers.CharField()
    work_center = serializers.CharField()
    status = serializers.CharField()
    planned_qty = serializers.DecimalField(**QUANTITY)
    good_qty = serializers.DecimalField(**QUANTITY)
    scrap_qty = serializers.DecimalField(**QUANTITY)
    rework_qty = serializers.DecimalField(**QUANTITY)
    quality_checkpoint = serializers.BooleanField()


class WorkOrderOutSerializer(serializers.Serializer):
    number = serializers.CharField()
    uuid = serializers.UUIDField()
    status = serializers.CharField()
    item = serializers.CharField()
    quantity = serializers.DecimalField(**QUANTITY)
    unit = serializers.CharField()
    due_date = serializers.DateField()
    priority = serializers.IntegerField()
    operations = OperationOutSerializer(many=True)


class ErpSyncOutSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=["queued", "sending", "acknowledged", "retrying", "dead"])
    attempts = serializers.IntegerField()
    erp_document = serializers.CharField(allow_null=True)
    last_error = serializers.CharField(allow_null=True)
    queued_at = serializers.DateTimeField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)


class ConfirmationOutSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    client_id = serializers.UUIDField()
    kind = serializers.CharField()
    work_order = serializers.CharField()
    operation = serializers.IntegerField()
    good_qty = serializers.DecimalField(**QUANTITY)
    scrap_qty = serializers.DecimalField(**QUANTITY)
    rework_qty = serializers.DecimalField(**QUANTITY)
    reason_code = serializers.CharField(allow_null=True)
    operator_badge = serializers.CharField(allow_null=True)
    station = serializers.CharField()
    labor_minutes = serializers.DecimalField(**MINUTES)
    machine_minutes = serializers.DecimalField(**MINUTES)
    final = serializers.BooleanField()
    confirmed_at = serializers.DateTimeField()
    recorded_at = serializers.DateTimeField()
    reverses = serializers.UUIDField(allow_null=True)
    reversed_by = serializers.UUIDField(allow_null=True)
    erp_sync = ErpSyncOutSerializer()


class BulkResultSerializer(serializers.Serializer):
    status = serializers.IntegerField()
    id = serializers.CharField(required=False)
    error = serializers.DictField(required=False)


class BulkResponseSerializer(serializers.Serializer):
    results = BulkResultSerializer(many=True)
