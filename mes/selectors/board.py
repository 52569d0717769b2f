"""The progress board: active orders per line, plan against actual per operation, machines' states.

Plan to date. An order is planned to be made evenly between its release and the end of its
due date (midnight after ``due_date`` in the plant's time zone). By ``now`` it should therefore
have reached::

    plan_to_date = planned_qty × clamp((now − released_at) / (due_end − released_at), 0, 1)

and an operation's completion is ``good_qty / plan_to_date`` (100 % while nothing is due yet,
i.e. while the plan to date is below 0.001). Colours: green at 90 % or more, yellow from 50 % to below 90 %, red
below 50 %. A paused order's clock keeps running: the plan does not wait.

Everything is read in a constant number of queries, however many orders and machines there are
(four: orders, their operations, their unsettled ERP messages, machines with their open state).
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from django.db.models import Count, Max
from django.utils import timezone

from mes.models import Status, WorkOrder, WorkOrderOperation

ACTIVE = (Status.RELEASED, Status.IN_PROGRESS, Status.PAUSED)
GREEN_FROM = Decimal("0.90")
YELLOW_FROM = Decimal("0.50")
NO_LINE = ""
QUANTUM = Decimal("0.001")  # quantities are stored to three places; a plan finer than that is nothing yet

# The ERP badge of an order: its worst message state, worst first.
SYNC_SEVERITY = ("dead", "retrying", "sending", "queued")
SETTLED = ("acknowledged", "discarded")


def colour_of(completion: Decimal) -> str:
    if completion >= GREEN_FROM:
        return "green"
    if completion >= YELLOW_FROM:
        return "yellow"
    return "red"


def due_end(due_date: datetime.date, zone: datetime.tzinfo | None = None) -> datetime.datetime:
    """The end of the due date in the plant's time zone: the order is on time until then."""
    return _midnight_after(due_date, zone or timezone.get_current_timezone())


@functools.lru_cache(maxsize=4096)  # a board has a few dozen due dates among a thousand orders
def _midnight_after(day: datetime.date, zone: datetime.tzinfo) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time()), zone)


def planned_share(
    released_at: datetime.datetime | None, due_date: datetime.date, now: datetime.datetime, zone: datetime.tzinfo | None = None
) -> Decimal:
    """The share (0…1) of the order the plan expects done by ``now``, spread evenly from release to due end."""
    if released_at is None:
        return Decimal(0)
    end = due_end(due_date, zone)
    if end <= released_at or now >= end:
        return Decimal(1)
    if now <= released_at:
        return Decimal(0)
    microsecond = datetime.timedelta(microseconds=1)  # exact: a share of 0.9 is 0.9, not 0.900000000000000022
    return Decimal((now - released_at) // microsecond) / Decimal((end - released_at) // microsecond)


@dataclass(slots=True)
class BoardOperation:
    sequence: int
    name: str
    work_center: str
    status: str
    planned_qty: Decimal
    good_qty: Decimal
    scrap_qty: Decimal
    plan_to_date: Decimal
    completion: Decimal
    colour: str


@dataclass(slots=True)
class BoardOrder:
    number: str
    item_code: str
    item_name: str
    status: str
    quantity: Decimal
    due_date: datetime.date
    priority: int
    released_at: datetime.datetime | None
    plan_to_date: Decimal
    last_activity_at: datetime.datetime | None
    sync_state: str | None  # None: nothing was ever sent for it
    operations: list[BoardOperation] = field(default_factory=list)


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
    from erp_sync.models import OutboxMessage

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


def board(*, line: str | None = None, now: datetime.datetime | None = None) -> list[BoardLine]:
    """Active orders grouped by the line of their operations' work centers, with each line's machines.

    An order whose operations span several lines shows under each, with that line's operations.
    ``line`` narrows the board to one line (a wall screen by a line). Rows are read as tuples, not
    model instances: a board of a thousand orders must render within a wall screen's poll.
    """
    now = now or timezone.now()
    zone = timezone.get_current_timezone()
    orders = list(
        WorkOrder.objects.filter(status__in=ACTIVE)
        .annotate(last_activity_at=Max("operations__last_activity_at"))
        .order_by("due_date", "priority", "number")
        .values_list(
            "pk", "number", "item__code", "item__name", "status", "quantity", "due_date", "priority", "released_at", "last_activity_at"
        )
    )
    operations = WorkOrderOperation.objects.filter(work_order__status__in=ACTIVE)
    if line is not None:
        operations = operations.filter(work_center__line=line)
    operations_of: dict[int, list[tuple]] = {}
    for row in operations.order_by("work_order_id", "sequence").values_list(
        "work_order_id", "sequence", "name", "work_center__code", "work_center__line", "status",
        "planned_qty", "good_qty", "scrap_qty",
    ):
        operations_of.setdefault(row[0], []).append(row)
    badges = _sync_badges()
    lines: dict[str, BoardLine] = {}
    for pk, number, item_code, item_name, status, quantity, due_date, priority, released_at, last_activity in orders:
        share = planned_share(released_at, due_date, now, zone)
        rows = operations_of.get(pk, [])
        by_line: dict[str, list[BoardOperation]] = {}
        for _order, sequence, name, work_center, work_center_line, operation_status, planned, good, scrap in rows:
            plan = (planned * share).quantize(QUANTUM)
            completion = good / plan if plan > 0 else Decimal(1)
            by_line.setdefault(work_center_line or NO_LINE, []).append(
                BoardOperation(
                    sequence=sequence, name=name, work_center=work_center, status=operation_status, planned_qty=planned,
                    good_qty=good, scrap_qty=scrap, plan_to_date=plan, completion=completion, colour=colour_of(completion),
                )
            )
        for line_name, line_operations in by_line.items():
            lines.setdefault(line_name, BoardLine(line_name)).orders.append(
                BoardOrder(
                    number=number, item_code=item_code, item_name=item_name, status=status, quantity=quantity,
                    due_date=due_date, priority=priority, released_at=released_at,
                    plan_to_date=(quantity * share).quantize(QUANTUM), last_activity_at=last_activity,
                    sync_state=badges.get(number, "acknowledged" if last_activity else None), operations=line_operations,
                )
            )
    for machine in _machines(line, now):
        lines.setdefault(machine.line, BoardLine(machine.line)).machines.append(machine)
    return sorted(lines.values(), key=lambda entry: (entry.line == NO_LINE, entry.line))
