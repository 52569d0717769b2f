"""The progress board: one page, or its live partial when htmx polls it."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from common.access import capability_required
from mes.selectors.planning import production_lines
from plant.selectors.board import board
from shopfloor.planning.predictions import shared_predicted_finishes
from shopfloor.shift_charts import day_charts
from shopfloor.shift_progress import day_progress


DEFAULT_PAGE_SECONDS = 10


def _page_seconds(request: HttpRequest) -> int:
    """How long a wall screen shows each page of the board: ``?page_seconds=`` from 2 to 300, else 10."""
    value = request.GET.get("page_seconds", "")
    return min(max(int(value), 2), 300) if value.isdigit() and len(value) <= 3 else DEFAULT_PAGE_SECONDS


@capability_required("board.view")
@require_GET
def board_page(request: HttpRequest) -> HttpResponse:
    is_wall = request.GET.get("wall") == "1"
    lines = production_lines()
    line = request.GET.get("line") or None
    unknown_line = line is not None and line not in lines
    if is_wall:
        # Every poll renews the session, so a wall screen signed in once keeps running.
        request.session.modified = True
    entries = [] if unknown_line else board(line=line)
    charts = day_charts(day_progress(lines=[line] if line is not None and not unknown_line else None))
    context = {
        "lines": [(entry, charts["lines"].get(entry.line)) for entry in entries],
        "charts": charts,
        "predictions": shared_predicted_finishes(numbers={order.number for entry in entries for order in entry.orders}),
        "line": line,
        "unknown_line": unknown_line,
        "all_lines": lines,
        "is_wall": is_wall,
        "page_seconds": _page_seconds(request),
    }
    return render(request, "plant/board.html#board" if request.htmx else "plant/board.html", context)
