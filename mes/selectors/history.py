"""An order's audit trail in the reader's words: what happened, to what, by whom, and what changed.

The events keep stable codes (``start_operation``, ``confirm``, ``in_progress``) for the API and
the hash chain; the pages show these labels instead, the operator's name beside the badge, and
ids shortened to their first eight characters (the full one in the cell's title).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mes.models import Employee, Event, Status

SHORT_ID = 8

EVENT_ACTIONS = {
    "create": gettext_lazy("received from the ERP"),
    "update": gettext_lazy("changed by the ERP"),
    "release": gettext_lazy("released"),
    "start": gettext_lazy("started"),
    "pause": gettext_lazy("paused"),
    "resume": gettext_lazy("resumed"),
    "complete": gettext_lazy("completed"),
    "close": gettext_lazy("closed"),
    "cancel": gettext_lazy("cancelled"),
    "reopen": gettext_lazy("reopened"),
    "confirm": gettext_lazy("reported"),
    "reverse": gettext_lazy("reversed"),
    "start_operation": gettext_lazy("machine started the operation"),
    "stop_operation": gettext_lazy("machine stopped the operation"),
    "issue": gettext_lazy("material issued"),
    "approve": gettext_lazy("over-issue approved"),
    "reject": gettext_lazy("over-issue rejected"),
    "replay": gettext_lazy("sent to the ERP again"),
    "discard": gettext_lazy("discarded"),
    "repair": gettext_lazy("repaired"),
    "open": gettext_lazy("opened"),
    "disposition": gettext_lazy("disposition decided"),
    "reinspect": gettext_lazy("re-inspected"),
    "record": gettext_lazy("inspection result recorded"),
    "place": gettext_lazy("placed"),
}

OBJECT_TYPES = {
    "work_order": gettext_lazy("work order"),
    "operation": gettext_lazy("operation"),
    "confirmation": gettext_lazy("report"),
    "material_issue": gettext_lazy("material issue"),
    "equipment": gettext_lazy("machine"),
    "outbox_message": gettext_lazy("ERP message"),
    "nonconformance": gettext_lazy("NCR"),
    "inspection_result": gettext_lazy("inspection result"),
    "hold": gettext_lazy("hold"),
}

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_OPERATION_KEY = re.compile(r"^(?P<number>.+)/(?P<sequence>\d+)$")
_QUANTITIES = (("good_qty", gettext_lazy("good")), ("scrap_qty", gettext_lazy("scrap")), ("rework_qty", gettext_lazy("rework")))


@dataclass(frozen=True)
class HistoryEntry:
    event: Event
    action: str  # in words
    what: str  # the object in words, its id shortened
    what_title: str  # the full key, for the cell's title ("" when nothing was shortened)
    who: str  # badge and name, or the user's name
    change: str  # statuses in words, or a report's quantities


def short_id(value: str) -> str:
    """A UUID's first eight characters; other keys as they are."""
    return value[:SHORT_ID] if _UUID.match(value) else value


def _status(value: str | None) -> str:
    return str(Status(value).label) if value in Status.values else (value or "")


def _what(event: Event) -> tuple[str, str]:
    kind = OBJECT_TYPES.get(event.object_type)
    key = event.object_key
    if event.object_type == "operation" and (match := _OPERATION_KEY.match(key)):
        return f"{kind} {int(match['sequence'])}", key
    if event.object_type == "work_order":
        return f"{kind} {key}", ""
    shortened = short_id(key)
    label = f"{kind} {shortened}" if kind else shortened
    return label, key if shortened != key else ""


def _change(event: Event) -> str:
    before, after = event.before or {}, event.after or {}
    if before.get("status") or after.get("status"):
        return f"{_status(before.get('status'))} → {_status(after.get('status'))}"
    report = after.get("confirmation")
    if isinstance(report, dict):
        parts = [f"{label} {report[name]}" for name, label in _QUANTITIES if report.get(name) not in (None, "0", "0.000")]
        if report.get("operation") is not None:
            parts.insert(0, _("operation %(sequence)s") % {"sequence": report["operation"]})
        return " · ".join(parts)
    if after.get("operation"):  # a machine started an operation: "WO-1001/20"
        return str(after["operation"])
    return ""


def _names_by_badge(labels: Iterable[str]) -> dict[str, str]:
    wanted = {label for label in labels if label}
    if not wanted:
        return {}
    return dict(Employee.objects.filter(badge__in=wanted).values_list("badge", "name"))


def history_entries(*, events: list[Event]) -> list[HistoryEntry]:
    """The events (with ``actor`` selected) in words; one query for the operators' names behind badges."""
    names = _names_by_badge(event.actor_label for event in events)
    entries = []
    for event in events:
        label = event.actor_label or (event.actor.get_username() if event.actor_id and event.actor else "")
        who = f"{label} {names[label]}" if label in names else label
        what, what_title = _what(event)
        action = EVENT_ACTIONS.get(event.action)
        entries.append(HistoryEntry(event, str(action) if action else event.action.replace("_", " "), what, what_title, who, _change(event)))
    return entries
