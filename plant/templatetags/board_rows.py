"""The board's order rows, written in Python rather than in the template (the rest of the board is there).

A wall screen polls the whole board every five seconds. The same rows as a template loop (a row
with three operation cells is some forty variables) took 150 ms for a thousand orders, against
23 ms here (in-process, one core, the same HTML byte for byte): with the queries, the template
would take the board page past its 150 ms target (bench/board.py). Every text from the database
is escaped; labels are translated once per render, values that repeat are written once.
"""

from __future__ import annotations

import datetime
import re
from html import escape
from urllib.parse import quote

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from common.formatting import Numbers
from erp_sync.outbox import sync_badge
from mes.models import Status
from mes.selectors.progress import AT_RISK, LATE
from plant.selectors.board import BoardOrder
from shopfloor.planning.predictions import HORIZON_DAYS

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


def _link_prefix(name: str) -> str:
    """The URL of ``name`` for a placeholder argument, up to it: each row appends its quoted key."""
    url = reverse(name, args=["~"]) if name != "sync-messages" else reverse(name) + "?work_order=~"
    return url[: url.index("~")]


@register.simple_tag
def board_rows(orders: list[BoardOrder], order_links: bool = False, sync_links: bool = False, predictions: dict | None = None) -> SafeString:
    """The rows; each order number a link to its page (``order_links``), each ERP badge to its messages (``sync_links``);
    under the due date, the finish predicted at the order's own pace (``predictions``: number → ``Prediction``)."""
    numbers = Numbers.active()
    order_url = _link_prefix("planning-order") if order_links else ""
    sync_url = _link_prefix("sync-messages") if sync_links else ""
    flags = {
        LATE: f' <span class="flag late" data-flag="late">{escape(_("late"))}</span>',
        AT_RISK: f' <span class="flag at-risk" data-flag="at_risk">{escape(_("at risk"))}</span>',
        "": "",
    }
    holds = {
        "quality_stop": f' <span class="flag quality-stop" data-flag="quality_stop">{escape(_("quality stop"))}</span>',
        "hold": f' <span class="flag on-hold" data-flag="quality_hold">{escape(_("on quality hold"))}</span>',
        "": "",
    }
    statuses = {value: escape(str(label)) for value, label in Status.choices}
    sync_badges = _Memo(lambda state: '<span class="{1}">{0}</span>'.format(*map(escape, sync_badge(state=state))))
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

    predictions = predictions or {}
    late_risk = f' <span class="flag late-risk" data-flag="late_risk">{escape(_("late risk"))}</span>'
    beyond = escape(_("beyond %(days)s days") % {"days": HORIZON_DAYS})
    finish_label = escape(_("predicted finish"))

    def predicted(number: str) -> str:
        prediction = predictions.get(number)
        if prediction is None:
            return ""
        when = beyond if prediction.finish is None else datetime.datetime.fromtimestamp(prediction.finish.timestamp(), zone).strftime("%m-%d %H:%M")
        risk = late_risk if prediction.is_late_risk else ""
        return f'<br><span class="predicted" data-predicted title="{finish_label}">→ {when}</span>{risk}'

    rows = []
    for order in orders:
        cells = "".join([
            f'<span class="cell {operation.colour}" {heads[operation.sequence, operation.work_center, operation.name]}'
            f'<b class="good">{quantities[operation.good_milli]}</b> / {quantities[operation.plan_milli]} '
            f'<span class="pct">{percents[operation.percent]}</span>{holds[operation.hold]}</span>'
            for operation in order.operations
        ])
        number = _escape(order.number)
        quoted = _escape(quote(order.number, safe="")) if order_url or sync_url else ""
        head = f'<a href="{order_url}{quoted}/"><b>{number}</b></a>' if order_url else f"<b>{number}</b>"
        badge = sync_badges[order.sync_state]
        if sync_url and order.sync_state:
            badge = f'<a href="{sync_url}{quoted}">{badge}</a>'
        rows.append(
            f'<tr data-number="{number}">'
            f'<td>{head} <span class="status status-{order.status}">{statuses.get(order.status) or escape(order.status)}</span>'
            f"{flags[order.schedule]}"
            f'<br><span class="muted">{items[order.item_code, order.item_name]}</span></td>'
            f"<td>{days[order.due_date]}{predicted(order.number)}</td>"
            f'<td class="num">{quantities[order.plan_milli]} / {quantities[order.quantity_milli]}</td>'
            f'<td class="num done">{quantities[order.done_milli]} / {quantities[order.remaining_milli]}</td>'
            f'<td class="operations">{cells}</td>'
            f"<td>{moment(order.last_activity_us)}</td>"
            f"<td>{badge}</td>"
            "</tr>\n"
        )
    return mark_safe("".join(rows))
