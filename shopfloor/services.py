"""Writes of the shop floor: machine signal mappings, operations on machines, downtime reasons, shifts,
unassigned production."""

from __future__ import annotations

import asyncio
import datetime
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from common.crypto import SecretMustBeReentered, unreadable_paths
from common.errors import DomainError, ErrorKind
from common.masking import NothingStoredToKeep, masked, unmasked
from mes.models import Equipment, ReasonCode, Status, WorkCenter, WorkOrderOperation
from mes.services.audit import event_record
from mes.services.confirmations import ConfirmationRequest, operation_confirm
from mes.services.reschedule import reschedule_after_commit
from mes.services.transitions import (
    operation_start_locked,
    work_order_lock,
)
from shopfloor.devices.base import DeviceUnavailable, read_once
from shopfloor.devices.config import DeviceConfigError, parse_device_config
from shopfloor.devices.networks import device_host_refusal
from shopfloor.models import (
    WEEKDAYS,
    DeviceMapping,
    EquipmentAssignment,
    EquipmentState,
    Shift,
    UnassignedProduction,
)
from shopfloor.production import scrap_reason_default
from shopfloor.selectors import equipment_run_minutes
from shopfloor.shift_calendar import ShiftRule, overlaps

logger = logging.getLogger(__name__)


def _unknown_equipment(code: str) -> DomainError:
    return DomainError("unknown_equipment", _("No equipment with code %(code)s.") % {"code": code}, kind=ErrorKind.NOT_FOUND)


def _equipment(code: str) -> Equipment:
    try:
        return Equipment.objects.get(code=code)
    except Equipment.DoesNotExist:
        raise _unknown_equipment(code) from None


def _no_mapping(equipment_code: str) -> DomainError:
    return DomainError(
        "no_mapping", _("Equipment %(code)s has no signal mapping yet.") % {"code": equipment_code}, kind=ErrorKind.NOT_FOUND
    )


def validated_mapping(*, config: Any) -> dict[str, Any]:
    """The mapping in its normal form, or a refusal naming every bad field."""
    try:
        return parse_device_config(config).to_json()
    except DeviceConfigError as error:
        raise DomainError(
            "invalid_mapping",
            _("The signal mapping is not valid: %(problems)s") % {"problems": str(error)},
            fields={path: "; ".join(messages) for path, messages in error.as_dict().items()},
        ) from None


def device_host_check(*, config: dict[str, Any]) -> None:
    """Refuse a (valid) mapping whose host resolves to any address outside ``MES_DEVICE_NETWORKS``,
    or to a link-local one (never allowed). Resolves host names, so it may wait on DNS."""
    refusal = device_host_refusal(parse_device_config(config), settings.MES_DEVICE_NETWORKS)
    if refusal is None:
        return
    if refusal.is_unresolved:
        message = _("The host %(host)s cannot be resolved to an address.") % {"host": refusal.host}
    elif refusal.is_link_local:
        message = _("The host %(host)s is a link-local address (%(address)s); machines are never read there.") % {
            "host": refusal.host, "address": refusal.address,
        }
    else:
        message = _("The host %(host)s (%(address)s) is outside the networks machines may be read in (MES_DEVICE_NETWORKS: %(networks)s).") % {
            "host": refusal.host, "address": refusal.address, "networks": ", ".join(settings.MES_DEVICE_NETWORKS),
        }
    raise DomainError("device_host_not_allowed", message, fields={refusal.field: message})


@transaction.atomic
def equipment_signals_set(*, equipment_code: str, config: Any, actor: Any = None) -> tuple[DeviceMapping, bool]:
    """Store where a machine's good count, scrap count, running state and alarm come from.

    The host must be inside ``MES_DEVICE_NETWORKS`` (``device_host_check``).
    """
    equipment = _equipment(equipment_code)
    mapping = DeviceMapping.objects.select_for_update().filter(equipment=equipment).first()
    normal = validated_mapping(config=secrets_kept(config=config, stored=mapping.config if mapping is not None else None))
    device_host_check(config=normal)
    if mapping is not None and mapping.config == normal:
        return mapping, False
    before = mapping.config if mapping is not None else None
    created = mapping is None
    if created:
        mapping = DeviceMapping(equipment=equipment)
    mapping.protocol = normal["protocol"]
    mapping.config = normal
    mapping.save()
    event_record(
        object_type="device_mapping", object_key=equipment_code, action="create" if created else "update",
        actor=actor, before=before, after=normal,
    )
    return mapping, created


