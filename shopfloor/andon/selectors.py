"""Reads of andon calls."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from common.errors import DomainError, ErrorKind
from shopfloor.models import AndonCall

LIST_LIMIT = 500


def andon_calls(*, state: str = "", work_center: str = "") -> QuerySet[AndonCall]:
    """Calls newest first, by state and work center when given (at most ``LIST_LIMIT``)."""
    calls = AndonCall.objects.select_related("work_center", "equipment", "work_order").order_by("-raised_at", "-pk")
    if state:
        if state not in AndonCall.State.values:
            raise DomainError(
                "unknown_state", _("%(state)s is not an andon state; use one of %(states)s.") % {"state": state[:40], "states": ", ".join(AndonCall.State.values)},
                fields={"state": state[:40]},
            )
        calls = calls.filter(state=state)
    if work_center:
        calls = calls.filter(work_center__code=work_center)
    return calls[:LIST_LIMIT]


def andon_call_get(*, call_id: uuid.UUID) -> AndonCall:
    call = AndonCall.objects.select_related("work_center", "equipment", "work_order").filter(uuid=call_id).first()
    if call is None:
        raise DomainError("unknown_andon_call", _("No andon call %(id)s.") % {"id": call_id}, kind=ErrorKind.NOT_FOUND, fields={"id": str(call_id)})
    return call
