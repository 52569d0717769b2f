from django.db import models
from django.utils.translation import gettext_lazy as _

from mes.models.base import QUANTITY, ErpOwned
from mes.models.items import Item, UnitOfMeasure


class Bom(ErpOwned):
    """One version of an item's bill of materials. Lines may be items with BOMs of their own."""

    item = models.ForeignKey(Item, models.PROTECT, related_name="boms", verbose_name=_("item"))
    version = models.CharField(_("version"), max_length=32)
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_to = models.DateField(_("valid to"), null=True, blank=True)

    class Meta:
        verbose_name = _("BOM")
        verbose_name_plural = _("BOMs")
        ordering = ["item__code", "version"]
        constraints = [
            models.UniqueConstraint(fields=["item", "version"], name="bom_unique_item_version"),
            models.CheckConstraint(
                condition=models.Q(valid_to__isnull=True)
                | models.Q(valid_from__isnull=True)
                | models.Q(valid_to__gte=models.F("valid_from")),
                name="bom_valid_to_after_valid_from",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item.code} v{self.version}"


class BomLine(models.Model):
    bom = models.ForeignKey(Bom, models.CASCADE, related_name="lines", verbose_name=_("BOM"))
    position = models.PositiveIntegerField(_("position"))
    component = models.ForeignKey(Item, models.PROTECT, related_name="used_in", verbose_name=_("component"))
    quantity = models.DecimalField(_("quantity"), **QUANTITY)
    unit = models.ForeignKey(UnitOfMeasure, models.PROTECT, verbose_name=_("unit"))
    operation = models.PositiveIntegerField(
        _("consuming operation"), null=True, blank=True, help_text=_("The routing sequence that consumes it; empty = the first operation.")
    )
    backflush = models.BooleanField(_("backflush"), default=False, help_text=_("Consumed by the operation's reports instead of issued by scan."))

    class Meta:
        verbose_name = _("BOM line")
        verbose_name_plural = _("BOM lines")
        ordering = ["bom", "position"]
        constraints = [
            models.UniqueConstraint(fields=["bom", "position"], name="bom_line_unique_position"),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="bom_line_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.position}: {self.quantity} {self.unit} {self.component.code}"
