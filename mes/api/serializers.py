"""Request shapes of the inbound API. Strict: unknown fields are refused, numbers are bounded."""

from __future__ import annotations

import copy
import re
import uuid
from decimal import Decimal
from typing import Any

from rest_framework import serializers

from erp_sync.outbox import SYNC_STATES
from mes.models import Item, Lot, MaterialMovement, ReasonCode
from mes.services.confirmation_materials import LotUse

QUANTITY = {"max_digits": 14, "decimal_places": 3}
MINUTES = {"max_digits": 10, "decimal_places": 2}
MONEY = {"max_digits": 14, "decimal_places": 4}
KEY = {"max_length": 64, "allow_blank": False, "trim_whitespace": True}


class MomentField(serializers.DateTimeField):
    """DRF's date-time, refusing (as out of range) a time at the ends of the calendar that DRF
    cannot place in the plant's zone: it raised OverflowError, a 500, for 0001-01-01T00:00."""

    def enforce_timezone(self, value):
        try:
            return super().enforce_timezone(value)
        except OverflowError:
            self.fail("overflow")


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
    tracking = serializers.ChoiceField(choices=Item.Tracking.values, required=False, default=Item.Tracking.NONE)
    standard_cost = serializers.DecimalField(
        **MONEY, min_value=Decimal(0), required=False, allow_null=True,
        help_text="Per unit, in the plant's currency (`MES_CURRENCY`). Left out: kept; null: not known.",
    )


class WorkCenterSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    capacity_hours_per_day = serializers.DecimalField(
        max_digits=6, decimal_places=2, min_value=Decimal(0), max_value=Decimal(24), required=False, allow_null=True, default=None
    )
    line = serializers.CharField(max_length=64, required=False, allow_blank=True)
    # Left out: kept as it is (1.00 for a new work center).
    efficiency = serializers.DecimalField(
        max_digits=4, decimal_places=2, min_value=Decimal("0.01"), max_value=Decimal(2), required=False, allow_null=True, default=None
    )
    labor_rate = serializers.DecimalField(
        **MONEY, min_value=Decimal(0), required=False, allow_null=True,
        help_text="Per hour of labor, in the plant's currency (`MES_CURRENCY`). Left out: kept; null: not known.",
    )
    machine_rate = serializers.DecimalField(
        **MONEY, min_value=Decimal(0), required=False, allow_null=True,
        help_text="Per hour of machine time, in the plant's currency (`MES_CURRENCY`). Left out: kept; null: not known.",
    )


class EquipmentSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    work_center = serializers.CharField(**KEY)


class EmployeeSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    skills = serializers.ListField(child=serializers.CharField(**KEY), required=False, max_length=200)
    is_active = serializers.BooleanField(required=False)


class ReasonCodeSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=ReasonCode.Kind.choices)
    name = serializers.CharField(max_length=200)


class BomLineSerializer(StrictSerializer):
    item = serializers.CharField(**KEY)
    quantity = serializers.DecimalField(**QUANTITY, min_value=Decimal("0.001"))
    unit = serializers.CharField(max_length=16, required=False)
    operation = serializers.IntegerField(min_value=1, max_value=9999, required=False, allow_null=True, default=None)
    backflush = serializers.BooleanField(required=False, default=False)


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


class ReleaseSerializer(TransitionSerializer):
    # Needed only under MES_RELEASE_CAPACITY=strict, to release into an overloaded day or past the due date.
    override_reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class LotUseSerializer(StrictSerializer):
    item = serializers.CharField(**KEY)
    lot = serializers.CharField(**KEY)
    quantity = serializers.DecimalField(**QUANTITY, min_value=Decimal("0.001"), required=False, allow_null=True, default=None)


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
    labor_minutes = serializers.DecimalField(
        **MINUTES, min_value=Decimal(0), required=False, allow_null=True, default=None,
        help_text="Left out or null: the operator's clocked time on the operation since their last report on it (0 without an operator or a clock).",
    )
    machine_minutes = serializers.DecimalField(
        **MINUTES, min_value=Decimal(0), required=False, allow_null=True, default=None, help_text="Left out or null: 0.",
    )
    final = serializers.BooleanField(required=False, default=False)
    confirmed_at = MomentField(required=False, allow_null=True, default=None)
    # Material (backflush and output): see mes.services.confirmation_materials.
    lots = LotUseSerializer(many=True, required=False, max_length=200)
    output_lot = serializers.CharField(max_length=64, required=False, allow_blank=True)
    serials = serializers.ListField(child=serializers.CharField(**KEY), required=False, max_length=10000)

    def validate_serials(self, value):
        if len(set(value)) != len(value):
            raise serializers.ValidationError("A serial is named twice.")
        return value