@transaction.atomic
def equipment_collection_set(*, equipment_code: str, is_enabled: bool, actor: Any = None) -> DeviceMapping:
    """Have the collector read the machine's mapping or leave it alone (the mapping stays as it is)."""
    mapping = DeviceMapping.objects.select_for_update().filter(equipment=_equipment(equipment_code)).first()
    if mapping is None:
        raise _no_mapping(equipment_code)
    if mapping.is_enabled == is_enabled:
        return mapping
    mapping.is_enabled = is_enabled
    mapping.save(update_fields=["is_enabled", "updated_at"])
    event_record(
        object_type="device_mapping", object_key=equipment_code, action="update", actor=actor,
        before={"is_enabled": not is_enabled}, after={"is_enabled": is_enabled},
    )
    return mapping


def equipment_signals_public(*, config: dict[str, Any]) -> dict[str, Any]:
    """A mapping as the API shows it: a device password (any secret) only as "***" (send "***" back to keep it)."""
    return masked(config)


def secrets_kept(*, config: Any, stored: dict[str, Any] | None) -> Any:
    """The mapping with every secret written back as "***" replaced by the stored one; refused where none is stored."""
    try:
        return unmasked(config, stored or {})
    except NothingStoredToKeep as error:
        raise DomainError(
            "invalid_mapping",
            _("The password \"***\" keeps the stored one, but this machine has none stored; send the password itself."),
            fields={error.path: "nothing stored to keep"},
        ) from None


def equipment_signals_get(*, equipment_code: str) -> DeviceMapping:
    mapping = DeviceMapping.objects.select_related("equipment").filter(equipment__code=equipment_code).first()
    if mapping is None:
        _equipment(equipment_code)  # unknown equipment first
        raise _no_mapping(equipment_code)
    return mapping


def equipment_signals_test(*, equipment_code: str) -> dict[str, Any]:
    """Read the machine once with its stored mapping: the live values, or that it did not answer.

    A host outside ``MES_DEVICE_NETWORKS`` is refused before any connection. Whatever went wrong
    with the connection, the answer is the same sentence (no telling a closed port from an open one
    that speaks another protocol); the detail goes to the server log.
    """
    mapping = equipment_signals_get(equipment_code=equipment_code)
    unreadable = unreadable_paths(mapping.config)
    if unreadable:
        problem = SecretMustBeReentered(f"the mapping of {equipment_code}", unreadable)
        return {"equipment": equipment_code, "reachable": False, "error": problem.message, "values": {}, "errors": {}}
    device_host_check(config=mapping.config)
    try:
        snapshot = asyncio.run(read_once(mapping.config))
    except DeviceUnavailable as error:
        logger.warning("Test read of %s failed: %s", equipment_code, error)
        message = _("The machine did not answer the test read. Check its address, port and mapping; the server log has the details.")
        return {"equipment": equipment_code, "reachable": False, "error": message, "values": {}, "errors": {}}
    return {
        "equipment": equipment_code,
        "reachable": True,
        "read_at": snapshot.read_at,
        "values": dict(snapshot.values),
        "errors": dict(snapshot.errors),
    }


# --- which operation runs on which machine ----------------------------------------------


def _operation_locked(number: str, sequence: int):
    """Lock the order (every writer's first lock) and find its operation."""
    work_order = work_order_lock(number=number)
    operation = WorkOrderOperation.objects.filter(work_order=work_order, sequence=sequence).first()
    if operation is None:
        raise DomainError(
            "unknown_operation",
            _("Work order %(number)s has no operation %(sequence)s.") % {"number": number, "sequence": sequence},
            kind=ErrorKind.NOT_FOUND,
            fields={"sequence": str(sequence)},
        )
    return work_order, operation


