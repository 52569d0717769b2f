"""The board's order rows and machines, written in Python rather than in template tags.

A wall screen polls the whole board every five seconds; with a thousand orders the template
engine's per-variable look-ups alone took a second. Written here, the same rows take a few
milliseconds. Every text from the database is escaped; labels are translated once per render.
"""

from __future__ import annotations

import datetime
import re
from html import escape

from django import template
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from common.formatting import Numbers
from erp_sync.outbox import SYNC_LABELS
from mes.models import Status
from plant.selectors.board import BoardMachine, BoardOrder
from shopfloor.templatetags.oee_format import equipment_state_label

register = template.Library()


_SPECIAL = re.compile(r"[&<>\"']")


def _escape(value: str) -> str:
    """html.escape, skipping its five replacements for the many texts that need none (order numbers)."""
    return escape(value) if _SPECIAL.search(value) else value


class _Memo(dict):
    """Values written once per render: a hit is a plain dict look-up, a miss calls ``write``."""

    def __init__(self, write) -> None:
        super().__init__()
        self.write = write

    def __missing__(self, key):
        value = self[key] = self.write(key)
        return value


@register.simple_tag
def board_rows(orders: list[BoardOrder]) -> SafeString:
    numbers = Numbers.active()
    statuses = {value: escape(str(label)) for value, label in Status.choices}
    sync = {state: escape(str(label)) for state, label in SYNC_LABELS.items()}
    zone = timezone.get_current_timezone()
    # Operations, items, quantities, percentages and days repeat from row to row: write each once.
    heads = _Memo(lambda key: f'data-sequence="{key[0]}" title="{escape(key[1])}">{key[0]} {escape(key[2])}: ')
    items = _Memo(lambda key: f"{escape(key[0])} {escape(key[1])}")
    quantities = _Memo(numbers.milli)
    percents = _Memo(numbers.whole_percent)
    days = _Memo(datetime.date.isoformat)

    def moment(us: int | None) -> str:
        # To the minute in the plant's time zone, from microseconds since 1970 UTC.
        if us is None:
            return "—"
        return datetime.datetime.fromtimestamp(us // 1_000_000, zone).isoformat(" ")[:16]

    rows = []
    for order in orders:
        cells = "".join([
            f'<span class="cell {operation.colour}" {heads[operation.sequence, operation.work_center, operation.name]}'
            f'<b class="good">{quantities[operation.good_milli]}</b> / {quantities[operation.plan_milli]} '
            f'<span class="pct">{percents[operation.percent]}</span></span>'
            for operation in order.operations
        ])
        number = _escape(order.number)
        rows.append(
            f'<tr data-number="{number}">'
            f'<td><b>{number}</b> <span class="status status-{order.status}">{statuses.get(order.status) or escape(order.status)}</span>'
            f'<br><span class="muted">{items[order.item_code, order.item_name]}</span></td>'
            f"<td>{days[order.due_date]}</td>"
            f'<td class="num">{quantities[order.plan_milli]} / {quantities[order.quantity_milli]}</td>'
            f'<td class="operations">{cells}</td>'
            f"<td>{moment(order.last_activity_us)}</td>"
            f'<td><span class="sync sync-{order.sync_state or "none"}">{sync.get(order.sync_state or "", "—")}</span></td>'
            "</tr>\n"
        )
    return mark_safe("".join(rows))


@register.simple_tag
def board_machines(machines: list[BoardMachine]) -> SafeString:
    """A line's machines as list items: state, since when, OEE of the current shift (a dozen
    machines on two lines took the template engine as long as a thousand order rows here)."""
    if not machines:
        return mark_safe(f'<li class="muted">{escape(gettext("No machines."))}</li>')
    numbers = Numbers.active()
    zone = timezone.get_current_timezone()
    since, oee_title, oee = (escape(gettext(text)) for text in ("since", "OEE of the current shift", "OEE"))
    items = []
    for machine in machines:
        code = escape(machine.code)
        item = (
            f'<li class="machine machine-{escape(machine.state)}" data-equipment="{code}" title="{escape(machine.name)}">'
            f"<b>{code}</b> {escape(equipment_state_label(machine.state))}"
        )
        if machine.since:
            item += f' <span class="muted">{since} {machine.since.astimezone(zone):%m-%d %H:%M}</span>'
        if machine.oee is not None:
            item += f' <span class="oee" title="{oee_title}">{oee} {numbers.percent(machine.oee)}</span>'
        items.append(item + "</li>")
    return mark_safe("".join(items))
