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


def _document_path(document: "OperationDocument", filename: str) -> str:
    # A fresh name per upload: a replaced instruction never overwrites the file a cached copy names.
    return f"work-instructions/{document.item_id}/{document.sequence}/{document.sha256[:16]}-{filename}"


class OperationDocument(models.Model):
    """A work instruction (a PDF or an image) attached to an item's routing operation ``sequence``.

    Keyed by item and sequence, like the inspection plan, so a routing replaced by the ERP keeps its
    documents; an order's operation finds them by its item and sequence (no copy at release: a
    corrected instruction reaches the orders already on the floor)."""

    class ContentType(models.TextChoices):
        PDF = "application/pdf", "PDF"
        PNG = "image/png", "PNG"
        JPEG = "image/jpeg", "JPEG"
        WEBP = "image/webp", "WebP"

    item = models.ForeignKey(Item, models.CASCADE, related_name="operation_documents", verbose_name=_("item"))
    sequence = models.PositiveIntegerField(_("operation sequence"))
    name = models.CharField(_("name"), max_length=100)
    content_type = models.CharField(_("content type"), max_length=32, choices=ContentType.choices)
    file = models.FileField(_("file"), upload_to=_document_path, max_length=255)
    size = models.PositiveIntegerField(_("size in bytes"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_at = models.DateTimeField(_("uploaded at"))
    uploaded_by = models.CharField(_("uploaded by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("work instruction")
        verbose_name_plural = _("work instructions")
        ordering = ["item", "sequence", "name"]
        constraints = [models.UniqueConstraint(fields=["item", "sequence", "name"], name="operation_document_unique_name")]

    def __str__(self) -> str:
        return f"{self.item_id} {self.sequence:04d} {self.name}"

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")