def operation_check_startable(*, operation: WorkOrderOperation, number: str) -> None:
    """Refuse to start an operation that is neither released nor running (paused, completed, …)."""
    if operation.status not in {Status.RELEASED, Status.IN_PROGRESS}:
        raise DomainError(
            "operation_not_open",
            _("Operation %(sequence)04d of %(number)s is %(status)s; only released or running operations can start.")
            % {"sequence": operation.sequence, "number": number, "status": Status(operation.status).label},
            kind=ErrorKind.CONFLICT,
        )


@transaction.atomic
def operation_start_on_equipment(
    *, number: str, sequence: int, equipment_code: str, actor: Any = None, actor_label: str = ""
) -> EquipmentAssignment:
    """Start an operation on a machine: from now on the machine's counts are confirmed on it.

    A released operation (and its order) moves to in progress; a machine that was running
    another operation stops it (one running operation per machine). Starting the same
    operation on the same machine again changes nothing.
    """
    equipment = _equipment(equipment_code)
    work_order, operation = _operation_locked(number, sequence)
    operation_check_startable(operation=operation, number=number)
    running = EquipmentAssignment.objects.select_for_update().filter(equipment=equipment, ended_at__isnull=True).first()
    if running is not None and running.operation_id == operation.pk:
        return running
    label = actor_label or getattr(actor, "username", "")
    operation_start_locked(operation=operation, work_order=work_order, actor=actor, actor_label=label)
    now = timezone.now()
    if running is not None:
        running.ended_at = now
        running.save(update_fields=["ended_at"])
    assignment = EquipmentAssignment.objects.create(equipment=equipment, operation=operation, started_at=now, started_by=label)
    event_record(
        object_type="equipment", object_key=equipment_code, action="start_operation", actor=actor, actor_label=label, work_order=work_order,
        before={"operation": f"{running.operation.work_order.number}/{running.operation.sequence}"} if running else None,
        after={"operation": f"{number}/{sequence}"},
    )
    return assignment


@transaction.atomic
def operation_stop_on_equipment(
    *, number: str, sequence: int, equipment_code: str | None = None, actor: Any = None, actor_label: str = ""
) -> int:
    """Stop counting a machine's output on an operation (on one machine, or on every machine it runs on)."""
    work_order, operation = _operation_locked(number, sequence)
    running = EquipmentAssignment.objects.select_for_update().filter(operation=operation, ended_at__isnull=True)
    if equipment_code:
        running = running.filter(equipment=_equipment(equipment_code))
    stopped = list(running.select_related("equipment"))
    now = timezone.now()
    for assignment in stopped:
        assignment.ended_at = now
        assignment.save(update_fields=["ended_at"])
        event_record(
            object_type="equipment", object_key=assignment.equipment.code, action="stop_operation", actor=actor,
            actor_label=actor_label, work_order=work_order, before={"operation": f"{number}/{sequence}"}, after=None,
        )
    return len(stopped)


# --- why a machine stood still ----------------------------------------------------------


@transaction.atomic
def downtime_reason_set(*, state_id: int, reason_code: str, actor: Any = None, actor_label: str = "") -> EquipmentState:
    """Record why a machine was down or idle (a downtime or pause reason code), audited.

    Giving the same reason again changes nothing; a different reason replaces the earlier one.
    """
    state = EquipmentState.objects.select_for_update().select_related("equipment").filter(pk=state_id).first()
    if state is None:
        raise DomainError(
            "unknown_state", _("No machine state interval %(id)s.") % {"id": state_id}, kind=ErrorKind.NOT_FOUND
        )
    if state.state not in (EquipmentState.State.DOWN, EquipmentState.State.IDLE):
        raise DomainError(
            "not_downtime",
            _("Equipment %(code)s was running in that interval; only downtime takes a reason.")
            % {"code": state.equipment.code},
            fields={"state": state.state},
        )
    reason = ReasonCode.objects.filter(code=reason_code).first()
    if reason is None:
        raise DomainError(
            "unknown_reason_code", _("No reason code %(code)s.") % {"code": reason_code}, fields={"reason_code": reason_code}
        )
    if reason.kind not in (ReasonCode.Kind.DOWNTIME, ReasonCode.Kind.PAUSE):
        raise DomainError(
            "wrong_reason_kind",
            _("Reason code %(code)s is a %(kind)s reason, not a downtime reason.")
            % {"code": reason.code, "kind": reason.get_kind_display()},
            fields={"reason_code": reason_code},
        )
    if state.reason_code_id == reason.pk:
        return state
    before = {"reason_code": state.reason_code.code if state.reason_code_id else None}
    state.reason_code = reason
    state.reason_by = actor_label or (actor.get_username() if getattr(actor, "is_authenticated", False) else "")
    state.reason_at = timezone.now()
    state.save(update_fields=["reason_code", "reason_by", "reason_at"])
    event_record(
        object_type="equipment_state", object_key=f"{state.equipment.code}/{state.pk}", action="downtime_reason",
        actor=actor, actor_label=actor_label, before=before, after={"reason_code": reason.code},
    )
    return state


