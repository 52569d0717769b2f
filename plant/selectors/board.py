"""The progress board: active orders per line, plan against actual per operation, machines' states.

Plan to date. An order is planned to be made evenly between its release and the end of its
due date (midnight after ``due_date`` in the plant's time zone). By ``now`` it should therefore
have reached::

    plan_to_date = planned_qty × clamp((now − released_at) / (due_end − released_at), 0, 1)

and an operation's completion is ``good_qty / plan_to_date`` (100 % while nothing is due yet,
i.e. while the plan to date is below 0.001). Colours: green at 90 % or more, yellow from 50 % to below 90 %, red
below 50 %. A paused order's clock keeps running: the plan does not wait.

The plan to date is rounded half to even to the thousandth, the percentage half up to a whole
number, all in exact integers: quantities are read as thousandths and moments as microseconds
since 1970 (a board of a thousand orders spent a third of its time in Decimal arithmetic and in
Django's pure-Python time-zone-aware timestamp parsing).

Everything is read in a constant number of queries, however many orders and machines there are:
orders, their operations, their unsettled ERP messages, and the OEE selector's few for the
machines' states and current-shift OEE.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from django.db.models import Case, CharField, Count, Exists, Max, OuterRef, Subquery, Value, When
from django.utils import timezone

from common.sql_values import EpochMicros, Milli, from_micros, micros
from erp_sync.models import OutboxMessage
from erp_sync.outbox import SETTLED_STATES, UNSETTLED_BY_SEVERITY
from mes.models import Hold, Status, WorkOrder, WorkOrderOperation
from mes.selectors import progress
from mes.selectors.progress import AT_RISK, LATE, done_quantity, is_behind

ACTIVE = (Status.RELEASED, Status.IN_PROGRESS, Status.PAUSED)
NO_LINE = ""

# The ERP badge of an order: its worst message state, worst first.
SYNC_SEVERITY = UNSETTLED_BY_SEVERITY
SETTLED = SETTLED_STATES


def milli_decimal(value: int) -> Decimal:
    return Decimal(value).scaleb(-3)


def _in_units(attribute: str) -> property:
    """A read-only ``Decimal`` view of an attribute that counts thousandths."""
    return property(lambda self: milli_decimal(getattr(self, attribute)))


def due_end(due_date: datetime.date, zone: datetime.tzinfo | None = None) -> datetime.datetime:
    """The end of the due date in the plant's time zone: the order is on time until then."""
    return _midnight_after(due_date, zone or timezone.get_current_timezone())


@functools.lru_cache(maxsize=4096)  # a board has a few dozen due dates among a thousand orders
def _midnight_after(day: datetime.date, zone: datetime.tzinfo) -> datetime.datetime:
    return progress.due_end(day, zone)


@functools.lru_cache(maxsize=4096)
def _due_end_micros(day: datetime.date, zone: datetime.tzinfo) -> int:
    return micros(_midnight_after(day, zone))


def _share(released_us: int | None, end_us: int, now_us: int) -> tuple[int, int]:
    """The plan's share by ``now`` as an exact fraction (numerator, denominator) of whole microseconds."""
    if released_us is None:
        return 0, 1
    if end_us <= released_us or now_us >= end_us:
        return 1, 1
    if now_us <= released_us:
        return 0, 1
    return now_us - released_us, end_us - released_us


def planned_share(
    released_at: datetime.datetime | None, due_date: datetime.date, now: datetime.datetime, zone: datetime.tzinfo | None = None
) -> Decimal:
    """The share (0…1) of the order the plan expects done by ``now``, spread evenly from release to due end."""
    zone = zone or timezone.get_current_timezone()
    numerator, denominator = _share(None if released_at is None else micros(released_at), _due_end_micros(due_date, zone), micros(now))
    return Decimal(numerator) / Decimal(denominator)  # exact: a share of 0.9 is 0.9, not 0.900000000000000022


def _plan_milli(quantity_milli: int, numerator: int, denominator: int) -> int:
    """quantity × share to the thousandth, rounded half to even (as Decimal.quantize did), in exact integers."""
    quotient, remainder = divmod(quantity_milli * numerator, denominator)
    twice = 2 * remainder
    return quotient + 1 if twice > denominator or (twice == denominator and quotient & 1) else quotient


