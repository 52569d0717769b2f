"""Writes of the operator station: making and revoking stations, operator sign-in, reports,
start and pause of an operation, clocking operators on and off it, and the PIN an operator may be asked for.

Reports go through ``mes.services.confirmations.operation_confirm`` like the API's, so a resend
with the same ``client_id`` (a tablet sending what it kept offline) answers the original.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from common.errors import DomainError, ErrorKind
from common.roles import may
from mes.models import Employee, Equipment, ReasonCode, Status, WorkCenter, WorkOrderOperation
from mes.models import Lot as StockLot
from mes.models import MaterialMovement, Nonconformance
from mes.selectors.material_issues import component_remaining, material_issue_get
from mes.services.audit import event_record
from mes.services.confirmations import ConfirmationRequest, ConfirmationResult, confirmation_reverse, operation_confirm
from mes.services.material_issues import MaterialIssueRequest, MaterialIssueResult, material_issue, material_issue_approve
from mes.services.labor import labor_clock_off, labor_clock_on
from mes.services.nonconformances import defect_code_find, nonconformance_key
from mes.services.quality import InspectionOutcome, InspectionRequest, inspection_record
from mes.services.transitions import operation_start_locked, operation_transition_locked
from shopfloor.andon.services import AndonRequest, AndonResult, andon_raise
from shopfloor.models import AndonCall, ConsumedLot, EquipmentState, PinTryCount, Station, StationLink
from shopfloor.services import (
    _operation_locked,
    downtime_reason_set,
    operation_check_startable,
    operation_start_on_equipment,
    operation_stop_on_equipment,
)
from shopfloor.station.access import new_secret, operator_token_valid
from shopfloor.station import selectors
from shopfloor.station.selectors import check_work_center, station_machine, station_machines

logger = logging.getLogger(__name__)
#: PIN tries for one badge, and at one station (any badges), before PIN sign-in there is locked
#: for PIN_LOCK_SECONDS after the last try.
PIN_TRIES = 5
STATION_PIN_TRIES = 20
PIN_LOCK_SECONDS = 300


# --- stations --------------------------------------------------------------------------


def _work_center(code: str) -> WorkCenter:
    work_center = WorkCenter.objects.filter(code=code).first()
    if work_center is None:
        known = ", ".join(WorkCenter.objects.order_by("code").values_list("code", flat=True)[:20])
        raise DomainError(
            "unknown_work_center",
            _("No work center has the code %(code)s. Known work centers: %(known)s.") % {"code": code, "known": known or "-"},
            kind=ErrorKind.NOT_FOUND,
            fields={"work_center": code},
        )
    return work_center


def _machine(work_center: WorkCenter, code: str) -> Equipment | None:
    if not code:
        return None
    equipment = Equipment.objects.filter(code=code).first()
    if equipment is None or equipment.work_center_id != work_center.pk:
        raise DomainError(
            "unknown_equipment",
            _("Work center %(work_center)s has no machine %(code)s.") % {"work_center": work_center.code, "code": code},
            fields={"equipment": code},
        )
    return equipment


def _new_station(work_center: WorkCenter, equipment: Equipment | None, *, name: str, is_pin_required: bool, created_by: str) -> tuple[Station, str]:
    secret, digest = new_secret()
    if not name:
        taken = set(Station.objects.filter(name__startswith=f"{work_center.code}-").values_list("name", flat=True))
        number = 1
        while f"{work_center.code}-{number}" in taken:
            number += 1
        name = f"{work_center.code}-{number}"
    try:
        with transaction.atomic():
            station = Station.objects.create(
                name=name, work_center=work_center, equipment=equipment, is_pin_required=is_pin_required,
                credential_hash=digest, created_by=created_by,
            )
    except IntegrityError:
        raise _name_taken(name) from None
    event_record(
        object_type="station", object_key=station.name, action="create", actor_label=created_by,
        after={"work_center": work_center.code, "equipment": equipment.code if equipment else None, "pin": is_pin_required},
    )
    return station, secret


@transaction.atomic
def station_create(
    *, work_center_code: str, equipment_code: str = "", name: str = "", is_pin_required: bool = False, actor: Any = None
) -> tuple[Station, str]:
    """Make a station (a supervisor at the tablet); returns it and the secret for its cookie."""
    work_center = _work_center(work_center_code)
    equipment = _machine(work_center, equipment_code)
    label = actor.get_username() if getattr(actor, "is_authenticated", False) else ""
    return _new_station(work_center, equipment, name=name.strip(), is_pin_required=is_pin_required, created_by=label)


@transaction.atomic
def station_link_create(
    *, work_center_code: str, equipment_code: str = "", is_pin_required: bool = False, hours: int | None = None, created_by: str = ""
) -> tuple[StationLink, str]:
    """A one-time link that makes a tablet a station of the work center; returns it and its secret."""
    work_center = _work_center(work_center_code)
    equipment = _machine(work_center, equipment_code)
    hours = hours if hours is not None else settings.MES_STATION_LINK_HOURS
    if not 1 <= hours <= 24 * 30:
        raise DomainError("invalid_hours", _("A link lasts between 1 and 720 hours."), fields={"hours": str(hours)})
    secret, digest = new_secret()
    link = StationLink.objects.create(
        work_center=work_center, equipment=equipment, is_pin_required=is_pin_required, secret_hash=digest,
        created_by=created_by, expires_at=timezone.now() + datetime.timedelta(hours=hours),
    )
    event_record(
        object_type="station_link", object_key=str(link.pk), action="create", actor_label=created_by,
        after={"work_center": work_center.code, "expires_at": link.expires_at.isoformat()},
    )
    return link, secret


@transaction.atomic
def station_links_revoke(*, link_ids: list[int], actor: Any = None) -> int:
    """Revoke one-time links not used yet; returns how many. Used or revoked ones stay as they are."""
    links = list(
        StationLink.objects.select_for_update().filter(pk__in=link_ids, used_at__isnull=True, revoked_at__isnull=True).order_by("pk")
    )
    now = timezone.now()
    for link in links:
        link.revoked_at = now
        link.save(update_fields=["revoked_at"])
        event_record(object_type="station_link", object_key=str(link.pk), action="revoke", actor=actor, before={"usable": True}, after={"usable": False})
    return len(links)


def station_link_check(*, secret_hash: str, lock: bool = False) -> StationLink:
    """The link behind a secret's fingerprint if it can still be used; otherwise a refusal saying why."""
    links = StationLink.objects.select_related("work_center", "equipment")
    if lock:
        links = links.select_for_update(of=("self",))
    link = links.filter(secret_hash=secret_hash).first()
    if link is None:
        raise DomainError("unknown_link", _("This station link is not valid. Check that it was copied whole."), kind=ErrorKind.NOT_FOUND)
    if link.revoked_at is not None:
        raise DomainError("link_revoked", _("This station link was revoked. Ask a supervisor for a new one."), kind=ErrorKind.CONFLICT)
    if link.used_at is not None:
        raise DomainError(
            "link_used",
            _("This station link was used already (%(when)s) and works only once. Ask a supervisor for a new one.")
            % {"when": timezone.localtime(link.used_at).strftime("%Y-%m-%d %H:%M")},
            kind=ErrorKind.CONFLICT,
        )
    if link.expires_at <= timezone.now():
        raise DomainError(
            "link_expired",
            _("This station link expired at %(when)s. Ask a supervisor for a new one.")
            % {"when": timezone.localtime(link.expires_at).strftime("%Y-%m-%d %H:%M")},
            kind=ErrorKind.CONFLICT,
        )
    return link


