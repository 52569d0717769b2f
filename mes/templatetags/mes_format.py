"""Filters of the production pages: quantities and shares as people read them, work-order states in words."""

from __future__ import annotations

from django import template

from common.formatting import Numbers
from mes.models import Status

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
