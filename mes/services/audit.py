from __future__ import annotations

from typing import Any

from mes.models import Event, WorkOrder


def event_record(
    *,
    object_type: str,
    object_key: str,
    action: str,
    actor: Any = None,
    actor_label: str = "",
    work_order: WorkOrder | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
) -> Event:
    """Append one audit row. Call inside the transaction that makes the change it describes."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    return Event.objects.create(
        actor=user,
        actor_label=actor_label or (user.get_username() if user else ""),
        object_type=object_type,
        object_key=object_key,
        work_order=work_order,
        action=action,
        before=before,
        after=after,
        reason=reason[:500],
    )
