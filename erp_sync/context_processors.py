from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Min
from django.utils import timezone

from common.roles import may
from erp_sync.models import OutboxMessage
from erp_sync.selectors import PENDING_STATES


def sync_alert(request) -> dict:
    """The ERP-sync alert for the banner on every page a supervisor or admin opens (two cheap queries)."""
    user = getattr(request, "user", None)
    if user is None or not may(user, "erp_sync.alerts"):
        return {}
    dead = OutboxMessage.objects.filter(state=OutboxMessage.State.DEAD).count()
    oldest = OutboxMessage.objects.filter(state__in=PENDING_STATES).aggregate(oldest=Min("created_at"))["oldest"]
    stuck = oldest is not None and timezone.now() - oldest > timedelta(seconds=settings.ERP_SYNC_ALERT_AFTER_SECONDS)
    if not dead and not stuck:
        return {}
    return {"sync_alert": {"dead": dead, "stuck_seconds": int((timezone.now() - oldest).total_seconds()) if stuck else None}}
