from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from mes.services.errors import DomainError
from shopfloor.models import DeviceException, DeviceMapping, EquipmentAssignment, EquipmentState, UnassignedProduction
from shopfloor.services import equipment_signals_test, validated_mapping


class DeviceMappingForm(forms.ModelForm):
    class Meta:
        model = DeviceMapping
        fields = ["equipment", "config", "is_enabled"]

    def clean_config(self):
        try:
            return validated_mapping(self.cleaned_data["config"])
        except DomainError as error:
            raise forms.ValidationError([f"{path}: {message}" for path, message in error.fields.items()]) from None

    def save(self, commit=True):
        self.instance.protocol = self.cleaned_data["config"]["protocol"]
        return super().save(commit)


@admin.register(DeviceMapping)
class DeviceMappingAdmin(admin.ModelAdmin):
    form = DeviceMappingForm
    list_display = ["equipment", "protocol", "is_enabled", "updated_at"]
    list_filter = ["protocol", "is_enabled"]
    actions = ["test_read"]

    @admin.action(description=_("Test read: show live values"))
    def test_read(self, request, queryset):
        for mapping in queryset.select_related("equipment")[:20]:
            result = equipment_signals_test(mapping.equipment.code)
            if result["reachable"]:
                self.message_user(request, f"{mapping.equipment.code}: {result['values']} {result['errors'] or ''}", messages.SUCCESS)
            else:
                self.message_user(request, f"{mapping.equipment.code}: {result['error']}", messages.ERROR)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Written by the collector; visible to supervisors, never edited by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(EquipmentAssignment)
class EquipmentAssignmentAdmin(ReadOnlyAdmin):
    list_display = ["equipment", "operation", "started_at", "ended_at", "started_by"]
    list_filter = ["equipment"]


@admin.register(UnassignedProduction)
class UnassignedProductionAdmin(ReadOnlyAdmin):
    list_display = ["equipment", "window_start", "window_end", "good", "scrap", "reason", "resolved_at"]
    list_filter = ["reason", "equipment"]


@admin.register(EquipmentState)
class EquipmentStateAdmin(ReadOnlyAdmin):
    list_display = ["equipment", "state", "started_at", "ended_at"]
    list_filter = ["state", "equipment"]


@admin.register(DeviceException)
class DeviceExceptionAdmin(ReadOnlyAdmin):
    list_display = ["equipment", "kind", "opened_at", "closed_at", "detail"]
    list_filter = ["kind", "equipment"]
