"""The state machine of outbox messages: the one map of the moves a message may make.

queued → sending (claimed) → acknowledged, or retrying (back to the queue) ⇄ sending, or dead;
a worker that stops mid-send leaves its message sending until the lease runs out, then
retrying. A dead message is replayed (retrying) or discarded. Reconciliation sends an
acknowledged or discarded message again (retrying) when the ERP turns out not to hold it.

Every change of ``OutboxMessage.state`` goes through ``message_transition`` (one locked row)
or, in the dispatcher's bulk statements (the claim and the outcomes, SQL for speed), through
the states ``sources_of`` and ``targets_of`` read from this same map.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from common.errors import DomainError, ErrorKind
from erp_sync.models import OutboxMessage

State = OutboxMessage.State

TRANSITIONS: dict[str, frozenset[str]] = {
    State.QUEUED: frozenset({State.SENDING}),
    State.SENDING: frozenset({State.ACKNOWLEDGED, State.RETRYING, State.DEAD}),
    State.RETRYING: frozenset({State.SENDING}),
    State.DEAD: frozenset({State.RETRYING, State.DISCARDED}),
    State.ACKNOWLEDGED: frozenset({State.RETRYING}),
    State.DISCARDED: frozenset({State.RETRYING}),
}


def transition_allowed(source: str, target: str) -> bool:
    return target in TRANSITIONS.get(source, frozenset())


def sources_of(target: str) -> tuple[str, ...]:
    """The states a message may reach ``target`` from, in a stable order (for SQL written once)."""
    return tuple(sorted(source for source, targets in TRANSITIONS.items() if target in targets))


def targets_of(source: str) -> tuple[str, ...]:
    """The states a message in ``source`` may move to, in a stable order."""
    return tuple(sorted(TRANSITIONS.get(source, frozenset())))


def message_transition(message: OutboxMessage, *, target: str, changes: dict[str, Any] | None = None) -> OutboxMessage:
    """Move one message to ``target``, saving the state and ``changes`` (field → value) with ``update_fields``.

    Precondition: the caller holds the row's lock (``select_for_update``) in its transaction.
    A move the map does not allow raises ``illegal_message_transition`` and changes nothing.
    """
    if not transition_allowed(message.state, target):
        raise DomainError(
            "illegal_message_transition",
            _("Outbox message %(id)s cannot go from %(source)s to %(target)s (allowed: %(targets)s).")
            % {
                "id": message.pk,
                "source": message.state,
                "target": target,
                "targets": ", ".join(targets_of(message.state)) or "—",
            },
            kind=ErrorKind.CONFLICT,
            fields={"state": message.state},
        )
    changes = changes or {}
    message.state = target
    for name, value in changes.items():
        setattr(message, name, value)
    message.save(update_fields=["state", *changes])
    return message