# --- the equipment calendar ---------------------------------------------------------------


@dataclass(frozen=True)
class ShiftSpec:
    """One shift as a caller gives it: ``ShiftSpec("早班 Early", time(6), time(14), "123456")``."""

    name: str
    start_time: datetime.time
    end_time: datetime.time
    weekdays: str = "12345"


def shifts_validate(*, shifts: list[ShiftSpec]) -> None:
    """Refuse unnamed, doubly named or overlapping shifts, or weekdays other than the digits 1–7."""
    names = [spec.name.strip() for spec in shifts]
    if any(not name or len(name) > 64 for name in names):
        raise DomainError("invalid_shift", _("Every shift needs a name of at most 64 characters."), fields={"name": "required"})
    if len(set(names)) != len(names):
        raise DomainError("duplicate_shift", _("Two shifts have the same name."), fields={"name": "duplicate"})
    for spec in shifts:
        if not spec.weekdays or any(day not in WEEKDAYS for day in spec.weekdays) or len(set(spec.weekdays)) != len(spec.weekdays):
            raise DomainError(
                "invalid_weekdays",
                _("Weekdays of shift %(name)s must be digits 1 (Monday) to 7 (Sunday), each once, not %(weekdays)r.")
                % {"name": spec.name, "weekdays": spec.weekdays},
                fields={"weekdays": spec.weekdays},
            )
    clashes = overlaps([ShiftRule(spec.name, spec.start_time, spec.end_time, frozenset(map(int, spec.weekdays))) for spec in shifts])
    if clashes:
        first, second = clashes[0]
        raise DomainError(
            "overlapping_shifts",
            _("Shifts %(first)s and %(second)s overlap: their hours would count twice.") % {"first": first, "second": second},
            fields={"shifts": f"{first}, {second}"},
        )


def _shift_json(shift: Shift | ShiftSpec) -> dict[str, str]:
    return {
        "name": shift.name.strip(),
        "start_time": shift.start_time.strftime("%H:%M"),
        "end_time": shift.end_time.strftime("%H:%M"),
        "weekdays": "".join(sorted(shift.weekdays)),
    }


@dataclass(frozen=True)
class _ShiftOwner:
    """The work center or the machine whose shifts these are, locked for the transaction."""

    work_center: WorkCenter | None
    equipment: Equipment | None

    @classmethod
    def locked(cls, *, work_center_code: str, equipment_code: str) -> _ShiftOwner:
        """Lock the owner's row: its shifts are judged together, so two writers take turns. (A no-key
        lock: rows that merely refer to the machine or work center, such as its states, are not held up.)"""
        if bool(work_center_code) == bool(equipment_code):
            raise DomainError("invalid_shift_owner", _("Name a work center or a machine, not both."), fields={"owner": "one"})
        if equipment_code:
            machine = Equipment.objects.select_for_update(no_key=True).filter(code=equipment_code).first()
            if machine is None:
                raise _unknown_equipment(equipment_code)
            return cls(None, machine)
        center = WorkCenter.objects.select_for_update(no_key=True).filter(code=work_center_code).first()
        if center is None:
            raise DomainError(
                "unknown_work_center", _("No work center with code %(code)s.") % {"code": work_center_code},
                kind=ErrorKind.NOT_FOUND,
            )
        return cls(center, None)

    @property
    def filter(self) -> dict[str, Any]:
        return {"work_center": self.work_center} if self.work_center is not None else {"equipment": self.equipment}

    @property
    def code(self) -> str:
        return (self.work_center or self.equipment).code

    def shifts(self) -> list[Shift]:
        return list(Shift.objects.filter(**self.filter).order_by("start_time", "name"))


