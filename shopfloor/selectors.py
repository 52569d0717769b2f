"""Reads of the shop floor for pages and the API."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from shopfloor.models import EquipmentState


def downtime_awaiting_reason(*, work_center_id: int | None = None, now: datetime.datetime | None = None) -> QuerySet:
    """Down or idle intervals longer than the threshold that nobody has given a reason for yet.

    Open intervals count from their start until now; the longest-ago first. Narrowed to one
    work center's machines for a station.
    """
    now = now or timezone.now()
    threshold = datetime.timedelta(seconds=settings.MES_DOWNTIME_REASON_AFTER_SECONDS)
    states = EquipmentState.objects.filter(
        state__in=(EquipmentState.State.DOWN, EquipmentState.State.IDLE), reason_code__isnull=True
    ).filter(Q(ended_at__isnull=True, started_at__lte=now - threshold) | Q(ended_at__gte=F("started_at") + threshold))
    if work_center_id is not None:
        states = states.filter(equipment__work_center_id=work_center_id)
    return states.select_related("equipment").order_by("started_at")