def _completion(good_milli: int, plan_milli: int) -> tuple[int, str]:
    """(whole percentage, rounded half up; colour) of good against the plan to date, in exact integers.

    Green at 90 % or more, yellow from 50 % to below 90 %, red below 50 %; 100 % while nothing is due.
    """
    if plan_milli <= 0:
        return 100, "green"
    percent = (200 * good_milli + plan_milli) // (2 * plan_milli)
    if 10 * good_milli >= 9 * plan_milli:
        return percent, "green"
    if 2 * good_milli >= plan_milli:
        return percent, "yellow"
    return percent, "red"


@dataclass(slots=True)
class BoardOperation:
    """Quantities in thousandths (``*_milli``, exact ints); the ``Decimal`` views are properties."""

    sequence: int
    name: str
    work_center: str
    status: str
    planned_milli: int
    good_milli: int
    scrap_milli: int
    plan_milli: int
    percent: int  # good against the plan to date, whole and rounded half up
    colour: str
    hold: str = ""  # "quality_stop" (stopped until quality releases it), "hold" (a quality hold), "" (none)

    planned_qty = _in_units("planned_milli")
    good_qty = _in_units("good_milli")
    scrap_qty = _in_units("scrap_milli")
    plan_to_date = _in_units("plan_milli")

    @property
    def completion(self) -> Decimal:
        return Decimal(self.good_milli) / Decimal(self.plan_milli) if self.plan_milli > 0 else Decimal(1)


@dataclass(slots=True)
class BoardOrder:
    """Quantities in thousandths and moments in microseconds since 1970 UTC; ``Decimal``/datetime views are properties."""

    number: str
    item_code: str
    item_name: str
    status: str
    quantity_milli: int
    due_date: datetime.date
    priority: int
    released_us: int | None
    plan_milli: int
    last_activity_us: int | None
    sync_state: str | None  # None: nothing was ever sent for it
    operations: list[BoardOperation] = field(default_factory=list)
    done_milli: int = 0  # the finished quantity: the good quantity of its last operation
    schedule: str = ""  # late, at_risk or "" (mes.selectors.progress)

    quantity = _in_units("quantity_milli")
    plan_to_date = _in_units("plan_milli")
    done = _in_units("done_milli")

    @property
    def remaining_milli(self) -> int:
        return max(self.quantity_milli - self.done_milli, 0)

    released_at = property(lambda self: from_micros(self.released_us))
    last_activity_at = property(lambda self: from_micros(self.last_activity_us))


@dataclass(slots=True)
class BoardMachine:
    line: str
    code: str
    name: str
    work_center: str
    state: str
    since: datetime.datetime | None
    oee: Decimal | None = None  # in the shift running now; None between shifts or without counts


@dataclass(slots=True)
class BoardLine:
    line: str
    orders: list[BoardOrder] = field(default_factory=list)
    machines: list[BoardMachine] = field(default_factory=list)


def _sync_badges() -> dict[str, str]:
    """Each active order's worst unsettled ERP message state (one query over the small unsettled index)."""
    rows = (
        OutboxMessage.objects.filter(partition_key__in=WorkOrder.objects.filter(status__in=ACTIVE).values("number"))
        .exclude(state__in=SETTLED)
        .order_by()
        .values_list("partition_key", "state")
        .annotate(n=Count("id"))
    )
    badges: dict[str, str] = {}
    for number, state, _count in rows:
        current = badges.get(number)
        if current is None or SYNC_SEVERITY.index(state) < SYNC_SEVERITY.index(current):
            badges[number] = state
    return badges


def _decimal(value: Fraction | None) -> Decimal | None:
    return None if value is None else Decimal(value.numerator) / Decimal(value.denominator)


def _machines(line: str | None, now: datetime.datetime) -> list[BoardMachine]:
    """Each machine's state now and its OEE in the current shift (the OEE selector: constant queries)."""
    from shopfloor.models import EquipmentState
    from shopfloor.oee import equipment_board_rows

    rows = equipment_board_rows(lines=[line] if line is not None else None, now=now)
    return [
        BoardMachine(
            line=row.line or NO_LINE,
            code=row.code,
            name=row.name,
            work_center=row.work_center,
            state=row.state or EquipmentState.State.UNKNOWN,
            since=row.state_since,
            oee=_decimal(row.shift_oee.total.oee()) if row.shift_oee is not None and row.shift_running else None,
        )
        for row in sorted(rows, key=lambda row: (row.line or "", row.code))
    ]