def _shift_changes(shift: Shift, spec: ShiftSpec) -> list[str]:
    """The fields of ``shift`` that ``spec`` changes, set on it (not saved)."""
    wanted = {
        "name": spec.name.strip(), "start_time": spec.start_time, "end_time": spec.end_time,
        "weekdays": "".join(sorted(spec.weekdays)),
    }
    changes = [name for name, value in wanted.items() if getattr(shift, name) != value]
    for name in changes:
        setattr(shift, name, wanted[name])
    return changes


@transaction.atomic
def shifts_set(
    *, shifts: list[ShiftSpec], work_center_code: str = "", equipment_code: str = "", actor: Any = None
) -> list[Shift]:
    """Set the shifts of a work center (or of one machine, overriding its work center's), audited.

    A shift is known by its name: one named again is changed in place (it keeps its id), one not
    named any more is removed, a new name is added. Setting the same shifts again changes nothing;
    an empty list removes them (the machine then follows its work center's shifts, or is planned
    all day).
    """
    owner = _ShiftOwner.locked(work_center_code=work_center_code, equipment_code=equipment_code)
    shifts_validate(shifts=shifts)
    current = {shift.name: shift for shift in owner.shifts()}
    before = sorted((_shift_json(shift) for shift in current.values()), key=lambda entry: (entry["start_time"], entry["name"]))
    after = sorted((_shift_json(spec) for spec in shifts), key=lambda entry: (entry["start_time"], entry["name"]))
    if before == after:
        return list(current.values())
    wanted = {spec.name.strip(): spec for spec in shifts}
    Shift.objects.filter(pk__in=[shift.pk for name, shift in current.items() if name not in wanted]).delete()
    written = []
    for name, spec in wanted.items():
        shift = current.get(name) or Shift(**owner.filter)
        changes = _shift_changes(shift, spec)
        if shift.pk is None:
            shift.save()
        elif changes:
            shift.save(update_fields=changes)
        written.append(shift)
    object_type = "work_center" if owner.work_center is not None else "equipment"
    event_record(object_type=object_type, object_key=owner.code, action="shifts_set", actor=actor, before={"shifts": before}, after={"shifts": after})
    reschedule_after_commit()  # the calendar the schedule runs through changed
    return written


# One shift at a time (the admin's page): judged with the owner's other shifts, recorded as a
# change of that shift.


def _shift_record(shift: Shift) -> dict[str, Any]:
    """A shift as its events show it."""
    return {
        "work_center": shift.work_center.code if shift.work_center_id else None,
        "equipment": shift.equipment.code if shift.equipment_id else None,
        "name": shift.name,
        "start_time": shift.start_time.isoformat(),
        "end_time": shift.end_time.isoformat(),
        "weekdays": shift.weekdays,
    }


def _shift_key(shift: Shift) -> str:
    return f"{(shift.work_center or shift.equipment).code}/{shift.name}"


def _shift_judged(owner: _ShiftOwner, shift_id: int | None, spec: ShiftSpec) -> None:
    """Refuse ``spec`` if, with the owner's other shifts, it is unnamed, doubly named or overlaps."""
    others = [
        ShiftSpec(other.name, other.start_time, other.end_time, other.weekdays)
        for other in owner.shifts()
        if other.pk != shift_id
    ]
    shifts_validate(shifts=[*others, spec])


@transaction.atomic
def shift_check(*, spec: ShiftSpec, work_center_code: str = "", equipment_code: str = "", shift_id: int | None = None) -> None:
    """The refusals ``shift_save`` would give, without saving: for a form to show them on the page."""
    _shift_judged(_ShiftOwner.locked(work_center_code=work_center_code, equipment_code=equipment_code), shift_id, spec)


