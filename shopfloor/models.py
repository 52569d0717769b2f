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


class EquipmentAssignment(models.Model):
    """Which operation runs on a machine, from when to when: counts from the machine go to it."""

    equipment = models.ForeignKey("mes.Equipment", models.PROTECT, related_name="assignments", verbose_name=_("equipment"))
    operation = models.ForeignKey(
        "mes.WorkOrderOperation", models.PROTECT, related_name="equipment_assignments", verbose_name=_("operation")
    )
    started_at = models.DateTimeField(_("started at"))
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    started_by = models.CharField(_("started by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("equipment assignment")
        verbose_name_plural = _("equipment assignments")
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["equipment"], condition=models.Q(ended_at__isnull=True), name="one_running_operation_per_equipment"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.equipment_id} → {self.operation_id}"
