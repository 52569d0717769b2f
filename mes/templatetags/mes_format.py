"""Filters of the production pages: quantities and shares as people read them, work-order states in words."""

from __future__ import annotations

from decimal import Decimal

from django import template

from common.formatting import Numbers
from mes.models import InspectionCharacteristic, Status

register = template.Library()


@register.filter
def quantity(value) -> str:
    return Numbers.active().quantity(value)


@register.filter
def measure(value) -> str:
    """A measured value or a limit as entered, without trailing zeros or rounding: 119.500000 → 119.5,
    0.0025 → 0.0025 (a gauge's resolution is kept; quantities round to three places)."""
    if value is None or value == "":
        return "—"
    number = Decimal(value).normalize()
    return f"{number:f}"


@register.filter
def percent(value) -> str:
    return Numbers.active().percent(value)


@register.filter
def status_label(status: str) -> str:
    return str(Status(status).label) if status in Status.values else status


@register.filter
def sampling_label(rule: str) -> str:
    """An inspection characteristic's sampling rule in words (``every_n`` → "every n good")."""
    return str(InspectionCharacteristic.Sampling(rule).label) if rule in InspectionCharacteristic.Sampling.values else rule
