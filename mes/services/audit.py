from __future__ import annotations

from typing import Any

from mes.models import Event, WorkOrder

# Keys whose values never enter the audit trail, at any depth (an ERP password, a device mapping's
# OPC UA password, a PIN hash): they appear as "***" (set), or as the caller marked them ("*** …").
SECRET_KEYS = frozenset({"password", "token", "station_pin", "secret", "api_key", "credential_hash", "secret_hash"})


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
        before=without_secrets(before),
        after=without_secrets(after),
        reason=reason[:500],
    )


def without_secrets(value: Any) -> Any:
    """The value with every secret (by key, at any depth) replaced by "***"; empty ones stay empty."""
    if isinstance(value, dict):
        return {key: _hidden(item) if key in SECRET_KEYS else without_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_secrets(item) for item in value]
    return value


def _hidden(value: Any) -> Any:
    if value in (None, "") or (isinstance(value, str) and value.startswith("***")):
        return value
    return "***"
