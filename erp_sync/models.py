import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class OutboxMessage(models.Model):
    """Something the ERP must hear, written in the same transaction as the fact it reports.

    ``idempotency_key`` is the key the ERP sees (SAP's ExternalSystemConfirmation, ERPNext's
    custom field, …), so a resend can never book twice. Messages of one work order
    (``partition_key``) are numbered by ``sequence`` and must reach the ERP in that order.
    """

    class Kind(models.TextChoices):
        CONFIRMATION = "confirmation", _("confirmation")
        REVERSAL = "reversal", _("reversal")

    class State(models.TextChoices):
        QUEUED = "queued", _("queued")
        SENDING = "sending", _("sending")
        ACKNOWLEDGED = "acknowledged", _("acknowledged")
        RETRYING = "retrying", _("retrying")
        DEAD = "dead", _("dead")

    idempotency_key = models.UUIDField(_("idempotency key"), default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    partition_key = models.CharField(_("work order"), max_length=64)
    sequence = models.PositiveIntegerField(_("sequence in work order"))
    payload = models.JSONField(_("payload"))
    source_uuid = models.UUIDField(_("source record"), help_text=_("The confirmation this message reports."))
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.QUEUED, db_index=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    erp_document = models.CharField(_("ERP document"), max_length=200, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("queued at"), auto_now_add=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["partition_key", "sequence"], name="outbox_unique_partition_sequence"),
        ]
        indexes = [models.Index(fields=["source_uuid"], name="outbox_source")]

    def __str__(self) -> str:
        return f"{self.partition_key}#{self.sequence} {self.kind}"
