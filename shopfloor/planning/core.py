"""Capacity, load and the finite forward schedule: pure functions on plain values (no database).

A work center is planned as one resource working through the windows of its shift calendar at a
``rate`` (hours of work per hour of clock): its machines × its efficiency, or, when the work center
states ``capacity_hours_per_day``, that figure × its efficiency spread over the day's shifts. So an
operation of 4 hours on a work center of two machines takes 2 hours of the clock.

- **Capacity** of a day: the sum of its windows' hours × rate (``capacity_by_day``).
- **Load** of a day (``load_by_day``): where the remaining work has to be done to make the due
  dates, with no regard to the other orders (infinite capacity): each order's operations are laid
  backwards from the end of its due date through the windows, the last operation first. Work that
  does not fit between now and then lands on the first window from now (it is overdue already).
  A day whose load exceeds its capacity is overloaded.
- **Schedule** (``schedule``): finite and forward from now. Each work center, whenever it is free,
  takes among the operations ready for it (their predecessor in the routing finished) the one of
  the most urgent order (priority, then due date, then number) and runs it through its windows
  to the end, so no two operations overlap on a work center and no operation starts before its
  predecessor finishes. One heap of events and two heaps per work center: O(n log n), about 5,000
  operations in a fraction of a second.
"""

from __future__ import annotations

import datetime
import heapq
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

UTC = datetime.UTC
# Work of less than this (in seconds) is rounding, not a reason to spill into the next shift.
EPSILON = 1e-3


@dataclass(frozen=True)
class Window:
    """A span of planned time of a work center, on production day ``day``; ``rate`` hours of work per clock hour."""

    start: datetime.datetime
    end: datetime.datetime
    day: datetime.date
    rate: float


@dataclass(frozen=True)
class OrderInput:
    number: str
    priority: int
    due_date: datetime.date
    due_end: datetime.datetime  # the end of the due date (the next midnight, plant time)


@dataclass(frozen=True)
class OperationInput:
    key: int  # the operation's id
    work_order: str
    sequence: int
    work_center: str
    hours: float  # remaining setup + run time


@dataclass(frozen=True)
class ScheduledOperation:
    key: int
    work_order: str
    sequence: int
    work_center: str
    start: datetime.datetime
    finish: datetime.datetime


@dataclass(frozen=True)
class Schedule:
    operations: list[ScheduledOperation]
    finishes: dict[str, datetime.datetime]  # order number → predicted finish
    unscheduled: list[int]  # keys of operations that did not fit within the windows given


def windows_of(
    spans: Iterable, *, machines: int, efficiency: float, capacity_hours_per_day: float | None
) -> list[Window]:
    """A work center's windows from its shift occurrences (``PlannedSpan``: start, end, day): the rate is
    machines × efficiency, or the day's ``capacity_hours_per_day`` × efficiency over its shift hours."""
    spans = list(spans)
    if capacity_hours_per_day is None:
        rate = max(machines, 1) * efficiency
        return [Window(span.start, span.end, span.day, rate) for span in spans]
    hours_by_day: dict[datetime.date, float] = {}
    for span in spans:
        hours_by_day[span.day] = hours_by_day.get(span.day, 0.0) + (span.end - span.start).total_seconds() / 3600
    return [
        Window(span.start, span.end, span.day, capacity_hours_per_day * efficiency / hours_by_day[span.day])
        for span in spans
    ]


def capacity_by_day(windows: Iterable[Window]) -> dict[datetime.date, float]:
    capacity: dict[datetime.date, float] = {}
    for window in windows:
        capacity[window.day] = capacity.get(window.day, 0.0) + (window.end - window.start).total_seconds() / 3600 * window.rate
    return capacity


class _Timeline:
    """A work center's windows as seconds since the epoch, for walking forwards and backwards."""

    def __init__(self, windows: Sequence[Window]):
        self.windows = sorted(windows, key=lambda window: window.start)
        self.starts = [window.start.timestamp() for window in self.windows]
        self.ends = [window.end.timestamp() for window in self.windows]
        self.rates = [window.rate for window in self.windows]

    def forward(self, at: float, hours: float) -> tuple[float, float] | None:
        """Start and finish of ``hours`` of work begun at ``at`` or later; None past the last window."""
        index = bisect_right(self.ends, at)
        seconds = hours * 3600
        start = None
        while index < len(self.starts):
            begin = max(at, self.starts[index])
            rate = self.rates[index]
            if rate > 0 and self.ends[index] > begin:
                if start is None:
                    start = begin
                available = (self.ends[index] - begin) * rate
                if available >= seconds - EPSILON:
                    return start, begin + max(seconds, 0.0) / rate
                seconds -= available
            index += 1
        return None

    def backward(self, until: float, not_before: float, hours: float) -> tuple[list[tuple[int, float]], float, float]:
        """Lay ``hours`` backwards from ``until`` down to ``not_before``: the hours per window index,
        the start reached and the hours left over that did not fit."""
        index = bisect_right(self.starts, until) - 1
        seconds = hours * 3600
        placed: list[tuple[int, float]] = []
        cursor = until
        while seconds > EPSILON and index >= 0 and self.ends[index] > not_before:
            finish = min(until, self.ends[index])
            begin = max(not_before, self.starts[index])
            rate = self.rates[index]
            if finish > begin and rate > 0:
                available = (finish - begin) * rate
                used = min(available, seconds)
                placed.append((index, used / 3600))
                seconds -= used
                cursor = finish - used / rate
            index -= 1
        return placed, cursor, seconds / 3600

    def first_index_from(self, at: float) -> int | None:
        index = bisect_right(self.ends, at)
        while index < len(self.starts) and self.rates[index] <= 0:
            index += 1
        return index if index < len(self.starts) else None


