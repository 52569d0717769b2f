from django.db import models
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    """The life cycle shared by work orders and their operations (see services.transitions)."""

    PLANNED = "planned", _("planned")
    RELEASED = "released", _("released")
    IN_PROGRESS = "in_progress", _("in progress")
    PAUSED = "paused", _("paused")
    COMPLETED = "completed", _("completed")
    CLOSED = "closed", _("closed")
    CANCELLED = "cancelled", _("cancelled")