@transaction.atomic
def station_link_use(*, secret_hash: str) -> tuple[Station, str]:
    """Spend a one-time link: the browser that opened it becomes a station. Twice is refused."""
    link = station_link_check(secret_hash=secret_hash, lock=True)
    station, secret = _new_station(
        link.work_center, link.equipment, name="", is_pin_required=link.is_pin_required, created_by=link.created_by or "link"
    )
    link.used_at = timezone.now()
    link.station = station
    link.save(update_fields=["used_at", "station"])
    return station, secret


@transaction.atomic
def station_revoke(*, station_id: int, actor: Any = None) -> Station:
    """Revoke a station: its cookie stops working at once. Revoking again changes nothing."""
    station = _station(station_id, lock=True)
    if station.revoked_at is not None:
        return station
    label = actor.get_username() if getattr(actor, "is_authenticated", False) else ""
    station.revoked_at = timezone.now()
    station.revoked_by = label
    station.save(update_fields=["revoked_at", "revoked_by"])
    event_record(object_type="station", object_key=station.name, action="revoke", actor=actor, before={"active": True}, after={"active": False})
    return station


def _station(station_id: int, *, lock: bool = False) -> Station:
    stations = Station.objects.select_related("work_center", "equipment")
    station = (stations.select_for_update(of=("self",)) if lock else stations).filter(pk=station_id).first()
    if station is None:
        raise DomainError("unknown_station", _("No station %(id)s.") % {"id": station_id}, kind=ErrorKind.NOT_FOUND)
    return station


