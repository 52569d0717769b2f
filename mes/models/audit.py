from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Event(models.Model):
    """Append-only audit trail: every state change, confirmation and reversal, with before and after."""

    occurred_at = models.DateTimeField(_("occurred at"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("user")
    )
    actor_label = models.CharField(_("actor"), max_length=150, blank=True, help_text=_("Badge, station or user name."))
    object_type = models.CharField(_("object type"), max_length=64)
    object_key = models.CharField(_("object"), max_length=128)
    work_order = models.ForeignKey(
        "mes.WorkOrder", models.PROTECT, null=True, blank=True, related_name="events", verbose_name=_("work order")
    )
    action = models.CharField(_("action"), max_length=64)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_key"], name="event_object")]

    def __str__(self) -> str:
        return f"{self.object_type} {self.object_key} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("Audit events are append-only.")