MATERIAL_FIELDS = frozenset({"lots", "output_lot", "serials"})


def material_request_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The material fields of a validated confirmation, as ``ConfirmationRequest`` takes them."""
    return {
        "lots": tuple(LotUse(item=use["item"], lot=use["lot"], quantity=use.get("quantity")) for use in data.get("lots") or ()),
        "output_lot": (data.get("output_lot") or "").strip(),
        "serials": tuple(data.get("serials") or ()),
    }


# --- confirmations without a serializer per request ----------------------------------------
#
# Building a DRF serializer deep-copies its fields, which cost a confirmation more CPU than
# recording it. ``confirmation_input`` answers exactly what ``ConfirmationSerializer`` would:
# the common well-formed shapes (plain numbers, trimmed strings) are checked here, and
# anything else, every refusal included, goes through the serializer as before.

_QUANTITY_TEXT = re.compile(r"[0-9]{1,11}(?:\.[0-9]{1,3})?")  # ≤ 11 whole digits, ≤ 3 places, ≥ 0
_MINUTES_TEXT = re.compile(r"[0-9]{1,8}(?:\.[0-9]{1,2})?")  # ≤ 8 whole digits, ≤ 2 places, ≥ 0
_SURROGATE = re.compile("[\ud800-\udfff]")
_DECIMALS = (
    ("good_qty", _QUANTITY_TEXT, Decimal("0.001")),
    ("scrap_qty", _QUANTITY_TEXT, Decimal("0.001")),
    ("rework_qty", _QUANTITY_TEXT, Decimal("0.001")),
    ("labor_minutes", _MINUTES_TEXT, Decimal("0.01")),
    ("machine_minutes", _MINUTES_TEXT, Decimal("0.01")),
)
_OPTIONAL_TEXTS = ("reason_code", "operator_badge", "station")
_DEFAULTED = frozenset({"labor_minutes", "machine_minutes"})  # left out: None, worked out by the service
_CONFIRMATION_FIELDS = frozenset(ConfirmationSerializer._declared_fields)
# Dates have many spellings and time-zone rules: the serializer's own field decides (a copy,
# unbound; a refusal falls back to the whole serializer, so its messages are never shown).
_CONFIRMED_AT = copy.deepcopy(ConfirmationSerializer._declared_fields["confirmed_at"])


def _key_text(value: Any, max_length: int = 64) -> str | None:
    """A CharField's value if ``value`` is a plain string it accepts as it is (trimmed), else None."""
    if type(value) is not str:
        return None
    text = value.strip()
    if len(text) > max_length or "\x00" in text or (not text.isascii() and _SURROGATE.search(text)):
        return None
    return text


def _fast_confirmation(data: Any) -> dict[str, Any] | None:
    """The serializer's validated data for plain, valid input; None whenever in any doubt."""
    if type(data) is not dict or not data.keys() <= _CONFIRMATION_FIELDS:
        return None
    client_id, work_order, operation = data.get("client_id"), _key_text(data.get("work_order")), data.get("operation")
    if type(client_id) is not str or not work_order or type(operation) is not int or not 1 <= operation <= 9999:
        return None
    try:
        values: dict[str, Any] = {"client_id": uuid.UUID(client_id), "work_order": work_order, "operation": operation}
    except ValueError:
        return None
    for name, pattern, places in _DECIMALS:
        if name not in data:
            values[name] = None if name in _DEFAULTED else Decimal(0)  # the field's default, as the serializer gives it
            continue
        value = data[name]
        if type(value) not in (int, float, str):
            return None
        text = str(value)
        if not pattern.fullmatch(text):
            return None
        values[name] = Decimal(text).quantize(places)
    for name in _OPTIONAL_TEXTS:
        value = data.get(name, "")
        if value is not None:
            value = _key_text(value)
            if value is None:
                return None
        values[name] = value
    final = data.get("final", False)
    if type(final) is not bool:
        return None
    values["final"] = final
    confirmed_at = data.get("confirmed_at")
    if confirmed_at is not None:
        try:
            confirmed_at = _CONFIRMED_AT.run_validation(confirmed_at)
        except serializers.ValidationError:
            return None
    values["confirmed_at"] = confirmed_at
    if not MATERIAL_FIELDS.isdisjoint(data):
        materials = _fast_materials(data)
        if materials is None:
            return None
        values.update(materials)
    return values


