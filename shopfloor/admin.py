from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from common.errors import DomainError
from common.masking import masked
from common.roles import may
from mes.admin_audit import AuditedAdmin, ReadOnlyAdmin
from shopfloor.models import (
    ConsumedLot,
    DailyPlan,
    DailyReportSend,
    DeviceException,
    DeviceMapping,
    EquipmentAssignment,
    EquipmentState,
    PinTryCount,
    Shift,
    Station,
    StationLink,
    UnassignedProduction,
)
from shopfloor.services import (
    ShiftSpec,
    device_host_check,
    equipment_collection_set,
    equipment_signals_set,
    equipment_signals_test,
    secrets_kept,
    shift_check,
    shift_delete,
    shift_save,
    validated_mapping,
)
from shopfloor.station.services import station_links_revoke, station_revoke, station_update, station_update_check


class DeviceMappingForm(forms.ModelForm):
    """A device password is shown as "***"; left so, it keeps the stored one (as in the API).

    The form only checks, with the service's own checks, so that a refusal shows on the field;
    the write is ``equipment_signals_set`` (``DeviceMappingAdmin.save_model``), as for the API.
    """

    class Meta:
        model = DeviceMapping
        fields = ["equipment", "config", "is_enabled"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["config"] = masked(self.instance.config)

    def clean_config(self):
        config = self.cleaned_data["config"]
        try:
            stored = self.instance.config if self.instance.pk else None
            device_host_check(config=validated_mapping(config=secrets_kept(config=config, stored=stored)))
        except DomainError as error:
            raise forms.ValidationError([f"{path}: {message}" for path, message in error.fields.items()]) from None
        return config  # still masked: the service puts the stored secrets back under its lock


@admin.register(DeviceMapping)
class DeviceMappingAdmin(AuditedAdmin):
    audit_object_type = "device_mapping"
    form = DeviceMappingForm
    list_display = ["equipment", "protocol", "is_enabled", "updated_at"]
    list_filter = ["protocol", "is_enabled"]
    actions = ["test_read"]

    def audit_key(self, mapping):
        return mapping.equipment.code  # as the mapping service names it

    def get_readonly_fields(self, request, obj=None):
        return ["equipment"] if obj is not None else []  # a mapping belongs to its machine for good

    def save_model(self, request, obj, form, change):
        """Written by the shop-floor services, which mask, encrypt, validate and audit as for the API."""
        code = obj.equipment.code
        mapping, _created = equipment_signals_set(equipment_code=code, config=form.cleaned_data["config"], actor=request.user)
        if mapping.is_enabled != form.cleaned_data["is_enabled"]:
            mapping = equipment_collection_set(equipment_code=code, is_enabled=form.cleaned_data["is_enabled"], actor=request.user)
        obj.pk, obj.protocol, obj.config, obj.is_enabled = mapping.pk, mapping.protocol, mapping.config, mapping.is_enabled

    def save_related(self, request, form, formsets, change):
        admin.ModelAdmin.save_related(self, request, form, formsets, change)  # the services audited the save

    # A mapping sends the collector to a host on the network: written by admins only, as through the
    # API. The role table decides here, not Django's per-model permissions.
    def has_add_permission(self, request):
        return may(request.user, "device_mapping.write")

    def has_change_permission(self, request, obj=None):
        return may(request.user, "device_mapping.write")

    def has_delete_permission(self, request, obj=None):
        return may(request.user, "device_mapping.write")

    def has_view_permission(self, request, obj=None):
        return may(request.user, "device_mapping.write") or super().has_view_permission(request, obj)

    @admin.action(description=_("Test read: show live values"))
    def test_read(self, request, queryset):
        for mapping in queryset.select_related("equipment")[:20]:
            try:
                result = equipment_signals_test(equipment_code=mapping.equipment.code)
            except DomainError as error:
                self.message_user(request, f"{mapping.equipment.code}: {error.message}", messages.ERROR)
                continue
            if result["reachable"]:
                self.message_user(request, f"{mapping.equipment.code}: {result['values']} {result['errors'] or ''}", messages.SUCCESS)
            else:
                self.message_user(request, f"{mapping.equipment.code}: {result['error']}", messages.ERROR)


@admin.register(EquipmentAssignment)
class EquipmentAssignmentAdmin(ReadOnlyAdmin):
    list_display = ["equipment", "operation", "started_at", "ended_at", "started_by"]
    list_filter = ["equipment"]


@admin.register(UnassignedProduction)
class UnassignedProductionAdmin(ReadOnlyAdmin):
    list_display = ["equipment", "window_start", "window_end", "good", "scrap", "reason", "resolution", "resolved_at"]
    list_filter = ["reason", "equipment"]


@admin.register(EquipmentState)
class EquipmentStateAdmin(ReadOnlyAdmin):
    list_display = ["equipment", "state", "started_at", "ended_at"]
    list_filter = ["state", "equipment"]


@admin.register(DailyPlan)
class DailyPlanAdmin(ReadOnlyAdmin):
    list_display = ["work_center", "day", "planned_qty", "planned_hours", "operations", "taken_at"]
    list_filter = ["work_center"]


@admin.register(DailyReportSend)
class DailyReportSendAdmin(ReadOnlyAdmin):
    """The daily reports sent after shifts' ends; the channel (it may hold a secret) is not shown."""

    list_display = ["line", "day", "shift", "shift_end", "state", "attempts", "sent_at", "last_error"]
    list_filter = ["state", "line"]
    exclude = ["channel"]


@admin.register(DeviceException)
class DeviceExceptionAdmin(ReadOnlyAdmin):
    list_display = ["equipment", "kind", "opened_at", "closed_at", "detail"]
    list_filter = ["kind", "equipment"]


WEEKDAY_CHOICES = [
    ("1", _("Monday")), ("2", _("Tuesday")), ("3", _("Wednesday")), ("4", _("Thursday")),
    ("5", _("Friday")), ("6", _("Saturday")), ("7", _("Sunday")),
]


def _refusal_on_form(form: forms.BaseForm, error: DomainError) -> None:
    """Show a service's refusal on the field it names, else above the form."""
    named = next((name for name in error.fields or {} if name in form.fields), None)
    form.add_error(named, error.message)


class ShiftForm(forms.ModelForm):
    """The form only checks, with the service's own checks (``shift_check``), so that a refusal shows
    on the page; the write is ``shift_save`` (``ShiftAdmin.save_model``)."""

    weekdays = forms.MultipleChoiceField(
        label=_("weekdays"), choices=WEEKDAY_CHOICES, widget=forms.CheckboxSelectMultiple,
        help_text=_("The days the shift starts on."),
    )

    class Meta:
        model = Shift
        fields = ["work_center", "equipment", "name", "start_time", "end_time", "weekdays"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["weekdays"] = list(self.instance.weekdays)

    def clean_weekdays(self):
        return "".join(sorted(self.cleaned_data["weekdays"]))

    def clean(self):
        data = super().clean()
        center, machine = data.get("work_center"), data.get("equipment")
        if bool(center) == bool(machine):
            raise forms.ValidationError(_("Choose a work center or a machine, not both."))
        if self.errors:
            return data
        try:
            shift_check(shift_id=self.instance.pk, **self.shift_arguments())
        except DomainError as error:
            raise forms.ValidationError(error.message) from None
        return data

    def shift_arguments(self) -> dict:
        """What the shift services are given: the shift and its owner, by code."""
        data = self.cleaned_data
        return {
            "spec": ShiftSpec(data["name"], data["start_time"], data["end_time"], data["weekdays"]),
            "work_center_code": data["work_center"].code if data.get("work_center") else "",
            "equipment_code": data["equipment"].code if data.get("equipment") else "",
        }


@admin.register(Shift)
class ShiftAdmin(AuditedAdmin):
    """The equipment calendar: planned production time per work center or machine (for OEE).

    Written by the shift services, which judge a shift with its owner's others (as ``shifts_set``
    does for the command and the demo), change it in place and record the event."""

    form = ShiftForm
    list_display = ["name", "work_center", "equipment", "start_time", "end_time", "weekdays"]
    list_filter = ["work_center"]
    list_select_related = ["work_center", "equipment"]

    def save_model(self, request, obj, form, change):
        shift = shift_save(shift_id=obj.pk if change else None, actor=request.user, **form.shift_arguments())
        obj.pk = shift.pk

    def save_related(self, request, form, formsets, change):
        admin.ModelAdmin.save_related(self, request, form, formsets, change)  # the service audited the save

    def delete_model(self, request, obj):
        shift_delete(shift_id=obj.pk, actor=request.user)

    def delete_queryset(self, request, queryset):
        for shift_id in queryset.order_by("pk").values_list("pk", flat=True):
            shift_delete(shift_id=shift_id, actor=request.user)


class StationForm(forms.ModelForm):
    """Checked by the station service's own checks, so that a refusal shows on its field; the write is
    ``station_update`` (``StationAdmin.save_model``)."""

    class Meta:
        model = Station
        fields = ["name", "equipment", "is_pin_required"]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            station_update_check(station_id=self.instance.pk, **self.station_arguments())
        except DomainError as error:
            _refusal_on_form(self, error)
        return data

    def station_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "equipment_code": data["equipment"].code if data.get("equipment") else "",
            "is_pin_required": data["is_pin_required"],
        }


@admin.register(Station)
class StationAdmin(AuditedAdmin):
    form = StationForm
    list_display = ["name", "work_center", "equipment", "is_pin_required", "created_at", "last_seen_at", "revoked_at"]
    list_filter = ["work_center", "is_pin_required"]
    search_fields = ["name"]
    fields = ["name", "work_center", "equipment", "is_pin_required", "created_at", "created_by", "last_seen_at", "revoked_at", "revoked_by"]
    readonly_fields = ["work_center", "created_at", "created_by", "last_seen_at", "revoked_at", "revoked_by"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # a station is made on the tablet (set-up page or one-time link): only there can it get its cookie

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: its reports keep the station's name

    def save_model(self, request, obj, form, change):
        """Written by the station service, which checks and audits as for stations made on the tablet."""
        station = station_update(station_id=obj.pk, actor=request.user, **form.station_arguments())
        obj.name, obj.equipment, obj.is_pin_required = station.name, station.equipment, station.is_pin_required

    def save_related(self, request, form, formsets, change):
        admin.ModelAdmin.save_related(self, request, form, formsets, change)  # the service audited the save

    @admin.action(description=_("Revoke: the tablet can no longer report"))
    def revoke(self, request, queryset):
        for station in queryset:
            station_revoke(station_id=station.pk, actor=request.user)
        self.message_user(request, _("%(count)s station(s) revoked.") % {"count": queryset.count()}, messages.SUCCESS)


@admin.register(StationLink)
class StationLinkAdmin(ReadOnlyAdmin):
    list_display = ["work_center", "equipment", "created_at", "created_by", "expires_at", "used_at", "station", "revoked_at"]
    actions = ["revoke_links"]

    @admin.action(description=_("Revoke unused links"))
    def revoke_links(self, request, queryset):
        count = station_links_revoke(link_ids=list(queryset.values_list("pk", flat=True)), actor=request.user)
        self.message_user(request, _("%(count)s link(s) revoked.") % {"count": count}, messages.SUCCESS)


@admin.register(ConsumedLot)
class ConsumedLotAdmin(ReadOnlyAdmin):
    list_display = ["lot", "gtin", "confirmation", "station"]
    search_fields = ["lot", "gtin"]


@admin.register(PinTryCount)
class PinTryCountAdmin(AuditedAdmin):
    """PIN tries being counted; deleting a badge's or station's row lifts its PIN lock-out at once (audited)."""

    list_display = ["key", "count", "expires_at"]
    search_fields = ["key"]
    readonly_fields = ["key", "count", "expires_at"]
    audit_object_type = "station_pin_lockout"

    def audit_key(self, obj: PinTryCount) -> str:
        return obj.key

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
