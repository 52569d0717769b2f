"""Materials: the lots and serials on the floor, every movement of material into and out of an
order, and who was clocked on which operation when.

Movements are never updated once posted and never deleted: a reversal is a new, negated row
pointing at the one it reverses, as for confirmations. A lot's running totals (received from the
ERP, produced here, issued here) are kept by the services under the order's lock and the lot's
row lock, so ``quantity_on_hand`` needs no sum over the movements.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from mes.models.base import MONEY, QUANTITY
from mes.models.confirmations import Confirmation
from mes.models.items import Item, UnitOfMeasure
from mes.models.resources import Employee
from mes.models.work_orders import WorkOrder, WorkOrderOperation


class Lot(models.Model):
    """A lot or a serial of an item: staged by the ERP (``received_qty``) or made here (``produced_by``).

    A serial is a lot of one piece (``kind`` = serial), so genealogy has one kind of node.
    """

    class Kind(models.TextChoices):
        LOT = "lot", _("lot")
        SERIAL = "serial", _("serial")

    class Status(models.TextChoices):
        AVAILABLE = "available", _("available")
        HOLD = "hold", _("on hold")
        BLOCKED = "blocked", _("blocked")

    uuid = models.UUIDField(_("UUID"), default=uuid.uuid4, unique=True, editable=False)
    item = models.ForeignKey(Item, models.PROTECT, related_name="lots", verbose_name=_("item"))
    code = models.CharField(_("code"), max_length=64)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.LOT)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.AVAILABLE)
    unit = models.ForeignKey(UnitOfMeasure, models.PROTECT, related_name="+", verbose_name=_("unit"))
    received_qty = models.DecimalField(_("received quantity"), **QUANTITY, default=0, help_text=_("What the ERP staged for production."))
    produced_qty = models.DecimalField(_("produced quantity"), **QUANTITY, default=0)
    issued_qty = models.DecimalField(_("issued quantity"), **QUANTITY, default=0)
    expires_on = models.DateField(_("expires on"), null=True, blank=True)
    supplier_lot = models.CharField(_("supplier lot"), max_length=64, blank=True)
    location = models.CharField(_("location"), max_length=64, blank=True)
    unit_cost = models.DecimalField(
        _("unit cost"), **MONEY, null=True, blank=True,
        help_text=_("Per unit, in the plant's currency, as the ERP valued the lot (empty: the item's standard cost is used)."),
    )
    produced_by = models.ForeignKey(
        WorkOrder, models.PROTECT, null=True, blank=True, related_name="output_lots", verbose_name=_("produced by")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("lot")
        verbose_name_plural = _("lots")
        ordering = ["item", "code"]
        constraints = [
            models.UniqueConstraint(fields=["item", "code"], name="lot_unique_item_code"),
            models.CheckConstraint(
                condition=models.Q(received_qty__gte=0, produced_qty__gte=0, issued_qty__gte=0), name="lot_totals_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(unit_cost__gte=0) | models.Q(unit_cost__isnull=True), name="lot_unit_cost_not_negative"
            ),
        ]
        indexes = [
            # A scan or a trace names the code alone.
            models.Index(fields=["code"], name="lot_code"),
        ]

    def __str__(self) -> str:
        return f"{self.item.code} {self.code}"

    @property
    def quantity_on_hand(self):
        return self.received_qty + self.produced_qty - self.issued_qty


class MaterialMovement(models.Model):
    """Material issued to an order (scanned at the station, or backflushed by a confirmation), a
    report's consumption of material scanned to its order, an order's output received into a lot,
    or the reversal of any of them.

    ``quantity`` is positive for an issue or a receipt and negative for its reversal. A scanned
    issue beyond the tolerance waits for a supervisor (``awaiting_approval``) and consumes nothing
    until approved; a rejected one stays as a record of the refusal.
    """

    class Kind(models.TextChoices):
        ISSUE = "issue", _("goods issue")
        RECEIPT = "receipt", _("goods receipt")
        # A report's use of material already issued to its order by scan: no stock moves and the
        # ERP hears nothing (it booked the issue), but the genealogy and the report's answer show it.
        CONSUMPTION = "consume", _("consumption of issued material")

    class Source(models.TextChoices):
        SCAN = "scan", _("issued by scan")
        BACKFLUSH = "backflush", _("backflushed")
        OUTPUT = "output", _("output of the order")
        REVERSAL = "reversal", _("reversal")

    class State(models.TextChoices):
        AWAITING_APPROVAL = "awaiting_approval", _("awaiting approval")
        POSTED = "posted", _("posted")
        REJECTED = "rejected", _("rejected")

    uuid = models.UUIDField(_("UUID"), default=uuid.uuid4, unique=True, editable=False)
    client_id = models.UUIDField(
        _("client id"), null=True, blank=True, unique=True, help_text=_("Made by the client for an issue by scan; a resend is recognised by it.")
    )
    request_hash = models.CharField(_("request fingerprint"), max_length=64, blank=True)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    state = models.CharField(_("state"), max_length=24, choices=State.choices, default=State.POSTED)
    # Each movement row is written on the hot path of a backflushing report: foreign keys keep no
    # index of their own where a composite index below starts with them (order, lot, operation) or
    # nothing ever searches by them (item, unit, people).
    work_order = models.ForeignKey(WorkOrder, models.PROTECT, related_name="movements", verbose_name=_("work order"), db_index=False)
    operation = models.ForeignKey(WorkOrderOperation, models.PROTECT, related_name="movements", verbose_name=_("operation"), db_index=False)
    item = models.ForeignKey(Item, models.PROTECT, related_name="movements", verbose_name=_("item"), db_index=False)
    lot = models.ForeignKey(Lot, models.PROTECT, null=True, blank=True, related_name="movements", verbose_name=_("lot"), db_index=False)
    quantity = models.DecimalField(_("quantity"), **QUANTITY)
    unit = models.ForeignKey(UnitOfMeasure, models.PROTECT, related_name="+", verbose_name=_("unit"), db_index=False)
    confirmation = models.ForeignKey(
        Confirmation, models.PROTECT, null=True, blank=True, related_name="movements", verbose_name=_("confirmation"),
        help_text=_("The report that backflushed or received this; empty for an issue by scan."),
    )
    reverses = models.OneToOneField(
        "self", models.PROTECT, null=True, blank=True, related_name="reversed_by", verbose_name=_("reverses")
    )
    operator = models.ForeignKey(Employee, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("operator"), db_index=False)
    station = models.CharField(_("station"), max_length=64, blank=True)
    # What the tolerance check saw, kept for the supervisor who decides on an over-issue.
    required_qty = models.DecimalField(_("required quantity"), **QUANTITY, null=True, blank=True)
    issued_before_qty = models.DecimalField(_("issued before"), **QUANTITY, null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("decided by"), db_index=False
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_reason = models.CharField(_("reason"), max_length=500, blank=True)
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("recorded by"), db_index=False
    )

    class Meta:
        verbose_name = _("material movement")
        verbose_name_plural = _("material movements")
        ordering = ["-recorded_at", "-id"]
        indexes = [
            # Trace: what went into an order (backward) and where a lot went (forward).
            models.Index(fields=["work_order", "kind"], name="movement_order_kind"),
            models.Index(fields=["lot", "kind"], name="movement_lot_kind"),
            models.Index(fields=["operation", "item"], name="movement_operation_item"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(quantity__gt=0, reverses__isnull=True) & ~models.Q(source="reversal")
                    | models.Q(quantity__lt=0, reverses__isnull=False, source="reversal")
                ),
                name="movement_sign_matches_source",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.quantity} {self.item_id} {self.lot_id or ''}"


class LaborSession(models.Model):
    """An operator clocked on an operation: from start, resume or clock-on until pause, report,
    completion or clock-off. Several operators may be clocked on one operation at once."""

    class EndReason(models.TextChoices):
        CLOCK_OFF = "clock_off", _("clocked off")
        PAUSE = "pause", _("paused")
        COMPLETE = "complete", _("completed")
        CANCEL = "cancel", _("cancelled")

    operation = models.ForeignKey(WorkOrderOperation, models.PROTECT, related_name="labor_sessions", verbose_name=_("operation"))
    employee = models.ForeignKey(Employee, models.PROTECT, related_name="labor_sessions", verbose_name=_("operator"))
    station = models.CharField(_("station"), max_length=64, blank=True)
    started_at = models.DateTimeField(_("clocked on"))
    ended_at = models.DateTimeField(_("clocked off"), null=True, blank=True)
    # Why it ended: a resume clocks on again exactly those whose last session a pause ended.
    end_reason = models.CharField(_("ended by"), max_length=16, choices=EndReason.choices, blank=True)

    class Meta:
        verbose_name = _("labor session")
        verbose_name_plural = _("labor sessions")
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["operation", "employee", "started_at"], name="labor_operation_employee")]
        constraints = [
            models.UniqueConstraint(
                fields=["operation", "employee"], condition=models.Q(ended_at__isnull=True), name="labor_one_open_session"
            ),
            models.CheckConstraint(
                condition=models.Q(ended_at__isnull=True) | models.Q(ended_at__gte=models.F("started_at")), name="labor_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.employee_id}@{self.operation_id} {self.started_at:%Y-%m-%d %H:%M}"
