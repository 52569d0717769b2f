from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from mes.models.base import MONEY, ErpOwned


class WorkCenter(ErpOwned):
    code = models.CharField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    line = models.CharField(_("production line"), max_length=64, blank=True, db_index=True)
    capacity_hours_per_day = models.DecimalField(
        _("capacity (hours per day)"), max_digits=6, decimal_places=2, null=True, blank=True
    )
    # Planning's factor on the calendar's hours (shopfloor.planning): 0.85 plans 85 in 100 of them as work.
    efficiency = models.DecimalField(
        _("efficiency"), max_digits=4, decimal_places=2, default=1,
        help_text=_("The share of planned hours that becomes work: 1.00 = all of them."),
    )
    # Costing (mes.selectors.costs): per hour of labor and of machine time, in the plant's currency.
    labor_rate = models.DecimalField(
        _("labor rate (per hour)"), **MONEY, null=True, blank=True, help_text=_("Empty: not known; costs using it are marked incomplete.")
    )
    machine_rate = models.DecimalField(
        _("machine rate (per hour)"), **MONEY, null=True, blank=True, help_text=_("Empty: not known; costs using it are marked incomplete.")
    )

    class Meta:
        verbose_name = _("work center")
        verbose_name_plural = _("work centers")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(capacity_hours_per_day__gte=0) & models.Q(capacity_hours_per_day__lte=24)
                | models.Q(capacity_hours_per_day__isnull=True),
                name="work_center_capacity_within_day",
            ),
            models.CheckConstraint(
                condition=models.Q(efficiency__gt=0) & models.Q(efficiency__lte=2), name="work_center_efficiency_plausible"
            ),
            models.CheckConstraint(
                condition=(models.Q(labor_rate__gte=0) | models.Q(labor_rate__isnull=True))
                & (models.Q(machine_rate__gte=0) | models.Q(machine_rate__isnull=True)),
                name="work_center_rates_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Equipment(ErpOwned):
    code = models.CharField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    work_center = models.ForeignKey(WorkCenter, models.PROTECT, related_name="equipment", verbose_name=_("work center"))

    class Meta:
        verbose_name = _("equipment")
        verbose_name_plural = _("equipment")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Skill(models.Model):
    code = models.CharField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("skill")
        verbose_name_plural = _("skills")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Employee(ErpOwned):
    badge = models.CharField(_("badge"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    skills = models.ManyToManyField(Skill, blank=True, related_name="employees", verbose_name=_("skills"))
    is_active = models.BooleanField(_("active"), default=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="employee", verbose_name=_("user")
    )
    # The PIN a station may ask for after the badge scan, hashed like a password; owned by the
    # MES, never sent by the ERP. Empty: no PIN set.
    station_pin = models.CharField(_("station PIN (hashed)"), max_length=128, blank=True, editable=False)

    class Meta:
        verbose_name = _("employee")
        verbose_name_plural = _("employees")
        ordering = ["badge"]

    def __str__(self) -> str:
        return f"{self.badge} {self.name}"


class ReasonCode(ErpOwned):
    class Kind(models.TextChoices):
        SCRAP = "scrap", _("scrap")
        REWORK = "rework", _("rework")
        PAUSE = "pause", _("pause")
        DOWNTIME = "downtime", _("downtime")
        DEFECT = "defect", _("defect")
        ANDON = "andon", _("andon call")

    code = models.CharField(_("code"), max_length=64, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=200)

    class Meta:
        verbose_name = _("reason code")
        verbose_name_plural = _("reason codes")
        ordering = ["kind", "code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"
