"""The home page's figures, per what the reader may do: each a number that needs acting on and the
page where it is acted on (planners: late and at-risk orders, releases waiting; supervisors: calls
for help, machines down, the ERP link; quality: open nonconformances and holds)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from common.roles import may
from erp_sync.selectors import sync_alert_now
from mes.models import Hold, Nonconformance, Status, WorkOrder
from mes.selectors.planning import with_schedule
from mes.selectors.progress import AT_RISK, LATE, done_quantity
from shopfloor.models import AndonCall, EquipmentState

OPEN_ORDERS = (Status.PLANNED, Status.RELEASED, Status.IN_PROGRESS, Status.PAUSED)
LISTED = 5


@dataclass
class Figure:
    label: str
    value: int
    url: str = ""
    alarm: bool = False  # a number that should be zero


@dataclass
class Section:
    title: str
    figures: list[Figure] = field(default_factory=list)
    items: list[tuple[str, str]] = field(default_factory=list)  # (text, url)


def _url(name: str, *args: str) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:  # a page not in this build: the figure without a link
        return ""


def home_sections(*, user) -> list[Section]:
    sections = []
    if may(user, "planning.view"):
        sections.append(_planning())
    if may(user, "board.view"):
        sections.append(_floor(machines_page=may(user, "oee.view")))
    if may(user, "erp_sync.view"):
        sections.append(_erp())
    if may(user, "hold.manage") or may(user, "nonconformance.disposition"):
        sections.append(_quality())
    return sections


def _planning() -> Section:
    orders = with_schedule(orders=list(
        WorkOrder.objects.filter(status__in=OPEN_ORDERS).annotate(done=done_quantity())
        .only("number", "status", "due_date", "released_at", "quantity").order_by("due_date", "number")
    ))
    late = [order for order in orders if order.schedule == LATE]
    at_risk = [order for order in orders if order.schedule == AT_RISK]
    waiting = sum(1 for order in orders if order.status == Status.PLANNED)
    planning = _url("planning")
    section = Section(_("Planning"), [
        Figure(_("late orders"), len(late), planning, alarm=True),
        Figure(_("orders at risk"), len(at_risk), planning, alarm=True),
        Figure(_("orders waiting for release"), waiting, f"{planning}?status=planned" if planning else ""),
    ])
    section.items = [
        (_("%(number)s, due %(date)s") % {"number": order.number, "date": order.due_date.isoformat()}, _url("planning-order", order.number))
        for order in late[:LISTED]
    ]
    return section


def _floor(*, machines_page: bool) -> Section:
    calls = AndonCall.objects.filter(state__in=(AndonCall.State.OPEN, AndonCall.State.ACKNOWLEDGED))
    down = list(
        EquipmentState.objects.filter(ended_at__isnull=True, state__in=(EquipmentState.State.DOWN, EquipmentState.State.UNKNOWN))
        .select_related("equipment").order_by("started_at")
    )
    section = Section(_("Shop floor"), [
        Figure(_("calls for help not answered"), calls.filter(state=AndonCall.State.OPEN).count(), _url("andon"), alarm=True),
        Figure(_("calls being handled"), calls.filter(state=AndonCall.State.ACKNOWLEDGED).count(), _url("andon")),
        Figure(_("machines down or not answering"), len(down), _url("oee-overview") if machines_page else "", alarm=True),
    ])
    section.items = [
        (_("%(machine)s %(state)s since %(since)s") % {
            "machine": state.equipment.code, "state": state.get_state_display(), "since": timezone.localtime(state.started_at).strftime("%H:%M"),
        }, _url("oee-detail", state.equipment.code) if machines_page else "")
        for state in down[:LISTED]
    ]
    return section


def _erp() -> Section:
    health = sync_alert_now()
    waiting = _url("sync-messages")
    section = Section(_("ERP link"), [
        Figure(_("messages on their way"), health["waiting"], f"{waiting}?state=waiting" if waiting else ""),
        Figure(_("dead letters waiting for a decision"), health["dead"], _url("sync-dead-letters"), alarm=True),
    ])
    section.items = [(str(reason["message"]), _url("sync-health")) for reason in health["alert"]["reasons"]]
    return section


def _quality() -> Section:
    return Section(_("Quality"), [
        Figure(_("open nonconformances"), Nonconformance.objects.filter(~Q(state=Nonconformance.State.CLOSED)).count(), _url("quality"), alarm=True),
        Figure(_("active holds"), Hold.objects.filter(state=Hold.State.ACTIVE).count(), _url("quality"), alarm=True),
    ])
