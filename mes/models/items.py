from django.db import models
from django.utils.translation import gettext_lazy as _

from mes.models.base import MONEY, ErpOwned


class UnitOfMeasure(models.Model):
    code = models.CharField(_("code"), max_length=16, unique=True)
    name = models.CharField(_("name"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("unit of measure")
        verbose_name_plural = _("units of measure")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Item(ErpOwned):
    class Tracking(models.TextChoices):
        NONE = "none", _("not tracked")
        LOT = "lot", _("by lot")
        SERIAL = "serial", _("by serial")

    code = models.CharField(_("code"), max_length=64, unique=True, help_text=_("The ERP's material number."))
    name = models.CharField(_("name"), max_length=200)
    unit = models.ForeignKey(UnitOfMeasure, models.PROTECT, verbose_name=_("unit"))
    description = models.TextField(_("description"), blank=True)
    tracking = models.CharField(
        _("tracking"), max_length=8, choices=Tracking.choices, default=Tracking.NONE,
        help_text=_("Whether every issue and receipt of this item names a lot, a serial per piece, or neither."),
    )
    standard_cost = models.DecimalField(
        _("standard cost"), **MONEY, null=True, blank=True,
        help_text=_("Per unit, in the plant's currency: what a unit costs at standard (empty: not known)."),
    )

    class Meta:
        verbose_name = _("item")
        verbose_name_plural = _("items")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(standard_cost__gte=0) | models.Q(standard_cost__isnull=True), name="item_standard_cost_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"
