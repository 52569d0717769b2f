"""Geometry of the production day's inline SVG charts (as ``shopfloor.oee_charts``): plain numbers the
templates (``templates/shopfloor/charts/``) draw, no JavaScript.

- **Plan against actual** of a line: the cumulative plan through the day as a dashed line, the
  cumulative good reported as a solid one up to now, hour ticks along the bottom.
- **Pareto** of reasons (scrap quantity, standstill minutes): a bar per reason, most first (the
  rest gathered in one bar), and the cumulative share as a line against a 0–100 % axis on the right.

Each chart carries its words for people who do not see it: a title, a description that says what
it shows in one sentence, and the rows of a table (the templates put them under a disclosure).
The view box is narrow (480 units) so that its text stays readable when a phone shrinks it to
its 360 px, and a wall screen scales it up.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from django.utils import formats
from django.utils.translation import gettext as _

from shopfloor.oee_charts import percent
from shopfloor.shift_calendar import plant_zone
from shopfloor.shift_progress import DayProgress, LineProgress, ReasonTotal

WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 480, 230, 52, 58, 14, 34
PARETO_BARS = 6  # reasons drawn one by one; the rest are one bar "others"


def quantity(value: Decimal | float) -> str:
    """12.500 → "12.5", 1200 → "1,200" (in the reader's language)."""
    number = Decimal(value).quantize(Decimal("0.1"))
    return formats.number_format(number.normalize() if number == number.to_integral() else number, use_l10n=True, force_grouping=True)


def minutes(value: Decimal | float) -> str:
    return _("%(value)s min") % {"value": quantity(value)}


def _top(value: float) -> float:
    """A round top for an axis holding ``value``: 1, 2 or 5 × a power of ten, at least 1."""
    if value <= 1:
        return 1.0
    scale = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * scale:
            return float(step * scale)
    return float(10 * scale)


def progress_chart(line: LineProgress, *, label: str) -> dict[str, Any]:
    """The plan-against-actual chart of one line (``label`` names it: "Line L1")."""
    zone = plant_zone()
    start, end = line.moments[0], line.moments[-1]
    span = (end - start).total_seconds() or 1.0
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = _top(float(max([*line.planned, *line.actual, Decimal(0)])))

    def x_of(moment: datetime.datetime) -> float:
        return round(LEFT + plot_width * (moment - start).total_seconds() / span, 1)

    def y_of(value: Decimal) -> float:
        return round(TOP + plot_height * (1 - float(value) / top), 1)

    # At most seven hour labels, so they stay apart on a phone and on the wall screen alike
    # (every 2 h through a 12-hour day, every 4 h through a 24-hour one).
    every = max(1, math.ceil((len(line.moments) - 1) / 6))
    ticks = [
        {"x": x_of(moment), "label": f"{moment.astimezone(zone):%H:%M}"}
        for index, moment in enumerate(line.moments) if index % every == 0
    ]
    now_label = f"{line.points[-1].astimezone(zone):%H:%M}"
    description = _("By %(time)s: plan %(plan)s, good reported %(actual)s (%(share)s of plan).") % {
        "time": now_label, "plan": quantity(line.planned_now), "actual": quantity(line.actual_now), "share": percent(line.share_of_plan),
    }
    passed = {point: value for point, value in zip(line.points, line.actual)}
    return {
        "width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT, "bottom": HEIGHT - BOTTOM, "label_y": HEIGHT - 12,
        "label": label,
        "title": _("%(line)s: plan against good reported, cumulative through the production day") % {"line": label},
        "description": description,
        "grid": [{"y": y_of(Decimal(level)), "label": quantity(level)} for level in (0, top / 2, top)],
        "ticks": ticks,
        "planned": " ".join(f"{x_of(moment)},{y_of(value)}" for moment, value in zip(line.moments, line.planned)),
        "actual": " ".join(f"{x_of(point)},{y_of(value)}" for point, value in zip(line.points, line.actual)),
        "now": {"x": x_of(line.points[-1]), "y": y_of(line.actual_now), "label": now_label},
        "is_behind": line.share_of_plan is not None and line.share_of_plan < Decimal("0.9"),
        "rows": [
            {"time": f"{moment.astimezone(zone):%H:%M}", "planned": quantity(planned), "actual": quantity(passed[moment]) if moment in passed else "—"}
            for moment, planned in zip(line.moments, line.planned)
        ],
    }


def pareto_chart(totals: Sequence[ReasonTotal], *, title: str, unit: Callable[[Decimal], str]) -> dict[str, Any]:
    """A Pareto of ``totals`` (most first), each value written by ``unit`` (``quantity``, ``minutes``)."""
    shown = list(totals[:PARETO_BARS])
    rest = totals[PARETO_BARS:]
    if rest:
        shown.append(ReasonTotal("", _("others (%(count)s)") % {"count": len(rest)}, sum((row.value for row in rest), Decimal(0))))
    total = sum((row.value for row in shown), Decimal(0))
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_width / max(len(shown), 3)  # one or two reasons keep a bar's width, not the whole plot
    top = _top(float(shown[0].value)) if shown else 1.0

    def y_of(value: float) -> float:
        return round(TOP + plot_height * (1 - value), 1)

    bars, cumulative, running = [], [], Decimal(0)
    for index, row in enumerate(shown):
        running += row.value
        share = running / total if total else Decimal(0)
        x = LEFT + index * slot
        height = round(plot_height * float(row.value) / top, 1)
        centre = round(x + slot / 2, 1)
        name = row.name or ("" if row.code else _("no reason given"))
        bars.append({
            "x": round(x + slot * 0.15, 1), "y": round(TOP + plot_height - height, 1), "width": round(slot * 0.7, 1), "height": height,
            "centre": centre, "code": row.code or "—", "name": name, "value": unit(row.value),
            "share": percent(row.value / total if total else None), "cumulative": percent(share),
            "title": f"{row.code} {name}: {unit(row.value)} ({percent(row.value / total if total else None)})".strip(),
        })
        cumulative.append({"x": centre, "y": y_of(float(share))})
    description = "; ".join(f"{bar['title']}" for bar in bars) if bars else _("Nothing recorded yet.")
    return {
        "width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT, "bottom": HEIGHT - BOTTOM, "label_y": HEIGHT - 12,
        "title": title, "description": description, "bars": bars, "cumulative": " ".join(f"{point['x']},{point['y']}" for point in cumulative), "cumulative_points": cumulative,
        "grid": [{"y": round(TOP + plot_height * (1 - level / top), 1), "label": quantity(level)} for level in (0, top / 2, top)],
        "percent_grid": [{"y": y_of(level / 100), "label": f"{level} %"} for level in (0, 50, 100)],
        "total": unit(total),
    }


def line_label(line: str) -> str:
    return _("Line %(line)s") % {"line": line} if line else _("No line")


def day_charts(progress: DayProgress) -> dict[str, Any]:
    """Every chart of the production day ``progress`` (``shift_progress.day_progress``): a plan-against-actual
    per line (by line name), the Pareto of scrap and that of standstill."""
    return {
        "day": progress.day,
        "lines": {line.line: progress_chart(line, label=line_label(line.line)) for line in progress.lines},
        "scrap": pareto_chart(progress.scrap, title=_("Scrap by reason, today"), unit=quantity),
        "standstill": pareto_chart(progress.standstill, title=_("Standstill by reason, today (minutes)"), unit=minutes),
    }
