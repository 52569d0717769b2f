"""The causes the product calls for help on by itself, gathered across the rooms (so it lives in
``plant``, which may read them all): a machine that does not answer, a machine down longer than
``MES_ANDON_MACHINE_DOWN_SECONDS``, and the ERP link (messages stuck, or refused and waiting for a
decision), and an operation stopped for quality (``mes.services.quality_stop``) until quality
releases it. Each lasting cause keeps one call open; when it clears, its call is resolved by itself
(``shopfloor.andon.services.andon_causes_sync``). Run every ``MES_ANDON_WATCH_SECONDS`` by the worker."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from erp_sync.selectors import sync_alert_now
from mes.selectors.nonconformances import quality_stops_active
from shopfloor.andon.services import Cause, andon_causes_sync
from shopfloor.models import DeviceException, EquipmentState


def andon_causes(*, now: datetime.datetime | None = None) -> list[Cause]:
    """What calls for help right now, in the plant's language."""
    now = now or timezone.now()
    causes = []
    with translation.override(settings.LANGUAGE_CODE):
        for exception in DeviceException.objects.filter(closed_at__isnull=True, kind=DeviceException.Kind.NOT_ANSWERING).select_related("equipment"):
            machine = exception.equipment
            causes.append(
                Cause(
                    key=f"device_silent:{machine.code}", kind="equipment", severity="high",
                    note=_("%(machine)s does not answer since %(since)s.") % {"machine": machine.code, "since": timezone.localtime(exception.opened_at).strftime("%H:%M")},
                    work_center_id=machine.work_center_id, equipment_id=machine.pk,
                )
            )
        threshold = now - datetime.timedelta(seconds=settings.MES_ANDON_MACHINE_DOWN_SECONDS)
        down = EquipmentState.objects.filter(ended_at__isnull=True, state=EquipmentState.State.DOWN, started_at__lte=threshold).select_related("equipment")
        for state in down:
            machine = state.equipment
            minutes = int((now - state.started_at).total_seconds() // 60)
            causes.append(
                Cause(
                    key=f"machine_down:{machine.code}", kind="equipment", severity="high",
                    note=_("%(machine)s is down for %(minutes)s min.") % {"machine": machine.code, "minutes": minutes},
                    work_center_id=machine.work_center_id, equipment_id=machine.pk,
                )
            )
        for hold in quality_stops_active():
            operation = hold.operation
            causes.append(
                Cause(
                    key=f"quality_stop:{hold.pk}", kind="quality", severity="high",
                    note=_("%(number)s operation %(sequence)04d is stopped for quality until quality releases it: %(reason)s")
                    % {"number": hold.work_order.number, "sequence": operation.sequence, "reason": hold.reason},
                    work_center_id=operation.work_center_id, work_order_id=hold.work_order_id,
                )
            )
        for reason in sync_alert_now()["alert"]["reasons"]:
            causes.append(Cause(key=f"erp:{reason['code']}", kind="help", severity="high", note=str(reason["message"])))
    return causes


def andon_watch(*, now: datetime.datetime | None = None) -> tuple[int, int]:
    """Raise and resolve the product's own calls; answers (raised, resolved)."""
    return andon_causes_sync(causes=andon_causes(now=now))
