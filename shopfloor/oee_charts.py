"""Geometry of the OEE page's inline SVG charts: plain numbers the templates draw, no JavaScript.

The trend chart has one bar per production day (or shift): its OEE, with availability,
performance and quality as dots. The timeline is one band of the day's states over the day's
planned time. Values above 100 % are drawn at the top with a mark, and labelled with the truth.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from django.utils import formats
from django.utils.translation import gettext as _

from shopfloor.models import EquipmentState
from shopfloor.oee import Tally, TimelineSegment
from shopfloor.shift_calendar import PlannedSpan, plant_zone

TREND_WIDTH, TREND_HEIGHT, TREND_LEFT, TREND_BOTTOM = 720, 220, 40, 36
TIMELINE_WIDTH, TIMELINE_LEFT = 720, 10


def percent(value: Any) -> str:
    """0.8125 → "81.3 %" (half up, as by hand); None → "—"."""
    if value is None:
        return "—"
    exact = Fraction(value) if isinstance(value, Fraction) else Fraction(str(value))
    shown = (Decimal(exact.numerator * 100) / Decimal(exact.denominator)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return f"{formats.number_format(shown, 1)} %"


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: str
    title: str
    is_capped: bool
    dots: tuple[tuple[str, float], ...]  # (availability | performance | quality, y)


def trend_chart(rows: Sequence[tuple[str, Tally]]) -> dict[str, Any]:
    plot_height = TREND_HEIGHT - TREND_BOTTOM - 10
    slot = (TREND_WIDTH - TREND_LEFT) / max(len(rows), 1)

    def y_of(value: float) -> float:
        return 10 + plot_height * (1 - min(value, 1.0))

    bars = []
    for index, (label, tally) in enumerate(rows):
        oee = tally.oee()
        x = TREND_LEFT + index * slot + slot * 0.15
        top = y_of(float(oee)) if oee is not None else 10 + plot_height
        dots = tuple(
            (name, y_of(float(value)))
            for name, value in (("availability", tally.availability()), ("performance", tally.performance()), ("quality", tally.quality()))
            if value is not None
        )
        bars.append(
            Bar(
                x=round(x, 1),
                y=round(top, 1),
                width=round(slot * 0.7, 1),
                height=round(10 + plot_height - top, 1),
                label=label,
                value=percent(oee),
                title=_("%(label)s: OEE %(oee)s = availability %(a)s × performance %(p)s × quality %(q)s")
                % {"label": label, "oee": percent(oee), "a": percent(tally.availability()), "p": percent(tally.performance()), "q": percent(tally.quality())},
                is_capped=oee is not None and oee > 1,
                dots=tuple((name, round(y, 1)) for name, y in dots),
            )
        )
    grid = [{"y": round(y_of(level / 100), 1), "label": f"{level} %"} for level in (0, 25, 50, 75, 100)]
    return {
        "width": TREND_WIDTH, "height": TREND_HEIGHT, "left": TREND_LEFT, "bars": bars, "grid": grid,
        "label_y": TREND_HEIGHT - TREND_BOTTOM + 16, "slot": slot,
    }


def timeline_chart(
    start: datetime.datetime, end: datetime.datetime, segments: Sequence[TimelineSegment], planned: Sequence[PlannedSpan]
) -> dict[str, Any]:
    span = (end - start).total_seconds() or 1.0
    usable = TIMELINE_WIDTH - 2 * TIMELINE_LEFT

    def x_of(moment: datetime.datetime) -> float:
        return round(TIMELINE_LEFT + usable * (moment - start).total_seconds() / span, 2)

    def box(begin: datetime.datetime, finish: datetime.datetime) -> dict[str, float]:
        return {"x": x_of(begin), "width": max(round(x_of(finish) - x_of(begin), 2), 0.5)}

    zone = plant_zone()
    ticks = []
    tick = start.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    while tick <= end:
        if tick >= start and tick.hour % 3 == 0:
            ticks.append({"x": x_of(tick), "label": f"{tick:%H:%M}"})
        tick += datetime.timedelta(hours=1)
    return {
        "width": TIMELINE_WIDTH,
        "segments": [
            {
                **box(segment.start, segment.end),
                "state": segment.state,
                "title": f"{segment.start.astimezone(zone):%H:%M}–{segment.end.astimezone(zone):%H:%M} "
                f"{EquipmentState.State(segment.state).label}{' ' + segment.reason_code if segment.reason_code else ''}",
            }
            for segment in segments
        ],
        "planned": [{**box(span_.start, span_.end), "title": str(span_.shift)} for span_ in planned],
        "ticks": ticks,
    }