_LOT_USE_FIELDS = frozenset({"item", "lot", "quantity"})


def _fast_materials(data: dict[str, Any]) -> dict[str, Any] | None:
    """The material fields as the serializer gives them, for plain lists of plain values; else None."""
    values: dict[str, Any] = {}
    if "lots" in data:
        lots = data["lots"]
        if type(lots) is not list or len(lots) > 200:
            return None
        values["lots"] = []
        for use in lots:
            if type(use) is not dict or not use.keys() <= _LOT_USE_FIELDS:
                return None
            item, lot, quantity = _key_text(use.get("item")), _key_text(use.get("lot")), use.get("quantity")
            if not item or not lot:
                return None
            if quantity is not None:
                if type(quantity) not in (int, float, str) or not _QUANTITY_TEXT.fullmatch(str(quantity)):
                    return None
                quantity = Decimal(str(quantity)).quantize(Decimal("0.001"))
                if quantity == 0:
                    return None
            values["lots"].append({"item": item, "lot": lot, "quantity": quantity})
    if "output_lot" in data:
        output_lot = _key_text(data["output_lot"])
        if output_lot is None:
            return None
        values["output_lot"] = output_lot
    if "serials" in data:
        serials = data["serials"]
        if type(serials) is not list or len(serials) > 10000:
            return None
        texts = [_key_text(serial) for serial in serials]
        if not all(texts) or len(set(texts)) != len(texts):
            return None
        values["serials"] = texts
    return values


def confirmation_input(data: Any, validator: ConfirmationSerializer | None = None) -> dict[str, Any]:
    """``ConfirmationSerializer``'s validated data for ``data``, or its ``ValidationError``.

    Input off the quick path is validated by ``validator.run_validation`` (a bulk request's
    one serializer for all its records), or else as a lone request is: ``is_valid``.
    """
    values = _fast_confirmation(data)
    if values is not None:
        return values
    if validator is not None:
        return dict(validator.run_validation(data))
    serializer = ConfirmationSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class ReversalSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class LotSerializer(StrictSerializer):
    """A lot the ERP staged for production. Fields left out keep their value (unit: the item's)."""

    quantity = serializers.DecimalField(**QUANTITY, min_value=Decimal(0))
    unit = serializers.CharField(max_length=16, required=False, allow_blank=True, default="")
    status = serializers.ChoiceField(choices=Lot.Status.values, required=False)
    expires_on = serializers.DateField(required=False, allow_null=True)
    supplier_lot = serializers.CharField(max_length=64, required=False, allow_blank=True)
    location = serializers.CharField(max_length=64, required=False, allow_blank=True)
    unit_cost = serializers.DecimalField(
        **MONEY, min_value=Decimal(0), required=False, allow_null=True,
        help_text="Per unit, in the plant's currency (`MES_CURRENCY`): material issued from this lot is costed at it. Left out: kept; null: the item's standard cost.",
    )


class LotBulkSerializer(LotSerializer):
    item = serializers.CharField(**KEY)
    lot = serializers.CharField(**KEY)


class MaterialIssueSerializer(StrictSerializer):
    client_id = serializers.UUIDField()
    work_order = serializers.CharField(**KEY)
    operation = serializers.IntegerField(min_value=1, max_value=9999)
    item = serializers.CharField(**KEY)
    lot = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True, default="")
    quantity = serializers.DecimalField(**QUANTITY)
    operator_badge = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True, default="")
    station = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True, default="")


class DecisionSerializer(StrictSerializer):
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


class ReleaseWarningSerializer(serializers.Serializer):
    """One of two shapes, told apart by ``code``."""

    code = serializers.ChoiceField(choices=["work_center_overloaded", "cannot_make_due_date"])
    work_center = serializers.CharField(required=False)
    date = serializers.DateField(required=False)
    load_hours = serializers.FloatField(required=False)
    capacity_hours = serializers.FloatField(required=False)
    predicted_finish = serializers.DateTimeField(required=False, allow_null=True)
    due_date = serializers.DateField(required=False)


