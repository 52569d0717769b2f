"""Where a message stands with the ERP, in the reader's words, for any page that shows it."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext_lazy

from erp_sync import outbox
from erp_sync.models import DeliveryAttempt, OutboxMessage

register = template.Library()


@register.filter
def sync_label(state: str | None) -> str:
    """Where a message (or an order's worst message) stands with the ERP, in a few words."""
    return outbox.sync_label(state=state)


@register.filter
def sync_class(state: str | None) -> str:
    """The CSS classes of the badge showing where a message stands with the ERP."""
    return outbox.sync_badge(state=state)[1]


@register.filter
def message_state(state: str | None) -> str:
    """A message's own state (queued, sending, …) in the reader's words; the code itself when unknown."""
    return str(OutboxMessage.State(state).label) if state in OutboxMessage.State.values else (state or "—")


JOURNEY_STEPS = {
    "recorded": gettext_lazy("recorded with the report"),
    "queued": gettext_lazy("queued for the ERP"),
    "post": gettext_lazy("sent to the ERP"),
    "lookup": gettext_lazy("looked up in the ERP by our key"),
    "acknowledged": gettext_lazy("acknowledged by the ERP"),
}


@register.filter
def journey_step(step: str | None) -> str:
    """One step of a message's journey (``recorded``, ``post``, ``lookup``, …) in the reader's words."""
    label = JOURNEY_STEPS.get(step or "")
    return str(label) if label else (step or "")


@register.filter
def delivery_outcome(outcome: str | None) -> str:
    """What the ERP answered to one attempt, in the reader's words."""
    return str(DeliveryAttempt.Outcome(outcome).label) if outcome in DeliveryAttempt.Outcome.values else (outcome or "")


@register.filter
def message_kind(kind: str | None) -> str:
    return str(OutboxMessage.Kind(kind).label) if kind in OutboxMessage.Kind.values else (kind or "")
