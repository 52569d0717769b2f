"""Where a message stands with the ERP, in the reader's words, for any page that shows it."""

from __future__ import annotations

from django import template

from erp_sync import outbox

register = template.Library()


@register.filter
def sync_label(state: str | None) -> str:
    """Where a message (or an order's worst message) stands with the ERP, in a few words."""
    return outbox.sync_label(state=state)
