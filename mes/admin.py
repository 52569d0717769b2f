"""Admin pages for the master data; the production records are read-only here (services write them)."""

from axes import admin as axes_admin
from axes.models import AccessAttempt
from django import forms
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.utils.translation import gettext_lazy as _

from mes import models
from mes.admin_audit import AuditedAdmin, ReadOnlyAdmin
from common.errors import DomainError
from mes.services.accounts import PIN_PATTERN, api_token_revoke, employee_pin_set
from mes.services.quality import characteristic_check, routing_operation_check
from mes.services.work_instructions import (
    document_check_content,
    document_check_name,
    operation_document_delete,
    operation_document_put,
)


@admin.register(models.UnitOfMeasure)
class UnitOfMeasureAdmin(AuditedAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


@admin.register(models.Item)
class ItemAdmin(AuditedAdmin):
    list_display = ["code", "name", "unit", "standard_cost", "updated_at"]
    search_fields = ["code", "name"]
    list_select_related = ["unit"]
    readonly_fields = ["uuid", "created_at", "updated_at"]


class BomLineInline(admin.TabularInline):
    model = models.BomLine
    extra = 0
    autocomplete_fields = ["component"]


@admin.register(models.Bom)
class BomAdmin(AuditedAdmin):
    audit_object_type = "bom"
    list_display = ["item", "version", "valid_from", "valid_to"]
    search_fields = ["item__code", "item__name"]
    list_select_related = ["item"]
    autocomplete_fields = ["item"]
    inlines = [BomLineInline]
    readonly_fields = ["uuid", "created_at", "updated_at"]

    def audit_key(self, bom):
        return f"{bom.item.code}@{bom.version}"  # as the BOM service names it


class RoutingOperationInline(admin.TabularInline):
    model = models.RoutingOperation
    extra = 0


@admin.register(models.Routing)
class RoutingAdmin(AuditedAdmin):
    audit_object_type = "routing"
    list_display = ["item", "updated_at"]
    search_fields = ["item__code", "item__name"]
    list_select_related = ["item"]
    autocomplete_fields = ["item"]
    inlines = [RoutingOperationInline]
    readonly_fields = ["uuid", "created_at", "updated_at"]

    def audit_key(self, routing):
        return routing.item.code


class InspectionCharacteristicForm(forms.ModelForm):
    """Checked by the rules the API's plans follow (``mes.services.quality.characteristic_check``)."""

    class Meta:
        model = models.InspectionCharacteristic
        fields = "__all__"

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        unit = data.get("unit")
        spec = {
            "code": data["code"], "name": data["name"], "kind": data["kind"], "nominal": data.get("nominal"),
            "lower_limit": data.get("lower_limit"), "upper_limit": data.get("upper_limit"), "unit": unit.code if unit else "",
            "sampling": {"rule": data["sampling_rule"], "n": data.get("sampling_n")}, "mandatory": data.get("mandatory", False),
        }
        try:
            routing_operation_check(item=data["item"], sequence=data["sequence"])
            characteristic_check(index=0, spec=spec, units={unit.code: unit} if unit else {})
        except DomainError as error:
            raise forms.ValidationError(error.message) from None
        return data


@admin.register(models.InspectionCharacteristic)
class InspectionCharacteristicAdmin(AuditedAdmin):
    """An item's inspection plans, one characteristic per row; released orders keep the copy they were released with."""

    audit_object_type = "inspection_plan"
    form = InspectionCharacteristicForm
    list_display = ["item", "sequence", "position", "code", "name", "kind", "lower_limit", "upper_limit", "unit", "sampling_rule", "sampling_n", "mandatory"]
    list_filter = ["kind", "sampling_rule", "mandatory"]
    search_fields = ["item__code", "code", "name"]
    list_select_related = ["item", "unit"]
    autocomplete_fields = ["item"]

    def audit_key(self, characteristic):
        return f"{characteristic.item.code}/{characteristic.sequence}"  # as the plan service names it


class OperationDocumentForm(forms.ModelForm):
    """A work instruction uploaded here is checked and stored as the API's PUT does (content sniffed, size limit)."""

    upload = forms.FileField(label=_("file"), help_text=_("A PDF, PNG, JPEG or WebP file; its type is recognised by its content."))

    class Meta:
        model = models.OperationDocument
        fields = ["item", "sequence", "name"]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        upload = data["upload"]
        try:
            document_check_name(name=data["name"])
            routing_operation_check(item=data["item"], sequence=data["sequence"])
            data["content"] = upload.read()
            document_check_content(content=data["content"], declared_type="")
        except DomainError as error:
            raise forms.ValidationError(error.message) from None
        return data


@admin.register(models.OperationDocument)
class OperationDocumentAdmin(admin.ModelAdmin):
    """Work instructions per item and routing operation; writes go through ``mes.services.work_instructions`` (audited there)."""

    form = OperationDocumentForm
    list_display = ["item", "sequence", "name", "content_type", "size", "uploaded_at", "uploaded_by"]
    list_filter = ["content_type"]
    search_fields = ["item__code", "name"]
    list_select_related = ["item"]
    autocomplete_fields = ["item"]
    readonly_fields = ["content_type", "size", "sha256", "uploaded_at", "uploaded_by"]

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        result = operation_document_put(
            item_code=data["item"].code, sequence=data["sequence"], name=data["name"], content=data["content"], actor=request.user
        )
        obj.pk = result.document.pk  # the admin's redirect names the stored row

    def save_related(self, request, form, formsets, change):
        pass  # no relations of its own; the service wrote everything

    def delete_model(self, request, obj):
        operation_document_delete(item_code=obj.item.code, sequence=obj.sequence, name=obj.name, actor=request.user)

    def delete_queryset(self, request, queryset):
        for document in queryset.select_related("item"):
            self.delete_model(request, document)


@admin.register(models.InspectionResult)
class InspectionResultAdmin(ReadOnlyAdmin):
    list_display = ["uuid", "work_order", "operation", "characteristic", "sample_no", "value", "passed", "serial", "inspector", "recorded_at"]
    list_filter = ["passed"]
    search_fields = ["uuid", "client_id", "work_order__number", "characteristic__code", "serial"]
    list_select_related = ["work_order", "operation", "characteristic", "inspector"]


@admin.register(models.WorkCenter)
class WorkCenterAdmin(AuditedAdmin):
    list_display = ["code", "name", "line", "capacity_hours_per_day", "efficiency", "labor_rate", "machine_rate"]
    list_filter = ["line"]
    search_fields = ["code", "name"]
    readonly_fields = ["uuid", "created_at", "updated_at"]


@admin.register(models.Equipment)
class EquipmentAdmin(AuditedAdmin):
    list_display = ["code", "name", "work_center"]
    list_filter = ["work_center"]
    search_fields = ["code", "name"]
    list_select_related = ["work_center"]
    readonly_fields = ["uuid", "created_at", "updated_at"]


@admin.register(models.Skill)
class SkillAdmin(AuditedAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


class EmployeeForm(forms.ModelForm):
    new_station_pin = forms.CharField(
        label=_("New station PIN"), required=False, max_length=8, widget=forms.PasswordInput,
        help_text=_("4 to 8 digits, asked for after the badge at stations that want a PIN. Leave empty to keep the current one."),
    )
    remove_station_pin = forms.BooleanField(label=_("Remove the station PIN"), required=False)

    class Meta:
        model = models.Employee
        fields = ["badge", "name", "skills", "is_active", "user"]

    def clean_new_station_pin(self):
        pin = self.cleaned_data["new_station_pin"]
        if pin and not PIN_PATTERN.match(pin):
            raise forms.ValidationError(_("A PIN has 4 to 8 digits."))
        return pin


@admin.register(models.Employee)
class EmployeeAdmin(AuditedAdmin):
    form = EmployeeForm
    list_display = ["badge", "name", "is_active", "has_station_pin"]
    list_filter = ["is_active", "skills"]
    search_fields = ["badge", "name"]
    filter_horizontal = ["skills"]
    readonly_fields = ["uuid", "created_at", "updated_at"]

    @admin.display(boolean=True, description=_("station PIN"))
    def has_station_pin(self, employee):
        return bool(employee.station_pin)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if form.cleaned_data.get("new_station_pin") or form.cleaned_data.get("remove_station_pin"):
            employee_pin_set(badge=obj.badge, pin=form.cleaned_data.get("new_station_pin", ""), actor=request.user)


@admin.register(models.ReasonCode)
class ReasonCodeAdmin(AuditedAdmin):
    list_display = ["code", "kind", "name"]
    list_filter = ["kind"]
    search_fields = ["code", "name"]
    readonly_fields = ["uuid", "created_at", "updated_at"]


class WorkOrderOperationInline(admin.TabularInline):
    model = models.WorkOrderOperation
    extra = 0
    can_delete = False
    fields = ["sequence", "name", "work_center", "status", "planned_qty", "good_qty", "scrap_qty", "rework_qty"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(models.WorkOrder)
class WorkOrderAdmin(ReadOnlyAdmin):
    """Orders come from the ERP or the planning pages; their status only moves through the state machine."""

    list_display = ["number", "item", "quantity", "due_date", "priority", "status"]
    list_filter = ["status", "due_date"]
    search_fields = ["number", "item__code"]
    list_select_related = ["item"]
    inlines = [WorkOrderOperationInline]


@admin.register(models.Confirmation)
class ConfirmationAdmin(ReadOnlyAdmin):
    list_display = ["uuid", "kind", "work_order", "operation", "good_qty", "scrap_qty", "rework_qty", "operator", "recorded_at"]
    list_filter = ["kind", "is_final"]
    search_fields = ["uuid", "client_id", "work_order__number"]
    list_select_related = ["work_order", "operation", "operator"]


@admin.register(models.Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "object_type", "object_key", "action", "actor_label", "reason"]
    list_filter = ["object_type", "action"]
    search_fields = ["object_key", "actor_label"]
    date_hierarchy = "occurred_at"


@admin.register(models.ApiAccess)
class ApiAccessAdmin(AuditedAdmin):
    list_display = ["user", "allowed_networks"]
    search_fields = ["user__username"]

    def audit_key(self, access):
        return access.user.get_username()


@admin.register(models.ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    """Who holds an API token, since when and until when: only its first characters, never the token
    (only its hash is stored). Tokens are made with ``manage.py create_api_token``; deleting one here
    revokes it (audited)."""

    list_display = ["user", "prefix", "created_at", "expires_at"]
    search_fields = ["user__username", "prefix"]
    list_select_related = ["user"]
    fields = ["user", "prefix", "created_at", "expires_at"]

    def has_delete_permission(self, request, obj=None):
        return admin.ModelAdmin.has_delete_permission(self, request, obj)

    def delete_model(self, request, obj):
        api_token_revoke(username=obj.user.get_username(), actor=request.user)

    def delete_queryset(self, request, queryset):
        for token in queryset.select_related("user"):
            api_token_revoke(username=token.user.get_username(), actor=request.user)


# Who may do what is part of the audit trail too: the auth pages, audited.
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class AuditedUserAdmin(AuditedAdmin, UserAdmin):
    pass


@admin.register(Group)
class AuditedGroupAdmin(AuditedAdmin, GroupAdmin):
    pass


admin.site.site_header = _("MES administration")
admin.site.site_title = _("MES")


# A sign-in lock-out (django-axes) is lifted by deleting its access attempts here: audited like every admin change.
admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class AccessAttemptAdmin(AuditedAdmin, axes_admin.AccessAttemptAdmin):
    audit_object_type = "sign_in_lockout"
