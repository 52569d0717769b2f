"""Quality: inspection plans per routing operation, their snapshot in a released order, results.

A plan is kept per item and operation sequence (not per ``RoutingOperation`` row), so replacing a
routing keeps its plan. Releasing an order copies the plan into ``OrderCharacteristic`` rows, as
the routing is copied into operations; results are recorded against the copy.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from mes.models.base import QUANTITY
from mes.models.confirmations import Confirmation
from mes.models.items import Item, UnitOfMeasure
from mes.models.materials import Lot
from mes.models.resources import Employee, Equipment, ReasonCode
from mes.models.work_orders import WorkOrder, WorkOrderOperation

MEASURE = {"max_digits": 18, "decimal_places": 6}


class Characteristic(models.Model):
    """What one characteristic asks: the plan's and the order's copy share these fields."""

    class Kind(models.TextChoices):
        MEASURED = "measured", _("measured")
        ATTRIBUTE = "attribute", _("attribute (pass/fail)")

    class Sampling(models.TextChoices):
        FIRST_PIECE = "first_piece", _("first piece")
        EVERY_N = "every_n", _("every n good")
        PER_REPORT = "per_report", _("per report")
        EACH_SERIAL = "each_serial", _("each serial")

    position = models.PositiveIntegerField(_("position"))
    code = models.CharField(_("code"), max_length=64)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    nominal = models.DecimalField(_("nominal"), **MEASURE, null=True, blank=True)
    lower_limit = models.DecimalField(_("lower limit"), **MEASURE, null=True, blank=True)
    upper_limit = models.DecimalField(_("upper limit"), **MEASURE, null=True, blank=True)
    unit = models.ForeignKey(UnitOfMeasure, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("unit"))
    sampling_rule = models.CharField(_("sampling rule"), max_length=16, choices=Sampling.choices)
    sampling_n = models.PositiveIntegerField(_("every n"), null=True, blank=True, help_text=_("For every_n: one result per n good."))
    mandatory = models.BooleanField(_("mandatory"), default=True, help_text=_("A mandatory characteristic gates the reports of good quantity."))

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class InspectionCharacteristic(Characteristic):
    """One characteristic of an item's inspection plan for the routing operation ``sequence``."""

    item = models.ForeignKey(Item, models.CASCADE, related_name="inspection_characteristics", verbose_name=_("item"))
    sequence = models.PositiveIntegerField(_("operation sequence"))

    class Meta:
        verbose_name = _("inspection characteristic")
        verbose_name_plural = _("inspection characteristics")
        ordering = ["item", "sequence", "position"]
        constraints = [
            models.UniqueConstraint(fields=["item", "sequence", "code"], name="inspection_characteristic_unique_code"),
        ]


class OrderCharacteristic(Characteristic):
    """A characteristic of a released order's operation: the plan as it was at release."""

    operation = models.ForeignKey(WorkOrderOperation, models.CASCADE, related_name="characteristics", verbose_name=_("operation"))

    class Meta:
        verbose_name = _("order characteristic")
        verbose_name_plural = _("order characteristics")
        ordering = ["operation", "position"]
        constraints = [
            models.UniqueConstraint(fields=["operation", "code"], name="order_characteristic_unique_code"),
        ]


