"""Reads of andon calls."""

from __future__ import annotations

import datetime
import uuid
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone
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


def andon_board(*, work_center: str = "") -> list[AndonCall]:
    """Calls not yet closed, the open ones first (oldest first), then acknowledged, then resolved."""
    calls = AndonCall.objects.select_related("work_center", "equipment", "work_order").exclude(state=AndonCall.State.CLOSED)
    if work_center:
        calls = calls.filter(work_center__code=work_center)
    rank = {AndonCall.State.OPEN: 0, AndonCall.State.ACKNOWLEDGED: 1, AndonCall.State.RESOLVED: 2}
    return sorted(calls[:LIST_LIMIT], key=lambda call: (rank[call.state], call.raised_at))


@dataclass
class ResponseTimes:
    """Mean time to acknowledge and to resolve (minutes) of the calls raised in a week, by kind or line."""

    key: str
    calls: int
    mtta_minutes: float | None
    mttr_minutes: float | None


def andon_response_times(*, weeks: int = 4, now: datetime.datetime | None = None) -> dict[str, list[ResponseTimes]]:
    """MTTA and MTTR over the last ``weeks`` weeks: ``{"kind": [...], "line": [...], "week": [...]}``.
    A call counts for MTTA once acknowledged (or resolved without it), for MTTR once resolved."""
    now = now or timezone.now()
    since = now - datetime.timedelta(weeks=weeks)
    rows = AndonCall.objects.filter(raised_at__gte=since).values_list(
        "kind", "work_center__line", "raised_at", "acknowledged_at", "resolved_at"
    )
    groups: dict[str, dict[str, list[tuple]]] = {"kind": defaultdict(list), "line": defaultdict(list), "week": defaultdict(list)}
    for kind, line, raised, acknowledged, resolved in rows:
        week = timezone.localtime(raised).isocalendar()
        entry = (raised, acknowledged or resolved, resolved)
        groups["kind"][kind].append(entry)
        groups["line"][line or "-"].append(entry)
        groups["week"][f"{week.year}-W{week.week:02d}"].append(entry)

    def mean_minutes(spans: list[datetime.timedelta]) -> float | None:
        return round(sum(span.total_seconds() for span in spans) / len(spans) / 60, 1) if spans else None

    return {
        name: [
            ResponseTimes(
                key=key, calls=len(entries),
                mtta_minutes=mean_minutes([answered - raised for raised, answered, _resolved in entries if answered]),
                mttr_minutes=mean_minutes([resolved - raised for raised, _answered, resolved in entries if resolved]),
            )
            for key, entries in sorted(group.items())
        ]
        for name, group in groups.items()
    }