@transaction.atomic
def shift_save(
    *, spec: ShiftSpec, work_center_code: str = "", equipment_code: str = "", shift_id: int | None = None, actor: Any = None
) -> Shift:
    """Add a shift, or change the shift ``shift_id`` in place (it may move to another owner), audited.

    Refused like ``shifts_set`` if, with the owner's other shifts, it is unnamed, doubly named or
    overlaps one of them. Saving it unchanged records nothing.
    """
    owner = _ShiftOwner.locked(work_center_code=work_center_code, equipment_code=equipment_code)
    shift = Shift(**owner.filter)
    before = None
    if shift_id is not None:
        shift = Shift.objects.select_for_update(of=("self",)).select_related("work_center", "equipment").filter(pk=shift_id).first()
        if shift is None:
            raise DomainError("unknown_shift", _("No shift %(id)s.") % {"id": shift_id}, kind=ErrorKind.NOT_FOUND)
        before = _shift_record(shift)
    _shift_judged(owner, shift_id, spec)
    changes = _shift_changes(shift, spec)
    if (shift.work_center_id, shift.equipment_id) != (getattr(owner.work_center, "pk", None), getattr(owner.equipment, "pk", None)):
        shift.work_center, shift.equipment = owner.work_center, owner.equipment
        changes += ["work_center", "equipment"]
    if before is None:
        shift.save()
    elif changes:
        shift.save(update_fields=changes)
    else:
        return shift
    event_record(
        object_type="shift", object_key=_shift_key(shift), action="update" if before else "create", actor=actor,
        before=before, after=_shift_record(shift),
    )
    reschedule_after_commit()
    return shift


@transaction.atomic
def shift_delete(*, shift_id: int, actor: Any = None) -> None:
    """Remove a shift, audited; one already gone is left so."""
    shift = Shift.objects.select_for_update(of=("self",)).select_related("work_center", "equipment").filter(pk=shift_id).first()
    if shift is None:
        return
    event_record(object_type="shift", object_key=_shift_key(shift), action="delete", actor=actor, before=_shift_record(shift), after=None)
    shift.delete()
    reschedule_after_commit()


# --- unassigned production ----------------------------------------------------------------

# Never change: confirmations already recorded carry client ids derived from it.
UNASSIGNED_NAMESPACE = uuid.UUID("9a4e2c71-5b3d-4f08-a6c2-1e7d9b3f5a24")


def _unassigned_locked(row_id: int) -> UnassignedProduction:
    row = (
        UnassignedProduction.objects.select_for_update(of=("self",))
        .select_related("equipment", "confirmation__operation__work_order")
        .filter(pk=row_id)
        .first()
    )
    if row is None:
        raise DomainError(
            "unknown_unassigned_production", _("No unassigned production %(id)s.") % {"id": row_id}, kind=ErrorKind.NOT_FOUND
        )
    return row


def _already_resolved(row: UnassignedProduction) -> DomainError:
    return DomainError(
        "already_resolved",
        _("These counts of %(code)s were already %(resolution)s.") % {"code": row.equipment.code, "resolution": row.get_resolution_display()},
        kind=ErrorKind.CONFLICT,
    )


def _actor_label(actor: Any) -> str:
    return actor.get_username() if getattr(actor, "is_authenticated", False) else ""


