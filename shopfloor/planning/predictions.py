"""When will an order finish at the pace it actually runs? (R-5.2: predicted delay from actual cycle times.)

For each remaining operation of an order, in routing order: its remaining quantity (planned less
what was confirmed, good, scrap and rework) × its **recent actual cycle time**, plus its setup while
nothing was confirmed on it, laid forward from now through its work center's shift windows (as the
schedule does, ``shopfloor.planning.core``), each operation starting when the one before it ends.

The actual cycle time of an operation, in minutes per unit, is the first of:

1. its reports of the last ``RECENT`` (machine minutes where the machine counted them, else labor
   minutes, over the quantity confirmed);
2. the same over all its reports;
3. its standard run time × the order's pace so far (its reported minutes over the standard minutes
   of what it reported), or the standard time alone when nothing with minutes was reported.

An order is **at risk of being late** when that finish falls after the end of its due date (or
beyond ``HORIZON_DAYS`` of windows). Unlike the finite schedule, an order is not queued behind the
others on its work centers: this is the order's own pace, the planner's second opinion.

Four queries for any number of orders: operations, recent reports, work centers, shifts (none when
no order is given or none is active).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db.models import Case, DecimalField, F, Sum, When
from django.utils import timezone

from mes.models import Confirmation, WorkOrderOperation
from mes.selectors.progress import due_end
from shopfloor.planning.core import Timeline
from shopfloor.planning.selectors import ACTIVE_STATUSES, center_windows
from shopfloor.shift_calendar import DAY, plant_zone

RECENT = datetime.timedelta(days=7)
HORIZON_DAYS = 90
ZERO = Decimal(0)
SHARED_KEY = "planning:predicted-finishes"


@dataclass(frozen=True)
class Prediction:
    number: str
    finish: datetime.datetime | None  # None: not within HORIZON_DAYS of shift windows
    due_end: datetime.datetime
    remaining_hours: float  # of work, at the actual pace

    @property
    def is_late_risk(self) -> bool:
        return self.finish is None or self.finish > self.due_end

    @property
    def delay(self) -> datetime.timedelta | None:
        """How far past the end of the due date (None when on time or beyond the horizon)."""
        return self.finish - self.due_end if self.finish is not None and self.finish > self.due_end else None


def _minutes():
    """A report's minutes: the machine's where it counted them, else the operator's."""
    return Case(When(machine_minutes__gt=0, then=F("machine_minutes")), default=F("labor_minutes"),
                output_field=DecimalField(max_digits=15, decimal_places=3))


def _per_unit(minutes: Decimal | None, quantity: Decimal | None) -> Decimal | None:
    return minutes / quantity if minutes and quantity and minutes > 0 and quantity > 0 else None


def predicted_finishes(*, numbers: Iterable[str] | None = None, now: datetime.datetime | None = None) -> dict[str, Prediction]:
    """The prediction of each active order (released, running or paused) of ``numbers`` (every active
    order when None), by number. Orders not active are left out."""
    now = now or timezone.now()
    operations = WorkOrderOperation.objects.filter(work_order__status__in=ACTIVE_STATUSES)
    if numbers is not None:
        numbers = list(numbers)
        if not numbers:
            return {}
        operations = operations.filter(work_order__number__in=numbers)
    rows = list(
        operations.order_by("work_order_id", "sequence").values_list(
            "id", "work_order__number", "work_order__due_date", "work_center__code", "status", "setup_minutes",
            "run_minutes_per_unit", "planned_qty", "good_qty", "scrap_qty", "rework_qty", "labor_minutes", "machine_minutes",
        )
    )
    if not rows:
        return {}
    recent = {
        operation: _per_unit(minutes, quantity)
        for operation, minutes, quantity in Confirmation.objects.filter(
            # the operations read above, as a subquery: a thousand orders' ids are no parameter list
            operation_id__in=operations.values("id"), confirmed_at__gte=now - RECENT, confirmed_at__lte=now
        ).order_by().values("operation_id").annotate(
            minutes=Sum(_minutes()), quantity=Sum(F("good_qty") + F("scrap_qty") + F("rework_qty"))
        ).values_list("operation_id", "minutes", "quantity")
    }
    today = now.astimezone(plant_zone()).date()
    timelines = {code: Timeline(windows) for code, windows in center_windows(first_day=today - DAY, last_day=today + datetime.timedelta(days=HORIZON_DAYS)).items()}
    by_order: dict[str, list[tuple]] = {}
    for row in rows:
        by_order.setdefault(row[1], []).append(row)
    zone = plant_zone()
    predictions = {}
    for number, order_rows in by_order.items():
        # The order's pace: reported minutes over the standard minutes of what was reported.
        actual = standard = ZERO
        for *_, run, _planned, good, scrap, rework, labor, machine in order_rows:
            if (machine if machine > 0 else labor) > 0:
                actual += machine if machine > 0 else labor
                standard += run * (good + scrap + rework)
        pace = actual / standard if actual > 0 and standard > 0 else Decimal(1)
        at = now.timestamp()
        finish: float | None = at
        total_hours = 0.0
        for key, _number, _due, center, _status, setup, run, planned, good, scrap, rework, labor, machine in order_rows:
            confirmed = good + scrap + rework
            remaining = max(planned - confirmed, ZERO)
            if remaining <= 0:
                continue
            cycle = recent.get(key) or _per_unit(machine if machine > 0 else labor, confirmed) or run * pace
            hours = float(remaining * cycle + (setup if confirmed <= 0 else ZERO)) / 60
            total_hours += hours
            if finish is None or hours <= 0:
                continue
            placed = timelines[center].forward(finish, hours) if center in timelines else None
            finish = placed[1] if placed is not None else None
        predictions[number] = Prediction(
            number=number,
            finish=None if finish is None else datetime.datetime.fromtimestamp(finish, datetime.UTC),
            due_end=due_end(order_rows[0][2], zone),
            remaining_hours=total_hours,
        )
    return predictions


def shared_predicted_finishes(*, numbers: Iterable[str]) -> dict[str, Prediction]:
    """The predictions of the active orders among ``numbers``, as worked out for every active order at
    most ``MES_PREDICTION_MAX_AGE_SECONDS`` ago (default 60) and shared through the cache.

    For the board: its wall screens poll every few seconds, and a prediction, which weighs a week of
    reports, moves little in a minute. An order the shared set does not hold yet (released since)
    is worked out on the spot, on its own.
    """
    max_age = settings.MES_PREDICTION_MAX_AGE_SECONDS
    numbers = set(numbers)
    if max_age <= 0:  # not shared: the orders asked for, and only those
        return predicted_finishes(numbers=numbers)
    shared = cache.get(SHARED_KEY)
    if shared is None:
        shared = predicted_finishes()
        cache.set(SHARED_KEY, shared, max_age)
    missing = numbers - shared.keys()
    found = {number: shared[number] for number in numbers & shared.keys()}
    return found | predicted_finishes(numbers=missing) if missing else found