def _name_taken(name: str) -> DomainError:
    return DomainError(
        "station_name_taken", _("A station named %(name)s exists already; choose another name.") % {"name": name},
        kind=ErrorKind.CONFLICT, fields={"name": name},
    )


def _station_settings(station: Station, *, name: str, equipment_code: str, is_pin_required: bool) -> dict[str, Any]:
    """What a station's settings become, or a refusal: a name of its own, a machine of its work center."""
    name = name.strip()
    if not name or len(name) > Station._meta.get_field("name").max_length:
        raise DomainError("invalid_station_name", _("A station needs a name of at most 64 characters."), fields={"name": name})
    equipment = _machine(station.work_center, equipment_code)
    if Station.objects.filter(name=name).exclude(pk=station.pk).exists():
        raise _name_taken(name)
    return {"name": name, "equipment": equipment, "is_pin_required": is_pin_required}


def _station_record(station: Station) -> dict[str, Any]:
    return {"name": station.name, "equipment": station.equipment.code if station.equipment else None, "pin": station.is_pin_required}


def station_update_check(*, station_id: int, name: str, equipment_code: str = "", is_pin_required: bool = False) -> None:
    """The refusals ``station_update`` would give, without saving: for a form to show them on the page."""
    _station_settings(_station(station_id), name=name, equipment_code=equipment_code, is_pin_required=is_pin_required)


@transaction.atomic
def station_update(
    *, station_id: int, name: str, equipment_code: str = "", is_pin_required: bool = False, actor: Any = None
) -> Station:
    """Rename a station, give it another machine of its work center, or ask for a PIN there, audited.

    Its work center stays (its tablet was set up for it); reports already made keep the name they
    were made under. Saving it unchanged records nothing.
    """
    station = _station(station_id, lock=True)
    wanted = _station_settings(station, name=name, equipment_code=equipment_code, is_pin_required=is_pin_required)
    changes = [field for field, value in wanted.items() if getattr(station, field) != value]
    if not changes:
        return station
    before = _station_record(station)
    for field in changes:
        setattr(station, field, wanted[field])
    try:
        with transaction.atomic():
            station.save(update_fields=changes)
    except IntegrityError:
        raise _name_taken(station.name) from None  # taken a moment ago
    after = _station_record(station)
    event_record(
        object_type="station", object_key=station.name, action="update", actor=actor,
        before={key: value for key, value in before.items() if after[key] != value},
        after={key: value for key, value in after.items() if before[key] != value},
    )
    return station


# --- operators ---------------------------------------------------------------------------