@transaction.atomic
def unassigned_production_assign(
    *, row_id: int, work_order: str, sequence: int, scrap_reason_code: str = "", actor: Any = None
) -> UnassignedProduction:
    """Confirm counts no operation took on the operation named, as of the end of their window, audited.

    The confirmation goes through the confirmation service (its rules, its ERP message) with a
    client id derived from the row, so assigning twice confirms once. Scrap takes
    ``scrap_reason_code``, else the collector's scrap reason; its machine minutes are the machine's run
    time in the window. A refused confirmation changes nothing.
    """
    row = _unassigned_locked(row_id)
    if row.resolution == UnassignedProduction.Resolution.ASSIGNED:
        operation = row.confirmation.operation
        if (operation.work_order.number, operation.sequence) == (work_order, sequence):
            return row
        raise _already_resolved(row)
    if row.resolution:
        raise _already_resolved(row)
    reason = (scrap_reason_code or scrap_reason_default()) if row.scrap else ""
    result = operation_confirm(
        request=ConfirmationRequest(
            client_id=uuid.uuid5(UNASSIGNED_NAMESPACE, str(row.pk)),
            work_order=work_order,
            operation=sequence,
            good_qty=Decimal(row.good),
            scrap_qty=Decimal(row.scrap),
            reason_code=reason,
            station=row.equipment.code,
            machine_minutes=equipment_run_minutes(equipment_id=row.equipment_id, since=row.window_start, until=row.window_end),
            confirmed_at=row.window_end,
        ),
        actor=actor,
    )
    row.resolution = UnassignedProduction.Resolution.ASSIGNED
    row.resolved_at = timezone.now()
    row.resolved_by = _actor_label(actor)
    row.resolution_note = f"{work_order}/{sequence}"
    row.confirmation = result.confirmation
    row.save(update_fields=["resolution", "resolved_at", "resolved_by", "resolution_note", "confirmation"])
    event_record(
        object_type="unassigned_production", object_key=f"{row.equipment.code}/{row.pk}", action="assign", actor=actor,
        work_order=result.confirmation.work_order, before={"resolution": None},
        after={"resolution": row.resolution, "operation": row.resolution_note, "confirmation": str(result.confirmation.uuid)},
    )
    return row


#: The refusal under which the collector keeps a window's counts that passed a sampling point of an
#: inspection (``mes.services.quality``): they are confirmed once the result is in.
INSPECTION_DUE = "inspection_due"


def inspection_held_confirm(*, work_centers: Iterable[str] = ()) -> list[UnassignedProduction]:
    """Confirm the machine counts kept because an inspection was due, on the operation that refused
    them, oldest window first, each in its own transaction. An operation still refused keeps its
    remaining windows for the next call; a window refused now for another reason takes that reason and
    is left to a supervisor. Cheap when there are none (one query)."""
    rows = UnassignedProduction.objects.filter(reason=INSPECTION_DUE, resolved_at__isnull=True, operation__isnull=False)
    centers = list(work_centers)
    if centers:
        rows = rows.filter(equipment__work_center__code__in=centers)
    confirmed, refused_operations = [], set()
    for row in rows.select_related("operation__work_order").order_by("window_start", "pk"):
        if row.operation_id in refused_operations:
            continue
        try:
            confirmed.append(
                unassigned_production_assign(row_id=row.pk, work_order=row.operation.work_order.number, sequence=row.operation.sequence)
            )
        except DomainError as error:
            refused_operations.add(row.operation_id)
            # Asked again at every poll until the result is in: the page of unassigned production shows
            # the kept counts, so the log says it only at debug level instead of once a second.
            logger.debug("%s: counts of %s still kept (%s)", row.equipment_id, row.window_start.isoformat(), error.code)
            if error.code != INSPECTION_DUE:  # refused for another reason now: a supervisor's to resolve, not retried
                UnassignedProduction.objects.filter(pk=row.pk, resolved_at__isnull=True).update(reason=error.code, detail=error.message[:500])
    return confirmed


@transaction.atomic
def unassigned_production_dismiss(*, row_id: int, reason: str, actor: Any = None) -> UnassignedProduction:
    """Set counts aside for good (a test run, a double count), with a reason; audited. Dismissing twice changes nothing."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("reason_required", _("Say why these counts are dismissed."), fields={"reason": "required"})
    row = _unassigned_locked(row_id)
    if row.resolution == UnassignedProduction.Resolution.DISMISSED:
        return row
    if row.resolution:
        raise _already_resolved(row)
    row.resolution = UnassignedProduction.Resolution.DISMISSED
    row.resolved_at = timezone.now()
    row.resolved_by = _actor_label(actor)
    row.resolution_note = reason[:500]
    row.save(update_fields=["resolution", "resolved_at", "resolved_by", "resolution_note"])
    event_record(
        object_type="unassigned_production", object_key=f"{row.equipment.code}/{row.pk}", action="dismiss", actor=actor,
        before={"resolution": None}, after={"resolution": row.resolution}, reason=reason,
    )
    return row
