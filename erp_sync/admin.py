from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from common.errors import DomainError
from common.masking import masked
from erp_sync.connectors.registry import CONNECTOR_CLASSES, connector_class
from erp_sync.models import DeliveryAttempt, ErpConnection, InboundReceipt, OutboxMessage
from erp_sync.services import options_unmasked
from mes.admin_audit import AuditedAdmin, ReadOnlyAdmin


class ErpConnectionForm(forms.ModelForm):
    """Secrets are write-only: an empty field keeps the stored value, which is never shown back.
    Secrets in the options are shown as "***"; left so, they keep the stored value."""

    base_url = forms.URLField(label=_("base URL"), max_length=500, assume_scheme="https")
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
        # The same checks as the API and ``erp_connection add``: a mapping is validated when saved.
        kind, options = cleaned.get("kind"), cleaned.get("options")
        if kind in CONNECTOR_CLASSES and isinstance(options, dict):
            problems = connector_class(kind).validate_options(options)
            if problems:
                self.add_error("options", [f"{key}: {problem}" for key, problem in problems.items()])
        elif "options" in cleaned and not isinstance(options, dict):
            self.add_error("options", _("The options must be a JSON object."))
        if cleaned.get("is_default"):
            current = ErpConnection.objects.filter(is_default=True).exclude(pk=self.instance.pk).first()
            if current is not None:
                self.add_error(
                    "is_default",
                    _("%(name)s is the default connection. Untick its default first, or use "
                      "“manage.py erp_connection add … --default”, which moves it.") % {"name": current.name},
                )
        return cleaned


@admin.register(ErpConnection)
class ErpConnectionAdmin(AuditedAdmin):
    audit_object_type = "erp_connection"
    form = ErpConnectionForm
    list_display = ["name", "kind", "base_url", "is_default", "is_enabled", "secret_state", "updated_at"]
    list_filter = ["kind", "is_default", "is_enabled"]
    readonly_fields = ["secret_state"]

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
