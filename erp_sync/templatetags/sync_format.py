"""Where a message stands with the ERP, in the reader's words, for any page that shows it."""

from __future__ import annotations

from django import template

from erp_sync import outbox

register = template.Library()


@register.filter
def sync_label(state: str | None) -> str:
    """Where a message (or an order's worst message) stands with the ERP, in a few words."""
    return outbox.sync_label(state=state)


@register.filter
def sync_class(state: str | None) -> str:
    """The CSS classes of the badge showing where a message stands with the ERP."""
    return outbox.sync_badge(state=state)[1]
