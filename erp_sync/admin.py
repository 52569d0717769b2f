from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from common.errors import DomainError
from common.masking import masked
from erp_sync.event_destinations import event_destination_check, event_destination_remove, event_destination_upsert, public_url
from erp_sync.models import (
    DeliveryAttempt,
    ErpConnection,
    EventDestination,
    InboundReceipt,
    OutboxMessage,
    PullRefusal,
    PullRun,
    StreamEvent,
)
from erp_sync.services import erp_connection_check, erp_connection_upsert, options_unmasked
from mes.admin_audit import AuditedAdmin, ReadOnlyAdmin


class ErpConnectionForm(forms.ModelForm):
    """Secrets are write-only: an empty field keeps the stored value, which is never shown back.
    Secrets in the options are shown as "***"; left so, they keep the stored value."""

    # Checked by the service (``erp_connection_check``): http(s), or file:///folder for a kind that writes into folders.
    base_url = forms.CharField(label=_("base URL"), max_length=500)
    password = forms.CharField(label=_("password"), required=False, widget=forms.PasswordInput(render_value=False))
    token = forms.CharField(label=_("token"), required=False, widget=forms.PasswordInput(render_value=False))

    class Meta:
        model = ErpConnection
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["options"] = masked(self.instance.options)

    def clean_options(self):
        options = self.cleaned_data.get("options")
        if not isinstance(options, dict):
            return options
        try:
            return options_unmasked(options=options, stored=self.instance.options if self.instance.pk else {})
        except DomainError as error:
            raise forms.ValidationError(error.message) from None

    def clean(self):
        cleaned = super().clean()
        for secret in ("password", "token"):
            if not cleaned.get(secret) and self.instance.pk:
                cleaned[secret] = getattr(self.instance, secret)
        options = cleaned.get("options")
        if "options" in cleaned and not isinstance(options, dict):
            self.add_error("options", _("The options must be a JSON object."))
        elif self.errors:
            return cleaned
        else:
            # The checks of the API and ``erp_connection add``: the service's own, before it saves.
            try:
                erp_connection_check(
                    name=cleaned.get("name") or self.instance.name, kind=cleaned.get("kind", ""), base_url=cleaned.get("base_url", ""),
                    username=cleaned.get("username", ""), password=cleaned.get("password", ""), token=cleaned.get("token", ""),
                    options=options or {}, timeout_seconds=cleaned.get("timeout_seconds"),
                )
            except DomainError as error:
                self.add_error(self._field_of(error), error.message)
        return cleaned

    def _get_validation_exclusions(self):
        # One default at a time is the service's to keep: it moves the default, never refuses a second.
        # The URL is the service's to check too: a URLField knows no file:///folder.
        return {*super()._get_validation_exclusions(), "is_default", "base_url"}

    def _field_of(self, error: DomainError) -> str | None:
        """The form field a refusal of the service is about, if it names one."""
        named = [str(key).split(".")[0] for key in error.fields or {}]
        named = ["base_url" if name == "url" else name for name in named]
        return next((name for name in named if name in self.fields), None)


