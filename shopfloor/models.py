from django.db import models
from django.utils.translation import gettext_lazy as _


class DeviceMapping(models.Model):
    """Where a machine's signals come from: the validated mapping of ``PUT /api/v1/equipment/{code}/signals``."""

    equipment = models.OneToOneField(
        "mes.Equipment", models.CASCADE, related_name="device_mapping", verbose_name=_("equipment")
    )
    protocol = models.CharField(_("protocol"), max_length=16)
    config = models.JSONField(_("mapping"), help_text=_("Protocol, address and one entry per signal."))
    is_enabled = models.BooleanField(_("collect"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("device mapping")
        verbose_name_plural = _("device mappings")
        ordering = ["equipment__code"]

    def __str__(self) -> str:
        return f"{self.equipment_id} ({self.protocol})"
