"""Shapes of what the station's script sends: strict, bounded, refused with a message per field."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from mes.api.serializers import KEY, QUANTITY, MomentField, StrictSerializer
from mes.models import Equipment, WorkCenter


class LotSerializer(StrictSerializer):
    lot = serializers.CharField(max_length=64)
    gtin = serializers.RegexField(r"^(\d{14})?$", required=False, allow_blank=True, default="")


class OperatorSerializer(StrictSerializer):
    operator_badge = serializers.CharField(**KEY)
    operator_token = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class SignInSerializer(StrictSerializer):
    badge = serializers.CharField(**KEY)
    pin = serializers.CharField(max_length=16, required=False, allow_blank=True, default="")


class OperationQuerySerializer(StrictSerializer):
    work_order = serializers.CharField(**KEY)
    operation = serializers.IntegerField(min_value=1, max_value=9999)


class OperationSerializer(OperatorSerializer, OperationQuerySerializer):
    pass


class PauseSerializer(OperationSerializer):
    reason_code = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


class ReportSerializer(OperationSerializer):
    client_id = serializers.UUIDField()
    good_qty = serializers.DecimalField(**QUANTITY, min_value=Decimal(0), default=Decimal(0))
    scrap_qty = serializers.DecimalField(**QUANTITY, min_value=Decimal(0), default=Decimal(0))
    rework_qty = serializers.DecimalField(**QUANTITY, min_value=Decimal(0), default=Decimal(0))
    reason_code = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    final = serializers.BooleanField(required=False, default=False)
    confirmed_at = MomentField(required=False, allow_null=True, default=None)
    lots = LotSerializer(many=True, required=False, default=list, max_length=50)


class IssueSerializer(OperationSerializer):
    """A lot scanned to be issued to the open operation (LOT:<item>:<lot>[:<quantity>])."""

    client_id = serializers.UUIDField()
    item = serializers.CharField(**KEY)
    lot = serializers.CharField(**KEY)
    quantity = serializers.DecimalField(**QUANTITY, required=False, allow_null=True, default=None)


class InspectionSerializer(OperationSerializer):
    """A result entered at the station: VAL:<number> (a measured value), PASS, or FAIL:<defect code>."""

    client_id = serializers.UUIDField()
    characteristic = serializers.CharField(**KEY)
    value = serializers.DecimalField(max_digits=18, decimal_places=6, required=False, allow_null=True, default=None)
    passed = serializers.BooleanField(required=False, allow_null=True, default=None)
    defect_code = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        if attrs["value"] is None and attrs["passed"] is None:
            raise serializers.ValidationError({"value": [_("Send a measured value (VAL:) or a pass/fail (PASS, FAIL:<defect code>).")]})
        if attrs["defect_code"].strip() and attrs["passed"] is not False:
            raise serializers.ValidationError({"defect_code": [_("A defect code goes with a failed check (FAIL:<defect code>) only.")]})
        attrs["defect_code"] = attrs["defect_code"].strip()
        return attrs


class IssueApprovalSerializer(StrictSerializer):
    issue = serializers.UUIDField()
    badge = serializers.CharField(**KEY)


class AndonSerializer(OperatorSerializer):
    """A call for help: its kind (ANDON:<kind>, a tapped kind), or an andon reason code that decides it (RC:<code>)."""

    kind = serializers.ChoiceField(choices=["equipment", "material", "quality", "maintenance", "help"], required=False, default="help")
    severity = serializers.ChoiceField(choices=["low", "medium", "high", "critical"], required=False, default="high")
    client_id = serializers.UUIDField()
    work_order = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    reason_code = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        if "kind" not in self.initial_data and not attrs["reason_code"].strip():
            raise serializers.ValidationError({"kind": [_("Name the kind of help (kind) or an andon reason (reason_code).")]})
        attrs["reason_code"] = attrs["reason_code"].strip()
        return attrs


class DowntimeSerializer(OperatorSerializer):
    state = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    reason_code = serializers.CharField(**KEY)


class StationSetupForm(forms.Form):
    work_center = forms.ModelChoiceField(WorkCenter.objects.order_by("code"), label=_("Work center"), to_field_name="code")
    equipment = forms.ModelChoiceField(
        Equipment.objects.select_related("work_center").order_by("code"), label=_("Machine (optional)"), required=False,
        to_field_name="code", help_text=_("Leave empty when the work center has one machine, or none should be started."),
    )
    name = forms.CharField(label=_("Station name (optional)"), max_length=64, required=False)
    is_pin_required = forms.BooleanField(label=_("Ask for a PIN after the badge"), required=False)


class CorrectionSerializer(OperatorSerializer):
    """The operator's last report to reverse, why, and (when it is too old for them alone) the supervisor's badge."""

    confirmation = serializers.UUIDField()
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    supervisor_badge = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
