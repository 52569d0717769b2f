import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from mes.models.base import MINUTES, QUANTITY
from mes.models.resources import Employee, ReasonCode
from mes.models.work_orders import WorkOrder, WorkOrderOperation


class Confirmation(models.Model):
    """A report of work done (报工) on one operation, or the reversal of one.

    Rows are never updated or deleted: a reversal is a new row with negated quantities
    pointing at the row it reverses, so the sum over an operation's rows is its total.
    """

    class Kind(models.TextChoices):
        CONFIRMATION = "confirmation", _("confirmation")
        REVERSAL = "reversal", _("reversal")

    uuid = models.UUIDField(_("UUID"), default=uuid.uuid4, unique=True, editable=False)
    client_id = models.UUIDField(_("client id"), unique=True, help_text=_("Made by the client; a resend is recognised by it."))
    request_hash = models.CharField(_("request fingerprint"), max_length=64)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.CONFIRMATION)
    work_order = models.ForeignKey(WorkOrder, models.PROTECT, related_name="confirmations", verbose_name=_("work order"))
    # No index of its own: the (operation, recorded_at) index below serves every look-up by operation.
    operation = models.ForeignKey(
        WorkOrderOperation, models.PROTECT, related_name="confirmations", verbose_name=_("operation"), db_index=False
    )
    good_qty = models.DecimalField(_("good quantity"), **QUANTITY, default=0)
    scrap_qty = models.DecimalField(_("scrap quantity"), **QUANTITY, default=0)
    rework_qty = models.DecimalField(_("rework quantity"), **QUANTITY, default=0)
    reason_code = models.ForeignKey(
        ReasonCode, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("reason code")
    )
    labor_minutes = models.DecimalField(_("labor minutes"), **MINUTES, default=0)
    machine_minutes = models.DecimalField(_("machine minutes"), **MINUTES, default=0)
    operator = models.ForeignKey(
        Employee, models.PROTECT, null=True, blank=True, related_name="confirmations", verbose_name=_("operator")
    )
    station = models.CharField(_("station"), max_length=64, blank=True)
    is_final = models.BooleanField(_("final"), default=False)
    reverses = models.OneToOneField(
        "self", models.PROTECT, null=True, blank=True, related_name="reversed_by", verbose_name=_("reverses")
    )
    note = models.CharField(_("note"), max_length=500, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), help_text=_("When the work was reported at the source."))
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("recorded by")
    )

    class Meta:
        verbose_name = _("confirmation")
        verbose_name_plural = _("confirmations")
        ordering = ["-recorded_at", "-id"]
        indexes = [
            models.Index(fields=["operation", "recorded_at"], name="confirmation_operation_time"),
            # A station's latest reports, polled by every station page.
            models.Index(fields=["station", "-recorded_at"], name="confirmation_station_time"),
            # The production day's reports (the board's charts, the OEE, the daily report) by when they were made.
            models.Index(fields=["confirmed_at"], name="confirmation_confirmed_at"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind="confirmation", good_qty__gte=0, scrap_qty__gte=0, rework_qty__gte=0, reverses__isnull=True)
                    | models.Q(kind="reversal", good_qty__lte=0, scrap_qty__lte=0, rework_qty__lte=0, reverses__isnull=False)
                ),
                name="confirmation_sign_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.uuid}"
