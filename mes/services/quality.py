"""Inspections: plans per routing operation, their copy at release, results, and the gate.

Sampling rules (what "due" means), for a mandatory characteristic of the operation reported, with
``good`` the operation's good quantity once the report is recorded:

- ``first_piece``: sample 1 must have passed before the good quantity goes past 1.
- ``every_n``: sample k is the k·n-th good piece; it must have passed before the good quantity
  goes past k·n (one result per n good).
- ``per_report``: the k-th report of good needs a passing sample k: one result since the previous report.
- ``each_serial``: every serial the report puts out needs a passing result naming it; a report
  naming no serials (an operation before the last) needs one passing sample per good piece (sample
  k is the k-th piece).

A sample passes when any of its results passed; a failing one can be measured again. The gate
(``inspections_passed``) is a confirmation rule, so the single and bulk API, the station, the
machine counts and the assignment of unassigned production are all checked by it. It costs nothing
for an operation without mandatory characteristics (``WorkOrderOperation.inspection_gated``, read
with the operation) and one query otherwise.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from common.errors import DomainError, ErrorKind, unknown_reference
from common.fingerprints import request_fingerprint
from common.formatting import plain
from common.roles import may
from mes.models import (
    Employee,
    Equipment,
    InspectionCharacteristic,
    InspectionResult,
    Item,
    OrderCharacteristic,
    RoutingOperation,
    Status,
    UnitOfMeasure,
    WorkOrder,
    WorkOrderOperation,
)
from mes.services.audit import event_record
from mes.services.master_data import UpsertResult
from mes.services.nonconformances import nonconformance_open_for_result, rework_reinspected
from mes.services.quality_messages import inspection_result_queue
from mes.services.quality_stop import quality_stop_check
from mes.services.transitions import unknown_operation, work_order_lock

Sampling = InspectionCharacteristic.Sampling
Kind = InspectionCharacteristic.Kind
ZERO = Decimal(0)
PLAN_FIELDS = ("code", "name", "kind", "nominal", "lower_limit", "upper_limit", "unit_id", "sampling_rule", "sampling_n", "mandatory")


# --- plans ------------------------------------------------------------------------------------


def _plan_invalid(code: str, message: str, index: int, name: str, value: Any) -> DomainError:
    return DomainError(code, message, fields={f"characteristics[{index}].{name}": value})


def characteristic_check(*, index: int, spec: dict[str, Any], units: dict[str, UnitOfMeasure]) -> dict[str, Any]:
    """One characteristic as sent (the API's shape; ``units`` the known ones it may name), checked, as
    the model's fields. The API and the admin check alike with it."""
    code, kind = spec["code"], spec["kind"]
    limits = {name: spec.get(name) for name in ("lower_limit", "nominal", "upper_limit")}
    given = [(name, value) for name, value in limits.items() if value is not None]
    if kind == Kind.ATTRIBUTE and (given or spec.get("unit")):
        raise _plan_invalid(
            "limits_on_attribute",
            _("Characteristic %(code)s is an attribute (pass/fail): it takes no nominal, limits or unit.") % {"code": code},
            index, given[0][0] if given else "unit", "not for an attribute",
        )
    if kind == Kind.MEASURED and limits["lower_limit"] is None and limits["upper_limit"] is None:
        raise _plan_invalid(
            "limits_required",
            _("Characteristic %(code)s is measured: give a lower limit, an upper limit or both to judge values by.") % {"code": code},
            index, "upper_limit", "required",
        )
    ordered = [value for _name, value in given]
    if any(earlier > later for earlier, later in zip(ordered, ordered[1:])) or (
        limits["lower_limit"] is not None and limits["upper_limit"] is not None and limits["lower_limit"] >= limits["upper_limit"]
    ):
        raise _plan_invalid(
            "limits_not_ordered",
            _("Characteristic %(code)s: the limits must be ordered, lower limit < upper limit, with the nominal between them.")
            % {"code": code},
            index, "lower_limit", " <= ".join(f"{name} {value}" for name, value in given),
        )
    unit = None
    if spec.get("unit"):
        unit = units.get(spec["unit"])
        if unit is None:
            raise _plan_invalid(
                "unknown_unit", _("Unit of measure %(unit)s does not exist.") % {"unit": spec["unit"]}, index, "unit", spec["unit"]
            )
    sampling = spec["sampling"]
    rule, n = sampling["rule"], sampling.get("n")
    if rule == Sampling.EVERY_N and (n is None or n < 1):
        raise _plan_invalid(
            "invalid_sampling", _("Characteristic %(code)s: every_n needs n, a whole number of at least 1.") % {"code": code},
            index, "sampling.n", n if n is not None else "required",
        )
    if rule != Sampling.EVERY_N and n is not None:
        raise _plan_invalid(
            "invalid_sampling", _("Characteristic %(code)s: n belongs to every_n only, not to %(rule)s.") % {"code": code, "rule": rule},
            index, "sampling.n", n,
        )
    return {
        "position": index + 1, "code": code, "name": spec["name"], "kind": kind,
        "nominal": limits["nominal"], "lower_limit": limits["lower_limit"], "upper_limit": limits["upper_limit"],
        "unit_id": unit.pk if unit else None, "sampling_rule": rule, "sampling_n": n, "mandatory": spec["mandatory"],
    }


def _plan_plain(rows: list[dict[str, Any]], units: dict[int, str]) -> list[dict[str, Any]]:
    return [
        {name: (str(row[name]) if isinstance(row[name], Decimal) else row[name]) for name in PLAN_FIELDS if name != "unit_id"}
        | {"unit": units.get(row["unit_id"], "")}
        for row in rows
    ]


def routing_operation_check(*, item: Item, sequence: int) -> None:
    """Refuse (404 ``unknown_routing_operation``) a plan for an operation the item's routing does not have."""
    if not RoutingOperation.objects.filter(routing__item=item, sequence=sequence).exists():
        raise DomainError(
            "unknown_routing_operation",
            _("The routing of %(item)s has no operation %(sequence)s.") % {"item": item.code, "sequence": sequence},
            kind=ErrorKind.NOT_FOUND,
            fields={"sequence": str(sequence)},
        )


@transaction.atomic
def inspection_plan_set(*, item_code: str, sequence: int, characteristics: list[dict[str, Any]], actor: Any = None) -> UpsertResult:
    """Replace the inspection plan of an item's routing operation (idempotent; audited).

    ``created`` when the operation had no plan before. Released orders keep the plan they were
    released with. An empty list removes the plan.
    """
    item = Item.objects.filter(code=item_code).first()
    if item is None:
        raise unknown_reference("item", "item", item_code)
    routing_operation_check(item=item, sequence=sequence)
    codes = [spec["code"] for spec in characteristics]
    duplicate = next((code for index, code in enumerate(codes) if code in codes[:index]), None)
    if duplicate is not None:
        raise DomainError(
            "duplicate_characteristic",
            _("Characteristic code %(code)s appears twice in the plan.") % {"code": duplicate},
            fields={"characteristics": duplicate},
        )
    unit_codes = {spec["unit"] for spec in characteristics if spec.get("unit")}
    units = {unit.code: unit for unit in UnitOfMeasure.objects.filter(code__in=unit_codes)}
    wanted = [characteristic_check(index=index, spec=spec, units=units) for index, spec in enumerate(characteristics)]
    Item.objects.select_for_update().filter(pk=item.pk).first()  # one writer of an item's plans at a time
    current_rows = list(InspectionCharacteristic.objects.filter(item=item, sequence=sequence).order_by("position"))
    current = [{"position": row.position, **{name: getattr(row, name) for name in PLAN_FIELDS}} for row in current_rows]
    if current == wanted:
        return UpsertResult(current_rows, created=False, changed=False)
    InspectionCharacteristic.objects.filter(item=item, sequence=sequence).delete()
    rows = InspectionCharacteristic.objects.bulk_create(InspectionCharacteristic(item=item, sequence=sequence, **row) for row in wanted)
    unit_names = {unit.pk: unit.code for unit in units.values()} | {
        unit.pk: unit.code for unit in UnitOfMeasure.objects.filter(pk__in={row["unit_id"] for row in current if row["unit_id"]})
    }
    event_record(
        object_type="inspection_plan", object_key=f"{item_code}/{sequence}", action="update" if current else "create", actor=actor,
        before={"characteristics": _plan_plain(current, unit_names)} if current else None,
        after={"characteristics": _plan_plain(wanted, unit_names)},
    )
    return UpsertResult(rows, created=not current, changed=True)


def inspection_plans_copy(*, work_order: WorkOrder) -> int:
    """Copy the item's inspection plans into the order's operations just made at release, marking
    the operations a mandatory characteristic gates. Call holding the order's lock; one query when
    the item has no plan. Answers how many characteristics were copied."""
    plan = list(InspectionCharacteristic.objects.filter(item_id=work_order.item_id).order_by("sequence", "position"))
    if not plan:
        return 0
    operations = {operation.sequence: operation for operation in WorkOrderOperation.objects.filter(work_order=work_order)}
    copies = [
        OrderCharacteristic(operation=operations[row.sequence], position=row.position, **{name: getattr(row, name) for name in PLAN_FIELDS})
        for row in plan
        if row.sequence in operations
    ]
    OrderCharacteristic.objects.bulk_create(copies)
    gated = {row.sequence for row in plan if row.mandatory and row.sequence in operations}
    if gated:
        WorkOrderOperation.objects.filter(work_order=work_order, sequence__in=gated).update(inspection_gated=True)
    return len(copies)


# --- what is due ---------------------------------------------------------------------------------


class Samples:
    """The sample numbers that passed: all of 1…``contiguous_to``, and ``others`` beyond (samples
    recorded out of order), so a long run of results is held as one number."""

    def __init__(self, contiguous_to: int = 0, others: Iterable[int] = ()) -> None:
        self.contiguous_to = contiguous_to
        self.others: set[int] = set()
        for sample in others:
            self.add(sample)

    def add(self, sample: int) -> None:
        if sample > self.contiguous_to:
            self.others.add(sample)
        while self.contiguous_to + 1 in self.others:
            self.others.discard(self.contiguous_to + 1)
            self.contiguous_to += 1

    def __contains__(self, sample: int) -> bool:
        return 1 <= sample <= self.contiguous_to or sample in self.others

    def lowest_missing(self) -> int:
        """The lowest sample number that has not passed."""
        return self.contiguous_to + 1  # ``add`` keeps contiguous_to + 1 out of others

    def highest(self) -> int:
        return max(self.others, default=self.contiguous_to)


@dataclass
class CharacteristicState:
    """One characteristic of an operation and what has passed of it."""

    id: int
    code: str
    name: str
    rule: str
    n: int | None
    passed_samples: Samples = field(default_factory=Samples)
    passed_serials: set[str] = field(default_factory=set)  # of the serials a report names, when it names any


@dataclass(frozen=True)
class Due:
    """A sample a report of good cannot pass without: which, and why."""

    code: str
    name: str
    sample_no: int
    reason: str
    serial: str = ""


def _lowest_missing(passed: Samples, up_to: int) -> int | None:
    missing = passed.lowest_missing()
    return missing if missing <= up_to else None


def due_for(*, state: CharacteristicState, good_before: Decimal, good: Decimal, reports_before: int, serials: tuple[str, ...] = ()) -> Due | None:
    """The first sample of ``state`` that a report of ``good`` (on ``good_before`` already reported,
    after ``reports_before`` reports of good) would pass without a passing result; None if none."""
    after = good_before + good
    if state.rule == Sampling.FIRST_PIECE:
        if after > 1 and 1 not in state.passed_samples:
            return Due(state.code, state.name, 1, _("first piece: a pass is needed before more than 1 good"))
        return None
    if state.rule == Sampling.EVERY_N:
        n = state.n or 1
        missing = _lowest_missing(state.passed_samples, math.ceil(after / n) - 1)  # samples whose due point k·n < after
        if missing is not None:
            return Due(state.code, state.name, missing, _("every %(n)s good: sample %(sample)s is the piece %(piece)s")
                       % {"n": n, "sample": missing, "piece": missing * n})
        return None
    if state.rule == Sampling.PER_REPORT:
        sample = reports_before + 1
        if sample not in state.passed_samples:
            return Due(state.code, state.name, sample, _("per report: a pass is needed since the previous report"))
        return None
    if serials:
        serial = next((serial for serial in serials if serial not in state.passed_serials), None)
        if serial is not None:
            return Due(state.code, state.name, 0, _("each serial: serial %(serial)s has no pass") % {"serial": serial}, serial=serial)
        return None
    missing = _lowest_missing(state.passed_samples, math.ceil(after))
    if missing is not None:
        return Due(state.code, state.name, missing, _("each piece: piece %(sample)s has no pass") % {"sample": missing})
    return None


def next_sample(*, state: CharacteristicState, good: Decimal, reports: int) -> tuple[int, Decimal | None, bool, str]:
    """What is due next of ``state`` on an operation at ``good`` after ``reports`` reports: the sample
    number, the good quantity it is due at (None: at the next report), whether it is due now (the
    next report of good is refused without it), and why."""
    if state.rule == Sampling.FIRST_PIECE:
        if 1 in state.passed_samples:
            return 0, None, False, _("first piece passed")
        # Due from the start: the first piece is checked as it is made, before the first report.
        return 1, Decimal(1), True, _("first piece: a pass is needed before more than 1 good")
    if state.rule == Sampling.EVERY_N:
        n = state.n or 1
        sample = state.passed_samples.lowest_missing()
        due_at = Decimal(sample * n)
        return sample, due_at, good >= due_at, _("every %(n)s good: sample %(sample)s is the piece %(piece)s") % {
            "n": n, "sample": sample, "piece": sample * n,
        }
    if state.rule == Sampling.PER_REPORT:
        return reports + 1, None, reports + 1 not in state.passed_samples, _("per report: a pass is needed since the previous report")
    return state.passed_samples.lowest_missing(), None, True, _("each serial: every piece reported needs a pass")


# One row per characteristic: the passed samples as their count and highest number (1…n without a gap
# when they are equal; the numbers themselves are read only otherwise), and the operation's reports
# of good, counted once (an uncorrelated subquery) and only for a per_report characteristic.
_STATES_ROWS = """
SELECT c.id, c.code, c.name, c.sampling_rule, c.sampling_n, COUNT(DISTINCT r.sample_no) AS passed, MAX(r.sample_no) AS highest,
       CASE WHEN c.sampling_rule = 'per_report' THEN
         (SELECT COUNT(*) FROM mes_confirmation k WHERE k.operation_id = {operation} AND k.kind = 'confirmation' AND k.good_qty > 0)
       ELSE 0 END AS reports,
       c.position
FROM mes_ordercharacteristic c
LEFT JOIN mes_inspectionresult r ON r.characteristic_id = c.id AND r.passed = {passed}
WHERE c.operation_id = {operation} AND {which}
GROUP BY c.id, c.code, c.name, c.sampling_rule, c.sampling_n, c.position
"""
_MANDATORY_SQL = _STATES_ROWS.format(operation="%s", passed="%s", which="c.mandatory = %s") + "ORDER BY c.position"
_ONE_SQL = _STATES_ROWS.format(operation="%s", passed="%s", which="c.id = %s") + "ORDER BY c.position"


def characteristic_states_sql(*, operation: str) -> str:
    """``_MANDATORY_SQL``'s rows as one JSON array (PostgreSQL), for the operation whose id the SQL
    expression ``operation`` gives: read with the order's operations, the gate needs no statement
    of its own on a single report."""
    rows = _STATES_ROWS.format(operation=operation, passed="TRUE", which="c.mandatory")
    return (
        "(SELECT COALESCE(json_agg(json_build_array(s.id, s.code, s.name, s.sampling_rule, s.sampling_n, s.passed, "
        f"s.highest, s.reports) ORDER BY s.position), '[]'::json) FROM ({rows}) s)"
    )


def characteristic_states(*, operation_id: int, characteristic_id: int | None = None) -> tuple[list[CharacteristicState], int]:
    """The mandatory characteristics of an operation (or the one named) with what has passed of
    each, and how many reports of good it has had: one query (a second only for samples recorded
    out of order)."""
    sql, which = (_ONE_SQL, characteristic_id) if characteristic_id is not None else (_MANDATORY_SQL, True)
    with connection.cursor() as cursor:
        cursor.execute(sql, [operation_id, True, operation_id, which])
        return characteristic_states_of(rows=cursor.fetchall())


def characteristic_states_of(*, rows: Iterable[Sequence[Any]]) -> tuple[list[CharacteristicState], int]:
    """``characteristic_states`` from its query's rows (or ``characteristic_states_sql``'s array)."""
    states: list[CharacteristicState] = []
    gapped: dict[int, CharacteristicState] = {}
    reports = 0
    for row_id, code, name, rule, n, distinct, highest, count, *_position in rows:
        state = CharacteristicState(row_id, code, name, rule, n)
        states.append(state)
        reports = max(reports, count)
        if distinct and distinct == highest:
            state.passed_samples = Samples(contiguous_to=highest)
        elif distinct:
            gapped[row_id] = state
    if gapped:
        for row_id, sample_no in InspectionResult.objects.filter(characteristic_id__in=gapped, passed=True).values_list(
            "characteristic_id", "sample_no"
        ):
            gapped[row_id].passed_samples.add(sample_no)
    return states, reports


def _serials_passed(states: list[CharacteristicState], serials: tuple[str, ...]) -> None:
    """Fill in which of ``serials`` passed each each_serial characteristic: a query, only for a report naming serials."""
    by_id = {state.id: state for state in states if state.rule == Sampling.EACH_SERIAL}
    if not by_id or not serials:
        return
    for state in by_id.values():
        state.passed_serials = set()
    rows = InspectionResult.objects.filter(characteristic_id__in=by_id, passed=True, serial__in=serials)
    for row_id, serial in rows.values_list("characteristic_id", "serial"):
        by_id[row_id].passed_serials.add(serial)


@dataclass
class _GateMemory:
    """What the gate read of one operation, kept on the operation for the rest of a bulk call: the
    results do not change under the order's lock, and a report recorded since shows in the
    operation's good total."""

    states: list[CharacteristicState]
    reports: int
    good_seen: Decimal


def inspection_due(*, due: Due, operation: WorkOrderOperation, number: str) -> DomainError:
    fields = {"characteristic": due.code, "sample_no": due.serial or due.sample_no, "operation": operation.sequence}
    if due.serial:
        fields["serial"] = due.serial
    return DomainError(
        "inspection_due",
        _("Inspection due on operation %(sequence)04d of %(number)s: characteristic %(code)s (%(name)s), %(sample)s (%(reason)s). "
          "Record a passing result first.")
        % {
            "sequence": operation.sequence, "number": number, "code": due.code, "name": due.name,
            "sample": (_("serial %(serial)s") % {"serial": due.serial}) if due.serial else (_("sample %(sample)s") % {"sample": due.sample_no}),
            "reason": due.reason,
        },
        fields=fields,
    )


def inspections_passed(*, judgement: Any) -> None:
    """The confirmation rule: refuse (422 ``inspection_due``) a report that takes good quantity past
    a mandatory sampling point without a passing result. No query for an operation without mandatory
    characteristics; one, the first time, for one with (and one for a report naming serials when an
    each_serial characteristic asks for them)."""
    operation, request = judgement.operation, judgement.request
    if not operation.inspection_gated or request.good_qty <= 0:
        return
    memory = getattr(operation, "_inspection_gate", None)
    if memory is None:
        read = getattr(operation, "inspection_states", None)  # read with the operations (PostgreSQL, single report)
        states, reports = characteristic_states_of(rows=read) if read is not None else characteristic_states(operation_id=operation.pk)
        memory = operation._inspection_gate = _GateMemory(states, reports, operation.good_qty)
    elif operation.good_qty != memory.good_seen:  # a report of this bulk call was recorded since
        memory.reports += 1
        memory.good_seen = operation.good_qty
    _serials_passed(memory.states, request.serials)
    for state in memory.states:
        due = due_for(state=state, good_before=operation.good_qty, good=request.good_qty, reports_before=memory.reports, serials=request.serials)
        if due is not None:
            raise inspection_due(due=due, operation=operation, number=judgement.work_order.number)


def quality_hold_respected(*, judgement: Any) -> None:
    """The confirmation rule: refuse (409 ``quality_hold``) a report that would take into this operation
    pieces the previous one holds after a failed inspection (``held_qty``, until a disposition). Reads
    nothing: the held quantity comes with the operations."""
    previous = judgement.previous()
    if not previous:
        return
    before = max(previous, key=lambda candidate: candidate.sequence)
    if before.held_qty <= 0 or judgement.is_disposition:
        return
    request, operation = judgement.request, judgement.operation
    tolerance = 1 + settings.MES_OVER_DELIVERY_TOLERANCE_PERCENT / 100
    free = max(((before.good_qty - before.rejected_qty - before.held_qty) * tolerance).quantize(Decimal("0.001")), ZERO)
    requested = request.good_qty + request.scrap_qty + request.rework_qty
    if operation.confirmed_qty + requested <= free:
        return
    raise DomainError(
        "quality_hold",
        _(
            "Operation %(previous)04d holds %(held)s after a failed inspection, awaiting a disposition: operation "
            "%(sequence)04d can take at most %(remaining)s more of its %(good)s good."
        )
        % {
            "previous": before.sequence, "held": plain(quantity=before.held_qty), "sequence": operation.sequence,
            "remaining": plain(quantity=max(free - operation.confirmed_qty, ZERO)), "good": plain(quantity=before.good_qty),
        },
        kind=ErrorKind.CONFLICT,
        fields={"operation": str(before.sequence), "held_qty": plain(quantity=before.held_qty)},
    )


# --- results --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InspectionRequest:
    client_id: uuid.UUID
    work_order: str
    operation: int
    characteristic: str
    value: Decimal | None = None
    passed: bool | None = None
    sample_no: int | None = None
    serial: str = ""
    lot: str = ""
    inspector_badge: str = ""
    equipment: str = ""

    def fingerprint(self) -> str:
        """What makes two sends of one ``client_id`` "the same result": every field."""
        return request_fingerprint(self)


@dataclass
class InspectionOutcome:
    result: InspectionResult
    created: bool


def judged(*, characteristic: OrderCharacteristic, value: Decimal) -> bool:
    """Whether a measured value lies within the characteristic's limits (both inclusive)."""
    lower, upper = characteristic.lower_limit, characteristic.upper_limit
    return (lower is None or value >= lower) and (upper is None or value <= upper)


def _replay(existing: InspectionResult, request: InspectionRequest) -> InspectionOutcome:
    if existing.request_hash != request.fingerprint():
        raise DomainError(
            "client_id_conflict",
            _("client_id %(client_id)s was already used for a different inspection result.") % {"client_id": request.client_id},
            kind=ErrorKind.CONFLICT,
            fields={"client_id": str(request.client_id)},
        )
    return InspectionOutcome(existing, created=False)


def inspection_record(*, request: InspectionRequest, actor: Any = None) -> InspectionOutcome:
    """Record one result, judged by the server for a measured characteristic; a resend of a known
    ``client_id`` answers the original (200), with different content it is refused (409)."""
    try:
        with transaction.atomic():
            return _record_locked(request, actor)
    except (DomainError, IntegrityError):
        existing = InspectionResult.objects.filter(client_id=request.client_id).first()
        if existing is not None:
            return _replay(existing, request)
        raise


def _record_locked(request: InspectionRequest, actor: Any) -> InspectionOutcome:
    work_order = work_order_lock(number=request.work_order)  # results and reports of an order are judged one at a time
    existing = InspectionResult.objects.filter(client_id=request.client_id).first()
    if existing is not None:
        return _replay(existing, request)
    if work_order.status in {Status.PLANNED, Status.CLOSED, Status.CANCELLED}:
        raise DomainError(
            "work_order_not_inspectable",
            _("Work order %(number)s is %(status)s; results are recorded on released orders only.")
            % {"number": work_order.number, "status": Status(work_order.status).label},
            kind=ErrorKind.CONFLICT,
            fields={"work_order": work_order.status},
        )
    operation = WorkOrderOperation.objects.filter(work_order=work_order, sequence=request.operation).first()
    if operation is None:
        raise unknown_operation(number=work_order.number, sequence=request.operation)
    characteristic = OrderCharacteristic.objects.filter(operation=operation, code=request.characteristic).first()
    if characteristic is None:
        raise DomainError(
            "unknown_characteristic",
            _("Operation %(sequence)04d of %(number)s has no characteristic %(code)s.")
            % {"sequence": operation.sequence, "number": work_order.number, "code": request.characteristic},
            fields={"characteristic": request.characteristic},
        )
    passed = _passed(characteristic, request)
    inspector = _inspector(request.inspector_badge)
    equipment = _equipment(request.equipment)
    sample_no = request.sample_no or _sample_due(characteristic, operation)
    result = InspectionResult.objects.create(
        client_id=request.client_id, request_hash=request.fingerprint(), work_order=work_order, operation=operation,
        characteristic=characteristic, sample_no=sample_no, value=request.value, passed=passed, serial=request.serial,
        lot=request.lot, inspector=inspector, equipment=equipment,
        recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    if not passed:  # on hold until a disposition decides it
        WorkOrderOperation.objects.filter(pk=operation.pk).update(held_qty=F("held_qty") + result.quantity)
    event_record(
        object_type="inspection_result", object_key=str(result.uuid), action="record", actor=actor,
        actor_label=request.inspector_badge, work_order=work_order,
        after={
            "operation": operation.sequence, "characteristic": characteristic.code, "sample_no": sample_no,
            "value": str(request.value) if request.value is not None else None, "passed": passed, "serial": request.serial,
            "lot": request.lot, "client_id": str(request.client_id), "held_qty": str(result.quantity) if not passed else "0",
        },
    )
    inspection_result_queue(result=result, work_order=work_order)
    rework_reinspected(result=result, actor=actor, actor_label=request.inspector_badge)
    if not passed:
        nonconformance_open_for_result(result=result, actor=actor, actor_label=request.inspector_badge)
        quality_stop_check(work_order=work_order, operation_id=operation.pk, actor=actor, actor_label=request.inspector_badge)
    return InspectionOutcome(result, created=True)


def _passed(characteristic: OrderCharacteristic, request: InspectionRequest) -> bool:
    code = characteristic.code
    if request.value is not None and request.passed is not None:
        raise DomainError(
            "value_or_passed",
            _("Send either a measured value or passed, not both: the server judges a measured value."),
            fields={"passed": "not with value"},
        )
    if characteristic.kind == Kind.MEASURED:
        if request.value is None:
            raise DomainError(
                "value_required", _("Characteristic %(code)s is measured: send its value.") % {"code": code}, fields={"value": "required"}
            )
        return judged(characteristic=characteristic, value=request.value)
    if request.passed is None:
        raise DomainError(
            "passed_required", _("Characteristic %(code)s is pass/fail: send passed.") % {"code": code}, fields={"passed": "required"}
        )
    return request.passed


def inspector_check(*, actor: Any, badge: str) -> None:
    """Refuse (403 ``badge_not_bound``) a caller without ``inspection.record_for_anyone`` (an operator's
    token) naming an inspector other than the employee linked to its user."""
    if not badge or may(actor, "inspection.record_for_anyone"):
        return
    signed_in = getattr(actor, "is_authenticated", False)
    employee = getattr(actor, "employee", None) if signed_in else None
    own = employee.badge if employee is not None else ""
    if badge != own:
        raise DomainError(
            "badge_not_bound",
            _("%(user)s may record results only as the badge linked to it (%(badge)s), not as %(claimed)s.")
            % {"user": actor.get_username() if signed_in else "", "badge": own or _("none"), "claimed": badge},
            kind=ErrorKind.FORBIDDEN,
            fields={"inspector_badge": badge},
        )


def _inspector(badge: str) -> Employee | None:
    if not badge:
        return None
    inspector = Employee.objects.filter(badge=badge, is_active=True).first()
    if inspector is None:
        raise DomainError(
            "unknown_inspector", _("No active employee has badge %(badge)s.") % {"badge": badge}, fields={"inspector_badge": badge}
        )
    return inspector


def _equipment(code: str) -> Equipment | None:
    if not code:
        return None
    equipment = Equipment.objects.filter(code=code).first()
    if equipment is None:
        raise unknown_reference("equipment", "equipment", code)
    return equipment


def _sample_due(characteristic: OrderCharacteristic, operation: WorkOrderOperation) -> int:
    """The sample a result without a number is for: the one due next."""
    (state,), reports = characteristic_states(operation_id=operation.pk, characteristic_id=characteristic.pk)
    sample, _due_at, _now, _why = next_sample(state=state, good=operation.good_qty, reports=reports)
    return sample or state.passed_samples.highest() + 1
