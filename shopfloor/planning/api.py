"""REST API of planning: capacity and load per work center and day, the stored schedule. Thin."""

from __future__ import annotations

import datetime

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from common.api.base import ERRORS, ApiView, check_key
from shopfloor.planning.selectors import capacity_by_center, day_start, schedule_read
from shopfloor.shift_calendar import DAY, plant_production_day

DEFAULT_DAYS = 14
MAX_DAYS = 366
EARLIEST, LATEST = datetime.date(2000, 1, 1), datetime.date(2999, 12, 31)

PERIOD_PARAMETERS = [
    OpenApiParameter("from", OpenApiTypes.DATE, description="First day (plant time); default today's production day (before the first shift of a day, the day before)."),
    OpenApiParameter("to", OpenApiTypes.DATE, description=f"Last day, included; default {DEFAULT_DAYS - 1} days after `from`."),
    OpenApiParameter("work_center", OpenApiTypes.STR, description="Only this work center (404 `unknown_work_center`)."),
]


def _day(request: Request, name: str, default: datetime.date) -> datetime.date:
    text = request.query_params.get(name, "").strip()
    if not text:
        return default
    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        raise ValidationError({name: [f"{text[:40]!r} is not a date; use YYYY-MM-DD."]}) from None
    if not EARLIEST <= day <= LATEST:
        raise ValidationError({name: [f"Must be between {EARLIEST.isoformat()} and {LATEST.isoformat()}."]})
    return day


def period(request: Request) -> tuple[datetime.date, datetime.date, str]:
    """The days and the work center a request asks for, checked: 400 naming the parameter at fault."""
    first = _day(request, "from", plant_production_day().day)
    last = _day(request, "to", first + datetime.timedelta(days=DEFAULT_DAYS - 1))
    if last < first:
        raise ValidationError({"to": [f"Must not be before from ({first.isoformat()})."]})
    if (last - first).days + 1 > MAX_DAYS:
        raise ValidationError({"to": [f"At most {MAX_DAYS} days from from."]})
    work_center = request.query_params.get("work_center", "")
    return first, last, check_key("work_center", work_center) if work_center else ""


def _hours(value: float) -> float:
    return round(value, 2)


class CapacityView(ApiView):
    capabilities = {"GET": "api.read"}

    @extend_schema(
        tags=["planning"],
        summary="Capacity and load per work center and day",
        description=(
            "Capacity: the work center's shift hours × its machines (or its `capacity_hours_per_day`) × its `efficiency`. "
            "Load: the remaining setup and run time of released and running operations, laid backwards from their order's "
            "due date through the shifts; what does not fit before then falls on the first shift from now."
        ),
        parameters=PERIOD_PARAMETERS,
        responses={200: dict, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        first, last, work_center = period(request)
        by_center = capacity_by_center(first_day=first, last_day=last, work_center=work_center)
        return Response(
            {
                "work_centers": [
                    {
                        "code": code,
                        "days": [
                            {"date": day.date, "capacity_hours": _hours(day.capacity_hours), "load_hours": _hours(day.load_hours)}
                            for day in days
                        ],
                    }
                    for code, days in by_center.items()
                ]
            }
        )


class ScheduleView(ApiView):
    capabilities = {"GET": "api.read"}

    @extend_schema(
        tags=["planning"],
        summary="The finite schedule: predicted start and finish of each operation, predicted finish of each order",
        description=(
            "Operations overlapping the days asked for, by work center and start; their orders, late ones first. "
            "Recomputed after every release, confirmation and shift change (and every 5 minutes)."
        ),
        parameters=PERIOD_PARAMETERS,
        responses={200: dict, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        first, last, work_center = period(request)
        operations, orders = schedule_read(start=day_start(first), end=day_start(last + DAY), work_center=work_center)
        return Response(
            {
                "operations": [
                    {"work_order": row.work_order, "sequence": row.sequence, "work_center": row.work_center, "start": row.start, "finish": row.finish}
                    for row in operations
                ],
                "orders": [
                    {"number": order.number, "due_date": order.due_date, "predicted_finish": order.predicted_finish, "late": order.is_late}
                    for order in orders
                ],
            }
        )
