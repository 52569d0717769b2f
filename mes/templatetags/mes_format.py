"""Filters of the production pages: quantities and shares as people read them, work-order states in words."""

from __future__ import annotations

from django import template

from common.formatting import Numbers
from mes.models import InspectionCharacteristic, Status

register = template.Library()


@register.filter
def quantity(value) -> str:
    return Numbers.active().quantity(value)


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
