"""Numbers on pages as people read them: quantities without trailing zeros, grouped in the active locale."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django import template
from django.utils import formats
from django.utils.translation import gettext_lazy as _

from mes.models import Status

register = template.Library()


@register.filter
def quantity(value) -> str:
    """10.000 → 10, 1234.500 → 1,234.5 (to three places at most, grouped the active language's way)."""
    if value is None or value == "":
        return "—"
    number = Decimal(value).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
    number = number.quantize(Decimal(1)) if number == number.to_integral_value() else number.normalize()
    return formats.number_format(number, use_l10n=True, force_grouping=True)


@register.filter
def percent(value) -> str:
    """A share as a whole percentage: 0.876 → 88 %."""
    if value is None:
        return "—"
    whole = (Decimal(value) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    if whole > 999:  # far ahead of a plan that has barely begun: the exact figure says nothing more
        return "> 999 %"
    return f"{formats.number_format(whole, use_l10n=True, force_grouping=True)} %"


SYNC_LABELS = {
    "dead": _("refused by the ERP"),
    "retrying": _("retrying"),
    "queued": _("on its way"),
    "sending": _("on its way"),
    "acknowledged": _("in the ERP"),
    "discarded": _("discarded"),
}


@register.filter
def sync_label(state: str | None) -> str:
    """Where a message (or an order's worst message) stands with the ERP, in a few words."""
    return str(SYNC_LABELS.get(state or "", "—"))


@register.filter
def status_label(status: str) -> str:
    return str(Status(status).label) if status in Status.values else status


@register.filter
def equipment_state_label(state: str) -> str:
    from shopfloor.models import EquipmentState

    return str(EquipmentState.State(state).label) if state in EquipmentState.State.values else state
