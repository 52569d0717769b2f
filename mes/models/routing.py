from django.db import models
from django.utils.translation import gettext_lazy as _

from mes.models.base import MINUTES, ErpOwned
from mes.models.items import Item
from mes.models.resources import WorkCenter


class Routing(ErpOwned):
    """The ordered operations that make an item. The ERP's key is the item code."""

    item = models.OneToOneField(Item, models.PROTECT, related_name="routing", verbose_name=_("item"))

    class Meta:
        verbose_name = _("routing")
        verbose_name_plural = _("routings")
        ordering = ["item__code"]

    def __str__(self) -> str:
        return f"{self.item.code}"


class RoutingOperation(models.Model):
    routing = models.ForeignKey(Routing, models.CASCADE, related_name="operations", verbose_name=_("routing"))
    sequence = models.PositiveIntegerField(_("sequence"))
    name = models.CharField(_("name"), max_length=200)
    work_center = models.ForeignKey(WorkCenter, models.PROTECT, verbose_name=_("work center"))
    setup_minutes = models.DecimalField(_("setup minutes"), **MINUTES, default=0)
    run_minutes_per_unit = models.DecimalField(_("run minutes per unit"), **MINUTES, default=0)
    quality_checkpoint = models.BooleanField(_("quality checkpoint"), default=False)

    class Meta:
        verbose_name = _("routing operation")
        verbose_name_plural = _("routing operations")
        ordering = ["routing", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["routing", "sequence"], name="routing_operation_unique_sequence"),
            models.CheckConstraint(
                condition=models.Q(setup_minutes__gte=0, run_minutes_per_unit__gte=0),
                name="routing_operation_times_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sequence:04d} {self.name}"