Timeline = _Timeline  # for walking an order forward at its own pace (shopfloor.planning.predictions)


def _by_order(operations: Iterable[OperationInput]) -> dict[str, list[OperationInput]]:
    grouped: dict[str, list[OperationInput]] = {}
    for operation in operations:
        grouped.setdefault(operation.work_order, []).append(operation)
    for chain in grouped.values():
        chain.sort(key=lambda operation: operation.sequence)
    return grouped


def load_by_day(
    *,
    now: datetime.datetime,
    windows: dict[str, Sequence[Window]],
    orders: Iterable[OrderInput],
    operations: Iterable[OperationInput],
) -> dict[tuple[str, datetime.date], dict[str, float]]:
    """The load of each (work center, day) by order: ``{(code, day): {number: hours}}`` (see the module)."""
    timelines = {code: _Timeline(spans) for code, spans in windows.items()}
    orders_by_number = {order.number: order for order in orders}
    now_seconds = now.timestamp()
    load: dict[tuple[str, datetime.date], dict[str, float]] = {}

    def add(code: str, day: datetime.date, number: str, hours: float) -> None:
        per_order = load.setdefault((code, day), {})
        per_order[number] = per_order.get(number, 0.0) + hours

    for number, chain in _by_order(operations).items():
        cursor = max(orders_by_number[number].due_end.timestamp(), now_seconds)
        for operation in reversed(chain):
            if operation.hours <= 0:
                continue
            timeline = timelines.get(operation.work_center)
            if timeline is None:
                continue
            placed, cursor, left = timeline.backward(cursor, now_seconds, operation.hours)
            for index, hours in placed:
                add(operation.work_center, timeline.windows[index].day, number, hours)
            if left * 3600 > EPSILON:
                first = timeline.first_index_from(now_seconds)
                day = timeline.windows[first].day if first is not None else now.date()
                add(operation.work_center, day, number, left)
                cursor = now_seconds
    return load


def schedule(
    *,
    now: datetime.datetime,
    windows: dict[str, Sequence[Window]],
    orders: Iterable[OrderInput],
    operations: Iterable[OperationInput],
) -> Schedule:
    """The finite forward schedule from ``now`` (see the module)."""
    timelines = {code: _Timeline(spans) for code, spans in windows.items()}
    urgency = {order.number: (order.priority, order.due_date, order.number) for order in orders}
    chains = _by_order(operations)
    now_seconds = now.timestamp()
    free_at = {code: now_seconds for code in timelines}
    waiting: dict[str, list] = {code: [] for code in timelines}  # (ready, urgency, sequence, order, position)
    ready: dict[str, list] = {code: [] for code in timelines}  # (urgency, sequence, order, position, ready)
    pending: set[str] = set()  # work centers with a decision in the event heap
    events: list[tuple[float, str]] = []
    placed: list[ScheduledOperation] = []
    finishes: dict[str, float] = {}
    unscheduled: list[int] = []

    def to_datetime(seconds: float) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(round(seconds), tz=UTC)  # to the second: a plan, not a stopwatch

    def finish_order(number: str, position: int, at: float) -> None:
        """Queue the order's operation at ``position`` (ready at ``at``), or record the order's finish."""
        chain = chains[number]
        while position < len(chain):
            operation = chain[position]
            if operation.hours <= 0:  # nothing left to do: done as soon as it may start
                placed.append(ScheduledOperation(operation.key, number, operation.sequence, operation.work_center, to_datetime(at), to_datetime(at)))
                position += 1
                continue
            code = operation.work_center
            if code not in timelines:
                unscheduled.extend(later.key for later in chain[position:])
                return
            heapq.heappush(waiting[code], (at, urgency[number], operation.sequence, number, position))
            if code not in pending:
                pending.add(code)
                heapq.heappush(events, (max(at, free_at[code]), code))
            return
        finishes[number] = max(finishes.get(number, at), at)

    for number in chains:
        finish_order(number, 0, now_seconds)

    while events:
        at, code = heapq.heappop(events)
        pending.discard(code)
        queue, candidates = waiting[code], ready[code]
        while queue and queue[0][0] <= at:
            ready_at, order_urgency, sequence, number, position = heapq.heappop(queue)
            heapq.heappush(candidates, (order_urgency, sequence, number, position, ready_at))
        if not candidates:
            if queue:
                pending.add(code)
                heapq.heappush(events, (queue[0][0], code))
            continue
        _urgency, _sequence, number, position, _ready_at = heapq.heappop(candidates)
        operation = chains[number][position]
        span = timelines[code].forward(at, operation.hours)
        if span is None:  # beyond the horizon: this and the order's later operations stay unplanned
            unscheduled.extend(later.key for later in chains[number][position:])
        else:
            start, finish = span
            placed.append(ScheduledOperation(operation.key, number, operation.sequence, code, to_datetime(start), to_datetime(finish)))
            free_at[code] = finish
            finish_order(number, position + 1, finish)
        if candidates or queue:
            pending.add(code)
            heapq.heappush(events, (max(free_at[code], at), code))
    return Schedule(placed, {number: to_datetime(seconds) for number, seconds in finishes.items()}, unscheduled)