@admin.register(ErpConnection)
class ErpConnectionAdmin(AuditedAdmin):
    audit_object_type = "erp_connection"
    form = ErpConnectionForm
    list_display = ["name", "kind", "base_url", "is_default", "is_enabled", "secret_state", "updated_at"]
    list_filter = ["kind", "is_default", "is_enabled"]
    readonly_fields = ["secret_state"]

    def get_readonly_fields(self, request, obj=None):
        # Messages name their connection: a rename would be a second connection, as in the service.
        return [*super().get_readonly_fields(request, obj), *(["name"] if obj is not None else [])]

    def save_model(self, request, obj, form, change):
        """Written by the service, as the API and the command write it; the service records the event."""
        cleaned = form.cleaned_data
        connection, _created = erp_connection_upsert(
            name=obj.name, kind=cleaned["kind"], base_url=cleaned["base_url"], username=cleaned["username"],
            password=cleaned["password"], token=cleaned["token"], options=cleaned["options"],
            timeout_seconds=cleaned["timeout_seconds"], is_default=cleaned["is_default"], is_enabled=cleaned["is_enabled"],
            actor=request.user,
        )
        obj.pk = connection.pk
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        admin.ModelAdmin.save_related(self, request, form, formsets, change)  # the service audited the save

    @admin.display(description=_("secrets"))
    def secret_state(self, connection):
        unreadable = connection.unreadable_secrets()
        if not unreadable:
            return _("stored encrypted")
        return _("must be re-entered: %(fields)s (MES_SECRETS_KEY cannot decrypt them)") % {"fields": ", ".join(unreadable)}


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ["started_at", "action", "outcome", "http_status", "duration_ms", "erp_document", "error"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = ["partition_key", "sequence", "kind", "state", "attempts", "erp_document", "created_at", "acknowledged_at"]
    list_filter = ["state", "kind", "destination"]
    search_fields = ["partition_key", "idempotency_key", "source_uuid"]
    inlines = [DeliveryAttemptInline]


@admin.register(InboundReceipt)
class InboundReceiptAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "user", "method", "path", "status_code", "remote_addr"]
    list_filter = ["method", "status_code"]
    search_fields = ["path", "payload_sha256"]


class EventDestinationForm(forms.ModelForm):
    """One URL, its password shown as "***" (left so, or left out, it keeps the stored one)."""

    url = forms.CharField(label=_("URL"), max_length=500, help_text=_("amqp://user:password@host:5672/%2F or mqtt://user:password@host:1883"))

    class Meta:
        model = EventDestination
        fields = ["name", "url", "exchange", "topic_prefix", "is_enabled"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["url"] = public_url(self.instance)

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:  # the checks of the API and ``event_destination add``: the service's own, before it saves
            event_destination_check(
                name=cleaned.get("name") or self.instance.name, url=cleaned.get("url", ""),
                exchange=cleaned.get("exchange") or None, topic_prefix=cleaned.get("topic_prefix") or None,
            )
        except DomainError as error:
            named = [str(key) for key in error.fields or {}]
            self.add_error(next((name for name in named if name in self.fields), None), error.message)
        return cleaned


@admin.register(EventDestination)
class EventDestinationAdmin(AuditedAdmin):
    audit_object_type = "event_destination"
    form = EventDestinationForm
    list_display = ["name", "kind", "shown_url", "exchange", "topic_prefix", "is_enabled", "position", "published_count", "last_error"]
    list_filter = ["kind", "is_enabled"]
    readonly_fields = ["kind", "position", "published_count", "last_published_at", "last_error", "failing_since"]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), *(["name"] if obj is not None else [])]

    @admin.display(description=_("URL"))
    def shown_url(self, destination):
        return public_url(destination)

    def save_model(self, request, obj, form, change):
        """Written by the service, as the API and the command write it; the service records the event."""
        cleaned = form.cleaned_data
        destination, _created = event_destination_upsert(
            name=obj.name, url=cleaned["url"], exchange=cleaned.get("exchange") or None,
            topic_prefix=cleaned.get("topic_prefix") if cleaned.get("topic_prefix") or destination_is_mqtt(cleaned["url"]) else None,
            is_enabled=cleaned["is_enabled"], actor=request.user,
        )
        obj.pk = destination.pk
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        admin.ModelAdmin.save_related(self, request, form, formsets, change)  # the service audited the save

    def delete_model(self, request, obj):
        event_destination_remove(name=obj.name, actor=request.user)

    def delete_queryset(self, request, queryset):
        for destination in queryset:
            event_destination_remove(name=destination.name, actor=request.user)


def destination_is_mqtt(url: str) -> bool:
    return url.strip().lower().startswith("mqtt:")


@admin.register(StreamEvent)
class StreamEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "position", "kind", "subject", "key", "created_at"]
    list_filter = ["kind"]
    search_fields = ["subject", "key"]


class PullRefusalInline(admin.TabularInline):
    model = PullRefusal
    fields = ("erp_key", "code", "message", "fields")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(PullRun)
class PullRunAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "connection", "trigger", "state", "orders_read", "orders_created", "orders_updated", "orders_refused", "high_water_mark")
    list_filter = ("state", "trigger", "connection")
    inlines = [PullRefusalInline]