def station_operator_check(*, station: Station, badge: str, token: str = "") -> None:
    """May this badge act at this station? At a PIN station every act carries the proof the sign-in gave
    (``operator_token``); the badge must be an active employee's."""
    if station.is_pin_required and not operator_token_valid(station, badge, token):
        raise DomainError("sign_in_again", _("Sign in again with your badge and PIN."), kind=ErrorKind.FORBIDDEN)
    if not Employee.objects.filter(badge=badge, is_active=True).exists():
        raise DomainError("unknown_operator", _("No active employee has badge %(badge)s.") % {"badge": badge}, fields={"operator_badge": badge})


def station_operator_sign_in(*, station: Station, badge: str, pin: str = "") -> Employee:
    """Check a badge (and PIN, where the station asks for one).

    Every PIN try is counted before the PIN is checked, each in one statement, so tries made at the
    same moment (on any web worker) cannot slip past the limit: after ``PIN_TRIES`` tries for a badge,
    or ``STATION_PIN_TRIES`` at one station, within ``PIN_LOCK_SECONDS`` of the last one, the PIN is
    not checked at all. A right PIN does not count. Wrong PINs are logged.

    Call it outside a transaction: the counts must stay when the sign-in is refused.
    """
    employee = Employee.objects.filter(badge=badge, is_active=True).first()
    if employee is None:
        raise DomainError(
            "unknown_operator", _("No active employee has badge %(badge)s.") % {"badge": badge}, fields={"badge": badge}
        )
    if not station.is_pin_required:
        return employee
    if not employee.station_pin:
        raise DomainError("pin_not_set", _("This station asks for a PIN, and badge %(badge)s has none yet. Ask a supervisor to set one.") % {"badge": badge})
    if not pin:
        raise DomainError("pin_required", _("Enter your PIN."), fields={"pin": "required"})
    badge_key, station_key = f"badge:{badge}", f"station:{station.pk}"
    badge_tries, station_tries = _pin_try_counted(badge_key), _pin_try_counted(station_key)
    if badge_tries > PIN_TRIES:
        logger.warning("PIN sign-in refused: badge %s is locked out (try %s) at station %s", badge, badge_tries, station.name)
        raise DomainError("pin_locked", _("Too many wrong PINs for this badge; wait five minutes or ask a supervisor."), kind=ErrorKind.FORBIDDEN)
    if station_tries > STATION_PIN_TRIES:
        logger.warning("PIN sign-in refused: station %s is locked out (try %s), badge %s", station.name, station_tries, badge)
        raise DomainError(
            "station_pin_locked", _("Too many wrong PINs at this station; wait five minutes or ask a supervisor."), kind=ErrorKind.FORBIDDEN
        )
    if not check_password(pin, employee.station_pin):
        logger.warning("Wrong PIN for badge %s at station %s (try %s of %s)", badge, station.name, badge_tries, PIN_TRIES)
        raise DomainError("wrong_pin", _("Wrong PIN. Scan your badge and try again."), fields={"pin": "wrong"})
    PinTryCount.objects.filter(key=badge_key).delete()
    PinTryCount.objects.filter(key=station_key, count__gt=0).update(count=F("count") - 1)
    return employee


