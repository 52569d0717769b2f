"""Geometry of the planning pages' inline SVG charts: plain numbers the templates draw, no JavaScript.

The load chart of a work center has one slot per day: a pale bar of its capacity and, inside it, a
bar of its load, red when the load exceeds the capacity. The Gantt of a line has one row per work
center and one bar per planned operation, placed by its start and finish at ``HOUR_WIDTH`` pixels
an hour from the left edge (the start of the first day shown), with a line at now.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.utils import formats
from django.utils.translation import gettext as _

from shopfloor.planning.core import ScheduledOperation
from shopfloor.shift_calendar import plant_zone

LOAD_WIDTH, LOAD_HEIGHT, LOAD_LEFT, LOAD_BOTTOM, LOAD_TOP = 720, 180, 44, 30, 10
# Below this many hours a load is rounding, not an overload.
OVERLOAD_TOLERANCE = 1e-6
GANTT_LEFT, GANTT_TOP, ROW_HEIGHT, HOUR_WIDTH = 120, 24, 30, 10
LABEL_CHAR_WIDTH = 6.5  # about one character of the 11 px font


def hours(value: float) -> str:
    """5.25 → "5.3 h" in the person's language."""
    return f"{formats.number_format(round(value, 1), 1)} h"


def is_overloaded(*, load_hours: float, capacity_hours: float) -> bool:
    return load_hours > capacity_hours + OVERLOAD_TOLERANCE


@dataclass(frozen=True)
class DayBar:
    date: datetime.date
    label: str
    x: float
    width: float
    capacity_y: float
    capacity_height: float
    load_x: float
    load_width: float
    load_y: float
    load_height: float
    capacity_hours: float
    load_hours: float
    is_overloaded: bool
    title: str


def load_chart(days: Sequence[Any]) -> dict[str, Any]:
    """One work center's chart from its days (each with ``date``, ``capacity_hours`` and ``load_hours``)."""
    plot_height = LOAD_HEIGHT - LOAD_BOTTOM - LOAD_TOP
    top = max([1.0, *(day.capacity_hours for day in days), *(day.load_hours for day in days)])
    slot = (LOAD_WIDTH - LOAD_LEFT) / max(len(days), 1)

    def y_of(value: float) -> float:
        return round(LOAD_TOP + plot_height * (1 - value / top), 1)

    bars = []
    for index, day in enumerate(days):
        x = LOAD_LEFT + index * slot
        overloaded = is_overloaded(load_hours=day.load_hours, capacity_hours=day.capacity_hours)
        title = _("%(date)s: load %(load)s of capacity %(capacity)s") % {
            "date": day.date.isoformat(), "load": hours(day.load_hours), "capacity": hours(day.capacity_hours),
        }
        if overloaded:
            title = f"{title} — {_('overloaded')}"
        bars.append(
            DayBar(
                date=day.date,
                label=f"{day.date:%m-%d}",
                x=round(x + slot * 0.1, 1),
                width=round(slot * 0.8, 1),
                capacity_y=y_of(day.capacity_hours),
                capacity_height=round(LOAD_TOP + plot_height - y_of(day.capacity_hours), 1),
                load_x=round(x + slot * 0.25, 1),
                load_width=round(slot * 0.5, 1),
                load_y=y_of(day.load_hours),
                load_height=round(LOAD_TOP + plot_height - y_of(day.load_hours), 1),
                capacity_hours=day.capacity_hours,
                load_hours=day.load_hours,
                is_overloaded=overloaded,
                title=title,
            )
        )
    grid = [{"y": y_of(level), "label": hours(level)} for level in (0.0, top / 2, top)]
    return {
        "width": LOAD_WIDTH, "height": LOAD_HEIGHT, "left": LOAD_LEFT, "bars": bars, "grid": grid,
        "label_y": LOAD_HEIGHT - LOAD_BOTTOM + 16, "slot": round(slot, 1),
    }


@dataclass(frozen=True)
class GanttBar:
    work_order: str
    sequence: int
    x: float
    y: float
    width: float
    label: str  # empty when the bar is too narrow to hold it
    label_x: float
    is_late: bool
    title: str


def gantt_x(*, start: datetime.datetime, moment: datetime.datetime) -> float:
    """The x of ``moment`` on a Gantt whose first day begins at ``start``."""
    return round(GANTT_LEFT + HOUR_WIDTH * (moment - start).total_seconds() / 3600, 2)


def gantt_chart(
    *,
    start: datetime.datetime,
    end: datetime.datetime,
    centers: Sequence[tuple[str, str]],
    operations: Sequence[ScheduledOperation],
    late: set[str],
    now: datetime.datetime,
) -> dict[str, Any]:
    """A line's Gantt from ``start`` to ``end``: a row per work center (code, name), in the order given."""
    zone = plant_zone()
    row_of = {code: index for index, (code, _name) in enumerate(centers)}
    width = gantt_x(start=start, moment=end) + 10
    height = GANTT_TOP + ROW_HEIGHT * max(len(centers), 1) + 4
    bars = []
    for operation in operations:
        if operation.work_center not in row_of:
            continue
        left = gantt_x(start=start, moment=max(operation.start, start))
        right = gantt_x(start=start, moment=min(operation.finish, end))
        label = f"{operation.work_order}/{operation.sequence}"
        bar_width = max(round(right - left, 2), 1.0)
        is_late = operation.work_order in late
        title = _("%(order)s operation %(sequence)s on %(center)s: %(start)s – %(finish)s") % {
            "order": operation.work_order, "sequence": operation.sequence, "center": operation.work_center,
            "start": f"{operation.start.astimezone(zone):%Y-%m-%d %H:%M}", "finish": f"{operation.finish.astimezone(zone):%Y-%m-%d %H:%M}",
        }
        if is_late:
            title = f"{title} — {_('late')}"
        bars.append(
            GanttBar(
                work_order=operation.work_order,
                sequence=operation.sequence,
                x=left,
                y=GANTT_TOP + ROW_HEIGHT * row_of[operation.work_center] + 4,
                width=bar_width,
                label=label if bar_width >= len(label) * LABEL_CHAR_WIDTH + 4 else "",
                label_x=round(left + 3, 2),
                is_late=is_late,
                title=title,
            )
        )
    days = []
    day = start
    while day < end:
        days.append({"x": gantt_x(start=start, moment=day), "label": f"{day.astimezone(zone):%m-%d}"})
        day = (day + datetime.timedelta(hours=26)).astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = [
        {"code": code, "name": name, "y": GANTT_TOP + ROW_HEIGHT * index, "text_y": GANTT_TOP + ROW_HEIGHT * index + ROW_HEIGHT / 2}
        for index, (code, name) in enumerate(centers)
    ]
    now_x = gantt_x(start=start, moment=now) if start <= now <= end else None
    return {
        "width": width, "height": height, "left": GANTT_LEFT, "top": GANTT_TOP, "row_height": ROW_HEIGHT,
        "bar_height": ROW_HEIGHT - 8, "rows": rows, "bars": bars, "days": days, "now_x": now_x,
    }