class InspectionResult(models.Model):
    """One measurement or pass/fail of one sample of a characteristic. Never updated or deleted."""

    uuid = models.UUIDField(_("UUID"), default=uuid.uuid4, unique=True, editable=False)
    client_id = models.UUIDField(_("client id"), unique=True, help_text=_("Made by the client; a resend is recognised by it."))
    request_hash = models.CharField(_("request fingerprint"), max_length=64)
    work_order = models.ForeignKey(WorkOrder, models.PROTECT, related_name="inspection_results", verbose_name=_("work order"))
    operation = models.ForeignKey(WorkOrderOperation, models.PROTECT, related_name="inspection_results", verbose_name=_("operation"))
    characteristic = models.ForeignKey(OrderCharacteristic, models.PROTECT, related_name="results", verbose_name=_("characteristic"))
    sample_no = models.PositiveIntegerField(_("sample number"))
    value = models.DecimalField(_("value"), **MEASURE, null=True, blank=True)
    passed = models.BooleanField(_("passed"))
    serial = models.CharField(_("serial"), max_length=64, blank=True)
    lot = models.CharField(_("lot"), max_length=64, blank=True)
    quantity = models.DecimalField(_("quantity judged"), **QUANTITY, default=1)
    disposition = models.CharField(
        _("disposition"), max_length=32, blank=True,
        help_text=_("How a failing result was decided; until then its quantity is on hold."),
    )
    inspector = models.ForeignKey(Employee, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("inspector"))
    equipment = models.ForeignKey(Equipment, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("gauge or machine"))
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("recorded by")
    )

    class Meta:
        verbose_name = _("inspection result")
        verbose_name_plural = _("inspection results")
        ordering = ["characteristic", "sample_no", "recorded_at", "id"]
        indexes = [
            models.Index(fields=["characteristic", "passed", "sample_no"], name="inspection_result_gate"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(sample_no__gte=1), name="inspection_result_sample_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.characteristic_id} #{self.sample_no} {'pass' if self.passed else 'fail'}"


class Hold(models.Model):
    """A quality hold on a work order (or one of its operations), a lot or a serial, until released.

    The hold service keeps ``on_quality_hold`` on the order and operation and the lot's status in
    step with the active holds, so the confirmation path reads no hold rows."""

    class State(models.TextChoices):
        ACTIVE = "active", _("active")
        RELEASED = "released", _("released")

    class Cause(models.TextChoices):
        PLACED = "placed", _("placed by hand")
        QUALITY_STOP = "quality_stop", _("quality stop")

    work_order = models.ForeignKey(WorkOrder, models.PROTECT, null=True, blank=True, related_name="holds", verbose_name=_("work order"))
    cause = models.CharField(
        _("cause"), max_length=16, choices=Cause.choices, default=Cause.PLACED,
        help_text=_("A quality stop is placed by the MES on an operation with too many failed or scrapped pieces; only quality releases it."),
    )
    operation = models.ForeignKey(WorkOrderOperation, models.PROTECT, null=True, blank=True, related_name="holds", verbose_name=_("operation"))
    lot = models.ForeignKey(Lot, models.PROTECT, null=True, blank=True, related_name="holds", verbose_name=_("lot or serial"))
    lot_status_before = models.CharField(
        _("lot status before"), max_length=16, blank=True, help_text=_("What the lot's status was when the first active hold took it; restored by the last release."),
    )
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.ACTIVE, db_index=True)
    reason = models.CharField(_("reason"), max_length=500)
    placed_at = models.DateTimeField(_("placed at"), auto_now_add=True)
    placed_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("placed by"))
    released_at = models.DateTimeField(_("released at"), null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("released by")
    )
    release_reason = models.CharField(_("release reason"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("quality hold")
        verbose_name_plural = _("quality holds")
        ordering = ["-placed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(work_order__isnull=False, lot__isnull=True) | models.Q(work_order__isnull=True, lot__isnull=False, operation__isnull=True),
                name="hold_on_an_order_or_a_lot",
            ),
        ]

    def __str__(self) -> str:
        return f"hold {self.pk}"


class Nonconformance(models.Model):
    """A nonconformance report (NCR): pieces of an operation that do not conform, until decided
    (open → dispositioned, once its whole quantity is decided) and closed."""

    class State(models.TextChoices):
        OPEN = "open", _("open")
        DISPOSITIONED = "dispositioned", _("dispositioned")
        CLOSED = "closed", _("closed")

    class Source(models.TextChoices):
        INSPECTION = "inspection", _("failed inspection")
        MANUAL = "manual", _("reported by hand")
        QUALITY_STOP = "quality_stop", _("quality stop")

    uuid = models.UUIDField(_("UUID"), default=uuid.uuid4, unique=True, editable=False)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.OPEN, db_index=True)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    work_order = models.ForeignKey(WorkOrder, models.PROTECT, related_name="nonconformances", verbose_name=_("work order"))
    operation = models.ForeignKey(WorkOrderOperation, models.PROTECT, related_name="nonconformances", verbose_name=_("operation"))
    quantity = models.DecimalField(_("quantity"), **QUANTITY)
    dispositioned_qty = models.DecimalField(_("quantity decided"), **QUANTITY, default=0)
    defect_code = models.ForeignKey(ReasonCode, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("defect code"))
    description = models.CharField(_("description"), max_length=1000, blank=True)
    serial = models.CharField(_("serial"), max_length=64, blank=True)
    lot = models.CharField(_("lot"), max_length=64, blank=True)
    inspection_result = models.OneToOneField(
        InspectionResult, models.PROTECT, null=True, blank=True, related_name="nonconformance", verbose_name=_("failed result")
    )
    quality_stop = models.OneToOneField(
        "Hold", models.PROTECT, null=True, blank=True, related_name="nonconformance", verbose_name=_("quality stop"),
        help_text=_("For a quality stop: the hold that stops the operation; its release closes this NCR."),
    )
    opened_at = models.DateTimeField(_("opened at"), auto_now_add=True)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("opened by"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("closed by"))

    class Meta:
        verbose_name = _("nonconformance")
        verbose_name_plural = _("nonconformances")
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="nonconformance_quantity_positive"),
            models.CheckConstraint(
                condition=models.Q(dispositioned_qty__gte=0, dispositioned_qty__lte=models.F("quantity")), name="nonconformance_decided_within_quantity",
            ),
        ]

    def __str__(self) -> str:
        return f"NCR {self.pk}"

    @property
    def open_qty(self):
        return self.quantity - self.dispositioned_qty


class NonconformanceDisposition(models.Model):
    """One decision on part or all of an NCR's quantity. Never updated or deleted."""

    class Kind(models.TextChoices):
        SCRAP = "scrap", _("scrap")
        REWORK = "rework", _("rework")
        USE_AS_IS = "use_as_is", _("use as is (concession)")
        RETURN_TO_SUPPLIER = "return_to_supplier", _("return to supplier")

    uuid = models.UUIDField(_("UUID"), default=uuid.uuid4, unique=True, editable=False)
    nonconformance = models.ForeignKey(Nonconformance, models.PROTECT, related_name="dispositions", verbose_name=_("nonconformance"))
    disposition = models.CharField(_("disposition"), max_length=32, choices=Kind.choices)
    quantity = models.DecimalField(_("quantity"), **QUANTITY)
    reason = models.CharField(_("reason"), max_length=500)
    confirmation = models.ForeignKey(
        Confirmation, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("scrap confirmation")
    )
    reinspection = models.OneToOneField(
        InspectionResult, models.PROTECT, null=True, blank=True, related_name="reinspects", verbose_name=_("re-inspection"),
        help_text=_("For rework: the result that judged the reworked pieces again; until then they stay on hold."),
    )
    decided_at = models.DateTimeField(_("decided at"), auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("decided (approved) by")
    )

    class Meta:
        verbose_name = _("disposition")
        verbose_name_plural = _("dispositions")
        ordering = ["nonconformance", "decided_at", "id"]
        constraints = [models.CheckConstraint(condition=models.Q(quantity__gt=0), name="disposition_quantity_positive")]

    def __str__(self) -> str:
        return f"{self.disposition} {self.quantity}"