def _pin_try_counted(key: str) -> int:
    """Count one PIN try under ``key`` and return the tries within the lock-out time, this one included.

    One upsert: concurrent tries each get their own number. A count whose time has run out starts again at 1;
    every try keeps the count for another ``PIN_LOCK_SECONDS``.
    """
    now = timezone.now()
    quote = connection.ops.quote_name
    table = quote(PinTryCount._meta.db_table)
    key_column, count_column, expires_column = (quote(name) for name in ("key", "count", "expires_at"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({key_column}, {count_column}, {expires_column}) VALUES (%s, 1, %s) "
            f"ON CONFLICT ({key_column}) DO UPDATE SET "
            f"{count_column} = CASE WHEN {table}.{expires_column} <= %s THEN 1 ELSE {table}.{count_column} + 1 END, "
            f"{expires_column} = excluded.{expires_column} "
            f"RETURNING {count_column}",
            [
                key,
                connection.ops.adapt_datetimefield_value(now + datetime.timedelta(seconds=PIN_LOCK_SECONDS)),
                connection.ops.adapt_datetimefield_value(now),
            ],
        )
        return cursor.fetchone()[0]


# --- work at the station -------------------------------------------------------------------


@dataclass(frozen=True)
class Lot:
    lot: str
    gtin: str = ""


@transaction.atomic
def station_report(*, station: Station, request: ConfirmationRequest, lots: list[Lot]) -> ConfirmationResult:
    """Record a report made at the station, with the lots it consumed, in one transaction.

    The confirmation is the API's (same service, same rules, same idempotency on ``client_id``),
    limited to the station's work center (checked under the order's lock); a resend answers the
    original and adds no lot twice.
    """
    result = operation_confirm(request=request, actor=None, work_center=station.work_center)
    if result.created:
        _clock_on_after_report(station, result)
    if result.created and lots:
        ConsumedLot.objects.bulk_create(
            ConsumedLot(confirmation=result.confirmation, lot=lot.lot, gtin=lot.gtin, station=station.name)
            for lot in dict.fromkeys(lots)
        )
    return result


def _operation_at_station(station: Station, number: str, sequence: int) -> tuple[Any, WorkOrderOperation]:
    """Lock the order and find the operation; refuse one of another work center."""
    work_order, operation = _operation_locked(number, sequence)
    operation.work_order = work_order
    check_work_center(station=station, operation=operation)
    return work_order, operation


@transaction.atomic
def station_operation_start(*, station: Station, number: str, sequence: int, operator_badge: str) -> WorkOrderOperation:
    """Start (or resume) an operation at the station, on its machine when it has one.

    Starting a running operation again changes nothing; an order on hold is refused.
    """
    work_order, operation = _operation_at_station(station, number, sequence)
    if work_order.status == Status.PAUSED:
        raise DomainError(
            "work_order_on_hold",
            _("Work order %(number)s is on hold; a supervisor has to resume it first.") % {"number": number},
            kind=ErrorKind.CONFLICT,
        )
    if operation.status == Status.PAUSED:
        operation_transition_locked(operation=operation, work_order=work_order, action="resume", actor_label=operator_badge)
    machine = station_machine(station=station)
    if machine is not None:
        operation_start_on_equipment(number=number, sequence=sequence, equipment_code=machine.code, actor_label=operator_badge)
        operation.refresh_from_db(fields=["status"])
    else:
        operation_check_startable(operation=operation, number=number)
        operation_start_locked(operation=operation, work_order=work_order, actor_label=operator_badge)
    _clock_on(station, operation, operator_badge)
    return operation


@transaction.atomic
def station_operation_pause(
    *, station: Station, number: str, sequence: int, reason_code: str, operator_badge: str
) -> WorkOrderOperation:
    """Pause a running operation with a pause reason; its machine stops counting on it. Pausing again changes nothing."""
    reason = ReasonCode.objects.filter(code=reason_code).first() if reason_code else None
    if reason is None or reason.kind != ReasonCode.Kind.PAUSE:
        raise DomainError(
            "pause_reason_required",
            _("Pausing needs a pause reason: scan RC:… of a pause reason first, then pause."),
            fields={"reason_code": reason_code or "required"},
        )
    work_order, operation = _operation_at_station(station, number, sequence)
    if operation.status == Status.PAUSED:
        return operation
    if operation.status != Status.IN_PROGRESS:
        raise DomainError(
            "operation_not_running",
            _("Operation %(sequence)04d of %(number)s is %(status)s; only a running operation can pause.")
            % {"sequence": sequence, "number": number, "status": Status(operation.status).label},
            kind=ErrorKind.CONFLICT,
        )
    operation_transition_locked(
        operation=operation, work_order=work_order, action="pause", actor_label=operator_badge, reason=f"{reason.code} {reason.name}"
    )
    operation_stop_on_equipment(number=number, sequence=sequence, actor_label=operator_badge)
    return operation


# --- labor: who is clocked on the operation ----------------------------------------------------


def _clock_on(station: Station, operation: WorkOrderOperation, badge: str) -> None:
    """Clock the operator on the running operation (already on: nothing changes). Call holding the order's lock."""
    employee = Employee.objects.get(badge=badge)
    labor_clock_on(operation=operation, employee=employee, station=station.name)


def _clock_on_after_report(station: Station, result: ConfirmationResult) -> None:
    """A report at the station keeps its operator clocked on the operation while it runs on (a final one
    completed it, which clocked everyone off)."""
    confirmation = result.confirmation
    if confirmation.operator_id is not None and confirmation.operation.status == Status.IN_PROGRESS:
        labor_clock_on(operation=confirmation.operation, employee=confirmation.operator, station=station.name)


@transaction.atomic
def station_clock_off(*, station: Station, number: str, sequence: int, operator_badge: str) -> WorkOrderOperation:
    """Clock the operator off the operation (stepping away from it while others work on). Not on it: nothing changes."""
    _work_order, operation = _operation_at_station(station, number, sequence)
    labor_clock_off(operation=operation, employee=Employee.objects.get(badge=operator_badge))
    return operation


@transaction.atomic
def station_downtime_reason(*, station: Station, state_id: int, reason_code: str, operator_badge: str) -> EquipmentState:
    """Answer a downtime prompt of one of the station's machines, as the operator signed in (checked on the locked row)."""
    state = EquipmentState.objects.select_for_update().select_related("equipment").filter(pk=state_id).first()
    machines = station_machines(station=station)
    if state is None or state.equipment_id not in machines:
        raise DomainError("unknown_state", _("That machine stop is not one of this station's."), kind=ErrorKind.NOT_FOUND)
    return downtime_reason_set(state_id=state_id, reason_code=reason_code, actor_label=operator_badge)



# --- material issues at the station --------------------------------------------------------
#
# A scan LOT:<item>:<lot>[:<quantity>] issues that lot to the open operation; an issue beyond the
# tolerance waits for a supervisor, who approves it by scanning their badge at the station.


def _issue_quantity(*, client_id: uuid.UUID, work_order: str, operation: int, item: str, lot: str) -> Decimal:
    """What a scan without a quantity issues: what the operation still needs of the component, at
    most what the lot holds. A resend of the same scan issues what the first one did."""
    existing = MaterialMovement.objects.filter(client_id=client_id).values_list("quantity", flat=True).first()
    if existing is not None:
        return existing
    remaining = component_remaining(work_order=work_order, operation=operation, item=item)
    if remaining is None:
        return Decimal(0)  # not a component of the operation: the issue says so
    if remaining == 0:
        raise DomainError(
            "nothing_left_to_issue",
            _("Operation %(sequence)s of %(number)s has all the %(item)s it needs; scan LOT:%(item)s:%(lot)s:<quantity> to issue more.")
            % {"sequence": operation, "number": work_order, "item": item, "lot": lot},
            fields={"quantity": "0"},
        )
    on_hand = StockLot.objects.filter(item__code=item, code=lot).first()
    if on_hand is not None and on_hand.quantity_on_hand > 0:
        return min(remaining, on_hand.quantity_on_hand)
    return remaining


def station_material_issue(
    *, station: Station, client_id: uuid.UUID, work_order: str, operation: int, item: str, lot: str, quantity: Decimal | None, operator_badge: str
) -> MaterialIssueResult:
    """Issue a scanned lot to an operation of the station's work center (``other_work_center`` otherwise),
    through the API's service: same rules, same idempotency on ``client_id``."""
    if quantity is None:
        quantity = _issue_quantity(client_id=client_id, work_order=work_order, operation=operation, item=item, lot=lot)
    request = MaterialIssueRequest(
        client_id=client_id, work_order=work_order, operation=operation, item=item, lot=lot, quantity=quantity,
        operator_badge=operator_badge, station=station.name,
    )
    return material_issue(request=request, work_center=station.work_center)


def station_material_approve(*, station: Station, movement_id: uuid.UUID, supervisor_badge: str) -> MaterialIssueResult:
    """A supervisor's badge scanned at the station approves an issue of this station's work center
    waiting for approval: the badge's employee must be linked to a user holding ``material.approve``."""
    supervisor = station_supervisor(
        badge=supervisor_badge, capability="material.approve",
        refusal=_("Badge %(badge)s may not approve an over-issue; a supervisor has to scan their badge.") % {"badge": supervisor_badge},
    )
    movement = material_issue_get(movement_id=movement_id)
    if movement.operation.work_center_id != station.work_center_id:
        raise DomainError("unknown_material_issue", _("That issue is not one of this station's."), kind=ErrorKind.NOT_FOUND)
    return material_issue_approve(
        movement_id=movement_id,
        reason=_("Approved at station %(station)s by badge %(badge)s.") % {"station": station.name, "badge": supervisor_badge},
        actor=supervisor.user,
        actor_label=supervisor_badge,
    )


def andon_kind_of_reason(*, reason: ReasonCode) -> str:
    """The kind of call an andon reason code raises: the first word of its code when it names one
    (``MATERIAL-01`` → material, ``EQUIPMENT-JAM`` → equipment), else ``help``."""
    first = reason.code.split("-", 1)[0].lower()
    return first if first in AndonCall.Kind.values else AndonCall.Kind.HELP


def station_andon(
    *, station: Station, badge: str, kind: str, severity: str, client_id: uuid.UUID, work_order: str = "", reason_code: str = ""
) -> AndonResult:
    """An operator's call for help at this station: its work center, its own machine if it has one,
    the order open on it if any; raised by the operator (badge and name). With ``reason_code`` (an
    ``andon`` reason code, ``ACT:ANDON`` then ``RC:<code>``) the reason decides the kind and is the call's note."""
    note = ""
    if reason_code:
        reason = ReasonCode.objects.filter(code=reason_code).first()
        if reason is None or reason.kind != ReasonCode.Kind.ANDON:
            raise DomainError(
                "not_an_andon_reason",
                _("%(code)s is not an andon reason; scan one printed under \"Andon\" on the station sheet.") % {"code": reason_code[:64]},
                fields={"reason_code": reason_code[:64]},
            )
        kind, note = andon_kind_of_reason(reason=reason), f"{reason.code} {reason.name}"
    operator = Employee.objects.filter(badge=badge).first()
    label = f"{badge} {operator.name}" if operator is not None else badge
    return andon_raise(
        request=AndonRequest(
            kind=kind, severity=severity, work_center=station.work_center.code,
            equipment=station.equipment.code if station.equipment_id else "", work_order=work_order,
            station=station.name, client_id=client_id, note=note,
        ),
        actor_label=label,
    )


@dataclass
class StationInspection:
    outcome: InspectionOutcome
    nonconformance: Nonconformance | None


def station_inspection_record(
    *, station: Station, client_id: uuid.UUID, work_order: str, operation: int, characteristic: str,
    value: Decimal | None, passed: bool | None, defect_code: str, operator_badge: str,
) -> StationInspection:
    """A result entered at the station (VAL:, PASS, FAIL:<defect code> or the keypad), recorded through
    ``inspection_record`` with the operator as inspector. A failing result opens its NCR there; the
    defect code the operator scanned is written on it (audited). Nothing is written when anything is refused."""
    selectors.station_operation(station=station, number=work_order, sequence=operation)  # this station's open operation
    defect = defect_code_find(code=defect_code) if defect_code else None
    with transaction.atomic():
        outcome = inspection_record(
            request=InspectionRequest(
                client_id=client_id, work_order=work_order, operation=operation, characteristic=characteristic,
                value=value, passed=passed, inspector_badge=operator_badge,
            )
        )
        result = outcome.result
        nonconformance = None if result.passed else Nonconformance.objects.filter(inspection_result=result).select_related("defect_code").first()
        if nonconformance is not None and defect is not None and nonconformance.defect_code_id is None:
            nonconformance.defect_code = defect
            nonconformance.save(update_fields=["defect_code"])
            event_record(
                object_type="nonconformance", object_key=nonconformance_key(nonconformance), action="defect_code", actor_label=operator_badge,
                work_order=result.work_order, before={"defect_code": None}, after={"defect_code": defect.code, "station": station.name},
            )
    return StationInspection(outcome, nonconformance)


# --- correcting a report: the operator's last one, alone within minutes, later with a supervisor ------


def station_supervisor(*, badge: str, capability: str, refusal: str, field: str = "badge") -> Employee:
    """The employee behind a supervisor's badge scanned at the station to approve something: active, linked to an
    active user holding ``capability``; else 422 ``unknown_operator`` or 403 ``not_a_supervisor`` (``refusal``)."""
    supervisor = Employee.objects.select_related("user").filter(badge=badge, is_active=True).first()
    if supervisor is None:
        raise DomainError("unknown_operator", _("No active employee has badge %(badge)s.") % {"badge": badge}, fields={field: badge})
    if supervisor.user is None or not supervisor.user.is_active or not may(supervisor.user, capability):
        raise DomainError("not_a_supervisor", refusal, kind=ErrorKind.FORBIDDEN, fields={field: badge})
    return supervisor


def station_report_correct(
    *, station: Station, confirmation_id: uuid.UUID, operator_badge: str, reason: str, supervisor_badge: str = "",
    now: datetime.datetime | None = None,
) -> ConfirmationResult:
    """Reverse the operator's last report through ``confirmation_reverse`` (the one reversal path), with a reason.

    Only the operator's own last report not yet reversed. Within ``MES_OPERATOR_CORRECTION_MINUTES`` of its recording
    the operator alone may; later a supervisor's badge approves (refused with ``correction_needs_supervisor`` until
    one is given). Audited with who asked, who approved and how late, in the reversal's transaction."""
    reason = reason.strip()
    if not reason:
        raise DomainError("reason_required", _("Say why the report is wrong: tap a reason or scan RC:<reason>."), fields={"reason": ""})
    last = selectors.operator_last_report(badge=operator_badge)
    if last is None or last.uuid != confirmation_id:
        raise DomainError(
            "not_your_last_report",
            _("Only your own last report can be corrected here; ask a supervisor for older ones."),
            kind=ErrorKind.CONFLICT,
            fields={"confirmation": str(confirmation_id)},
        )
    now = now or timezone.now()
    minutes_late = int((now - last.recorded_at).total_seconds() // 60)
    window = settings.MES_OPERATOR_CORRECTION_MINUTES
    supervisor = None
    if now - last.recorded_at > datetime.timedelta(minutes=window):
        if not supervisor_badge:
            raise DomainError(
                "correction_needs_supervisor",
                _("This report is %(minutes)s minutes old; after %(window)s minutes a supervisor approves a correction. Supervisor: scan your badge.")
                % {"minutes": minutes_late, "window": window},
                kind=ErrorKind.FORBIDDEN,
                fields={"confirmation": str(confirmation_id)},
            )
        supervisor = station_supervisor(
            badge=supervisor_badge, capability="confirmation.reverse", field="supervisor_badge",
            refusal=_("Badge %(badge)s may not approve a correction; a supervisor has to scan their badge.") % {"badge": supervisor_badge},
        )
    operator = Employee.objects.filter(badge=operator_badge).first()
    asked_by = f"{operator_badge} {operator.name}" if operator is not None else operator_badge
    with transaction.atomic():
        result = confirmation_reverse(
            confirmation_id=confirmation_id, reason=f"{reason} ({asked_by}, {station.name})"[:500],
            actor=supervisor.user if supervisor is not None else None,
        )
        event_record(
            object_type="confirmation", object_key=str(confirmation_id), action="station_correction",
            actor=supervisor.user if supervisor is not None else None, actor_label=asked_by, work_order=last.work_order,
            after={
                "reversal": str(result.confirmation.uuid), "station": station.name, "operator": operator_badge,
                "approved_by": supervisor_badge if supervisor is not None else "", "minutes_after_report": minutes_late,
            },
            reason=reason,
        )
    return result
