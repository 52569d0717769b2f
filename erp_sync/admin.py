from django.contrib import admin

from erp_sync.models import OutboxMessage


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = ["partition_key", "sequence", "kind", "state", "attempts", "erp_document", "created_at"]
    list_filter = ["state", "kind"]
    search_fields = ["partition_key", "idempotency_key", "source_uuid"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
