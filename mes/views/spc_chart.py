"""Geometry of the SPC page's inline SVG charts (as ``shopfloor.oee_charts``): plain numbers the
template draws, no JavaScript. The value chart (individuals or subgroup means) with its centre
line, control limits and specification limits, and the moving-range or range chart under it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mes.selectors.spc import SpcReport

WIDTH, LEFT, RIGHT, TOP, BOTTOM = 760, 40, 120, 12, 24
VALUE_HEIGHT, RANGE_HEIGHT = 260, 150


@dataclass(frozen=True)
class ChartPoint:
    sample_no: int
    x: float
    y: float
    value: float
    is_violation: bool


@dataclass(frozen=True)
class Line:
    kind: str  # centre, ucl, lcl, usl, lsl
    y: float
    value: float
    label: str


def _scale(values: list[float], height: int):
    low, high = min(values), max(values)
    pad = (high - low) * 0.08 or abs(high) * 0.05 or 1.0
    low, high = low - pad, high + pad
    plot = height - TOP - BOTTOM

    def y_of(value: float) -> float:
        return round(TOP + plot * (high - value) / (high - low), 2)

    return y_of


def _chart(points: list[tuple[int, float]], lines: list[tuple[str, float | None, str]], violating: set[int], height: int) -> dict[str, Any]:
    drawn = [(kind, value, label) for kind, value, label in lines if value is not None]
    if not points:
        return {"height": height, "width": WIDTH, "points": [], "lines": [], "polyline": ""}
    y_of = _scale([value for _no, value in points] + [value for _kind, value, _label in drawn], height)
    step = (WIDTH - LEFT - RIGHT) / max(len(points) - 1, 1)
    chart_points = [
        ChartPoint(sample_no, round(LEFT + index * step, 2), y_of(value), value, sample_no in violating)
        for index, (sample_no, value) in enumerate(points)
    ]
    return {
        "height": height, "width": WIDTH, "left": LEFT, "right": WIDTH - RIGHT, "bottom": height - BOTTOM,
        "points": chart_points,
        "lines": [Line(kind, y_of(value), value, label) for kind, value, label in drawn],
        "polyline": " ".join(f"{point.x},{point.y}" for point in chart_points),
    }


def spc_charts(report: SpcReport) -> dict[str, Any]:
    """The value chart and the range chart of ``report``: points, limit lines, marked violations."""
    result = report.result
    violating = {sample_no for violation in result.violations for sample_no in violation.sample_nos}
    values = _chart(
        [(point.sample_no, point.value) for point in result.points],
        [("centre", result.mean, "CL"), ("ucl", result.ucl, "UCL"), ("lcl", result.lcl, "LCL"),
         ("usl", report.upper_limit, "USL"), ("lsl", report.lower_limit, "LSL")],
        violating, VALUE_HEIGHT,
    )
    ranges = _chart(
        [(point.sample_no, point.spread) for point in result.points if point.spread is not None],
        [("centre", result.spread_mean, "CL"), ("ucl", result.spread_ucl, "UCL"),
         ("lcl", result.spread_lcl if result.spread_lcl else None, "LCL")],
        set(), RANGE_HEIGHT,
    )
    return {"values": values, "ranges": ranges}