#: An operation's quality hold, read with it: a quality stop (until quality releases it), any other hold on it or its order, or none.
_HOLD = Case(
    When(Exists(Hold.objects.filter(operation=OuterRef("pk"), state=Hold.State.ACTIVE, cause=Hold.Cause.QUALITY_STOP)), then=Value("quality_stop")),
    When(on_quality_hold=True, then=Value("hold")),
    When(work_order__on_quality_hold=True, then=Value("hold")),
    default=Value(""),
    output_field=CharField(),
)


def board(*, line: str | None = None, now: datetime.datetime | None = None) -> list[BoardLine]:
    """Active orders grouped by the line of their operations' work centers, with each line's machines.

    An order whose operations span several lines shows under each, with that line's operations.
    ``line`` narrows the board to one line (a wall screen by a line). Rows are read as tuples, not
    model instances: a board of a thousand orders must render within a wall screen's poll.
    """
    now = now or timezone.now()
    zone = timezone.get_current_timezone()
    now_us = micros(now)
    # The last activity from a subquery per order (the operations' work-order index), not a join and
    # GROUP BY: grouping would compute every converted column once per operation instead of per order.
    last_activity = (
        WorkOrderOperation.objects.filter(work_order=OuterRef("pk")).order_by().values("work_order")
        .annotate(last=Max("last_activity_at")).values("last")
    )
    orders = (
        WorkOrder.objects.filter(status__in=ACTIVE)
        .annotate(quantity_milli=Milli("quantity"), released_us=EpochMicros("released_at"),
                  last_activity_us=EpochMicros(Subquery(last_activity)), done_milli=Milli(done_quantity()))
        .order_by("due_date", "priority", "number")
        .values_list("pk", "number", "item__code", "item__name", "status", "quantity_milli", "due_date", "priority",
                     "released_us", "last_activity_us", "done_milli")
    )
    operations = WorkOrderOperation.objects.filter(work_order__status__in=ACTIVE)
    if line is not None:
        operations = operations.filter(work_center__line=line)
    operations_of: dict[int, list[tuple]] = {}
    for row in (
        operations.annotate(planned_milli=Milli("planned_qty"), good_milli=Milli("good_qty"), scrap_milli=Milli("scrap_qty"), hold=_HOLD)
        .order_by("work_order_id", "sequence")
        .values_list("work_order_id", "sequence", "name", "work_center__code", "work_center__line", "status",
                     "planned_milli", "good_milli", "scrap_milli", "hold")
    ):
        operations_of.setdefault(row[0], []).append(row)
    badges = _sync_badges()
    lines: dict[str, BoardLine] = {}
    no_operations: list[tuple] = []
    for pk, number, item_code, item_name, status, quantity, due_date, priority, released_us, last_activity_us, done in orders:
        end_us = _due_end_micros(due_date, zone)
        numerator, denominator = _share(released_us, end_us, now_us)
        by_line: dict[str, list[BoardOperation]] = {}
        for _order, sequence, name, work_center, work_center_line, operation_status, planned, good, scrap, hold in operations_of.get(pk, no_operations):
            plan = _plan_milli(planned, numerator, denominator)
            percent, colour = _completion(good, plan)
            operation = BoardOperation(sequence, name, work_center, operation_status, planned, good, scrap, plan, percent, colour, hold)
            operations_on_line = by_line.get(work_center_line or NO_LINE)
            if operations_on_line is None:
                by_line[work_center_line or NO_LINE] = [operation]
            else:
                operations_on_line.append(operation)
        if not by_line:
            continue
        sync_state = badges.get(number, OutboxMessage.State.ACKNOWLEDGED if last_activity_us is not None else None)
        plan = _plan_milli(quantity, numerator, denominator)
        done = done or 0
        schedule = LATE if now_us >= end_us else AT_RISK if is_behind(done=done, plan_to_date=plan, unit=1000) else ""
        for line_name, line_operations in by_line.items():
            board_line = lines.get(line_name)
            if board_line is None:
                board_line = lines[line_name] = BoardLine(line_name)
            board_line.orders.append(
                BoardOrder(number, item_code, item_name, status, quantity, due_date, priority, released_us, plan,
                           last_activity_us, sync_state, line_operations, done, schedule)
            )
    for machine in _machines(line, now):
        lines.setdefault(machine.line, BoardLine(machine.line)).machines.append(machine)
    return sorted(lines.values(), key=lambda entry: (entry.line == NO_LINE, entry.line))
