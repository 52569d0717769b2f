from django.db import models
from django.utils.translation import gettext_lazy as _

from mes.models.base import MINUTES, QUANTITY, ErpOwned
from mes.models.items import Item, UnitOfMeasure
from mes.models.resources import WorkCenter
from mes.models.status import Status


class WorkOrder(ErpOwned):
    number = models.CharField(_("number"), max_length=64, unique=True, help_text=_("The ERP's order number."))
    item = models.ForeignKey(Item, models.PROTECT, related_name="work_orders", verbose_name=_("item"))
    quantity = models.DecimalField(_("quantity"), **QUANTITY)
    due_date = models.DateField(_("due date"))
    priority = models.PositiveSmallIntegerField(_("priority"), default=5, help_text=_("1 = most urgent."))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PLANNED, db_index=True)
    bom_version = models.CharField(_("BOM version used"), max_length=32, blank=True)
    released_at = models.DateTimeField(_("released at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    on_quality_hold = models.BooleanField(
        _("on quality hold"), default=False,
        help_text=_("A quality hold is placed on the whole order: it takes no reports and cannot be released or closed. Kept by the hold service."),
    )

    class Meta:
        verbose_name = _("work order")
        verbose_name_plural = _("work orders")
        ordering = ["due_date", "priority", "number"]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="work_order_quantity_positive"),
        ]

    def __str__(self) -> str:
        return self.number


class WorkOrderOperation(models.Model):
    """An operation of a released order: a snapshot of the routing taken at release, plus running totals.

    The totals are the sum of the operation's confirmations (reversals count negative); the
    confirmation service keeps them while holding the order's lock.
    """

    work_order = models.ForeignKey(WorkOrder, models.CASCADE, related_name="operations", verbose_name=_("work order"))
    sequence = models.PositiveIntegerField(_("sequence"))
    name = models.CharField(_("name"), max_length=200)
    work_center = models.ForeignKey(WorkCenter, models.PROTECT, related_name="operations", verbose_name=_("work center"))
    setup_minutes = models.DecimalField(_("setup minutes"), **MINUTES, default=0)
    run_minutes_per_unit = models.DecimalField(_("run minutes per unit"), **MINUTES, default=0)
    quality_checkpoint = models.BooleanField(_("quality checkpoint"), default=False)
    inspection_gated = models.BooleanField(
        _("inspection gated"), default=False,
        help_text=_("Has mandatory inspection characteristics (set at release): its reports of good are checked against their results."),
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PLANNED, db_index=True)
    planned_qty = models.DecimalField(_("planned quantity"), **QUANTITY)
    good_qty = models.DecimalField(_("good quantity"), **QUANTITY, default=0)
    scrap_qty = models.DecimalField(_("scrap quantity"), **QUANTITY, default=0)
    rework_qty = models.DecimalField(_("rework quantity"), **QUANTITY, default=0)
    labor_minutes = models.DecimalField(_("labor minutes"), **MINUTES, default=0)
    machine_minutes = models.DecimalField(_("machine minutes"), **MINUTES, default=0)
    held_qty = models.DecimalField(
        _("quantity on quality hold"), **QUANTITY, default=0,
        help_text=_("Of its good output, what failed inspection and awaits a disposition: later operations cannot take it."),
    )
    rejected_qty = models.DecimalField(
        _("rejected after reporting"), **QUANTITY, default=0,
        help_text=_("Of its good output, what a disposition scrapped or returned to the supplier: it goes no further."),
    )
    disposed_qty = models.DecimalField(
        _("booked again by dispositions"), **QUANTITY, default=0,
        help_text=_("Of its good output, what a disposition booked again as scrap or rework: those pieces count once in what it has done."),
    )
    on_quality_hold = models.BooleanField(
        _("on quality hold"), default=False, help_text=_("A quality hold is placed on the operation: it takes no reports. Kept by the hold service."),
    )
    last_activity_at = models.DateTimeField(_("last activity"), null=True, blank=True)

    class Meta:
        verbose_name = _("work-order operation")
        verbose_name_plural = _("work-order operations")
        ordering = ["work_order", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["work_order", "sequence"], name="work_order_operation_unique_sequence"),
            models.CheckConstraint(
                condition=models.Q(good_qty__gte=0, scrap_qty__gte=0, rework_qty__gte=0),
                name="work_order_operation_totals_not_negative",
            ),
            models.CheckConstraint(condition=models.Q(held_qty__gte=0), name="work_order_operation_held_not_negative"),
            models.CheckConstraint(
                condition=models.Q(rejected_qty__gte=0, disposed_qty__gte=0), name="work_order_operation_rejected_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.work_order_id}/{self.sequence:04d}"

    @property
    def confirmed_qty(self):
        """The pieces it has done: a piece reported good and then scrapped or reworked by a disposition counts once."""
        return self.good_qty + self.scrap_qty + self.rework_qty - self.disposed_qty


class WorkOrderComponent(models.Model):
    """The BOM snapshot taken at release: what the whole order needs of each component, which
    operation consumes it and how (backflushed by reports or issued by scan), and how much is issued."""

    work_order = models.ForeignKey(WorkOrder, models.CASCADE, related_name="components", verbose_name=_("work order"))
    position = models.PositiveIntegerField(_("position"))
    item = models.ForeignKey(Item, models.PROTECT, related_name="+", verbose_name=_("item"))
    required_qty = models.DecimalField(_("required quantity"), **QUANTITY)
    unit = models.ForeignKey(UnitOfMeasure, models.PROTECT, related_name="+", verbose_name=_("unit"))
    operation_sequence = models.PositiveIntegerField(_("consuming operation"), help_text=_("The sequence of the order's operation that consumes it."))
    backflush = models.BooleanField(_("backflush"), default=False)
    issued_qty = models.DecimalField(
        _("issued quantity"), **QUANTITY, default=0, help_text=_("Issued and backflushed so far, net of reversals; kept under the order's lock.")
    )
    scanned_qty = models.DecimalField(
        _("issued by scan"), **QUANTITY, default=0,
        help_text=_("Issued to the order by scan so far, net of reversals: the part of the issued quantity that reports consume before they draw on stock."),
    )

    class Meta:
        verbose_name = _("work-order component")
        verbose_name_plural = _("work-order components")
        ordering = ["work_order", "position"]
        constraints = [
            models.UniqueConstraint(fields=["work_order", "position"], name="work_order_component_unique_position"),
        ]
