from __future__ import annotations

import uuid
from typing import Any

from erp_sync.models import OutboxMessage


def sync_state_of(message: OutboxMessage) -> dict[str, Any]:
    """A message's ERP journey as API clients see it."""
    return {
        "state": message.state,
        "attempts": message.attempts,
        "erp_document": message.erp_document or None,
        "last_error": message.last_error or None,
        "queued_at": message.created_at,
        "acknowledged_at": message.acknowledged_at,
    }


def sync_states(source_uuids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """The ERP journey of each recorded fact, keyed by its UUID (one query)."""
    return {message.source_uuid: sync_state_of(message) for message in OutboxMessage.objects.filter(source_uuid__in=source_uuids)}