class ReleaseOutSerializer(WorkOrderOutSerializer):
    warnings = ReleaseWarningSerializer(many=True)


class ErpSyncOutSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=SYNC_STATES)
    attempts = serializers.IntegerField()
    erp_document = serializers.CharField(allow_null=True)
    last_error = serializers.CharField(allow_null=True)
    queued_at = serializers.DateTimeField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)


class ConsumptionOutSerializer(serializers.Serializer):
    item = serializers.CharField()
    lot = serializers.CharField(allow_null=True)
    quantity = serializers.DecimalField(**QUANTITY)
    unit = serializers.CharField()
    movement_id = serializers.UUIDField()
    issued_by_scan = serializers.BooleanField(help_text="Taken from material already issued to the order by scan: no stock moved now and no goods issue goes to the ERP.")


class OutputOutSerializer(serializers.Serializer):
    item = serializers.CharField()
    lot = serializers.CharField(allow_null=True)
    serials = serializers.ListField(child=serializers.CharField())
    quantity = serializers.DecimalField(**QUANTITY)
    unit = serializers.CharField()
    movement_ids = serializers.ListField(child=serializers.UUIDField())


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
    consumptions = ConsumptionOutSerializer(many=True)
    output = OutputOutSerializer(allow_null=True)


class BulkResultSerializer(serializers.Serializer):
    status = serializers.IntegerField()
    id = serializers.CharField(required=False)
    error = serializers.DictField(required=False)


class BulkResponseSerializer(serializers.Serializer):
    results = BulkResultSerializer(many=True)


class LotOutSerializer(serializers.Serializer):
    item = serializers.CharField()
    lot = serializers.CharField()
    uuid = serializers.UUIDField()
    kind = serializers.CharField(help_text=" | ".join(Lot.Kind.values))
    status = serializers.CharField(help_text=" | ".join(Lot.Status.values))
    unit = serializers.CharField()
    quantity = serializers.DecimalField(**QUANTITY)
    received_qty = serializers.DecimalField(**QUANTITY)
    produced_qty = serializers.DecimalField(**QUANTITY)
    issued_qty = serializers.DecimalField(**QUANTITY)
    quantity_on_hand = serializers.DecimalField(**QUANTITY)
    expires_on = serializers.DateField(allow_null=True)
    supplier_lot = serializers.CharField()
    location = serializers.CharField()
    unit_cost = serializers.DecimalField(**MONEY, allow_null=True)
    produced_by = serializers.CharField(allow_null=True)


class MaterialIssueOutSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    client_id = serializers.UUIDField(allow_null=True)
    kind = serializers.CharField(help_text=" | ".join(MaterialMovement.Kind.values))
    source = serializers.CharField(help_text=" | ".join(MaterialMovement.Source.values))
    state = serializers.CharField(help_text=" | ".join(MaterialMovement.State.values))
    work_order = serializers.CharField()
    operation = serializers.IntegerField()
    item = serializers.CharField()
    lot = serializers.CharField(allow_null=True)
    quantity = serializers.DecimalField(**QUANTITY)
    unit = serializers.CharField()
    operator_badge = serializers.CharField(allow_null=True)
    station = serializers.CharField()
    required_qty = serializers.DecimalField(**QUANTITY, allow_null=True)
    issued_before_qty = serializers.DecimalField(**QUANTITY, allow_null=True)
    confirmation = serializers.UUIDField(allow_null=True)
    reverses = serializers.UUIDField(allow_null=True)
    reversed_by = serializers.UUIDField(allow_null=True)
    decided_by = serializers.CharField(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    decision_reason = serializers.CharField()
    recorded_at = serializers.DateTimeField()
    erp_sync = ErpSyncOutSerializer(allow_null=True)


class MaterialIssueAwaitingSerializer(MaterialIssueOutSerializer):
    """The answer (202) to an issue beyond the tolerance: recorded, waiting for a supervisor."""

    code = serializers.CharField()
    message = serializers.CharField()
    required = serializers.DecimalField(**QUANTITY)
    issued = serializers.DecimalField(**QUANTITY)
    requested = serializers.DecimalField(**QUANTITY)
