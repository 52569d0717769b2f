"""Andon calls: raised, acknowledged, resolved and closed (one map of the moves), escalated along
the most specific ladder, each notice sent by a task and retried until its channel takes it.

Escalation. ``andon_escalate`` (a periodic task, every ``MES_ANDON_ESCALATE_SECONDS``) looks at
every call not yet resolved. A ladder step ``{"after_seconds": N, "when": "unacknowledged"}`` is due
once the call has been open N seconds and nobody acknowledged it; ``"when": "unresolved"`` once it
has been N seconds without being resolved (acknowledged or not). A due step is recorded once per
call (a unique notice per call and step) and then sent by ``andon_notice_send`` after the commit;
a step whose moment passed after the call was acknowledged (or resolved) is never recorded.

Sending (``shopfloor.andon.delivery``). A notice is claimed (``pending``/``failed`` → ``sending``) by
one conditional update, so two workers never send it both; the channel is called outside any
transaction; the outcome is recorded (``sent``, or ``failed`` with a back-off: 10 s, 20 s, 40 s … up
to 10 min, given up after ``MES_ANDON_SEND_ATTEMPTS``). A ``sending`` claim older than a minute (a
worker that died) is taken again by the sweep.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass, fields
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from common.errors import DomainError, ErrorKind
from mes.models import Equipment, WorkCenter, WorkOrder
from mes.services.audit import event_record
from shopfloor.andon.channels import ChannelError, channel_problems, channel_send
from shopfloor.andon.delivery import deliveries_due, delivery_claim, delivery_failed, delivery_sent
from shopfloor.models import AndonCall, AndonLadder, AndonNotice

logger = logging.getLogger(__name__)

State = AndonCall.State

#: The moves of a call: action -> (states it may start from, state it ends in).
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "acknowledge": (frozenset({State.OPEN}), State.ACKNOWLEDGED),
    "resolve": (frozenset({State.OPEN, State.ACKNOWLEDGED}), State.RESOLVED),
    "close": (frozenset({State.RESOLVED}), State.CLOSED),
}
# The moves as the refusal names them ("it cannot be … now").
ACTION_WORDS = {
    "acknowledge": lambda: pgettext("andon action", "acknowledged"),
    "resolve": lambda: pgettext("andon action", "resolved"),
    "close": lambda: pgettext("andon action", "closed"),
}
WHEN = ("unacknowledged", "unresolved")
MAX_STEPS = 20
SEND_TASK = "andon.notice_send"


@dataclass(frozen=True)
class AndonRequest:
    kind: str
    severity: str
    work_center: str
    equipment: str = ""
    work_order: str = ""
    note: str = ""
    station: str = ""
    client_id: uuid.UUID | None = None

    def fingerprint(self) -> str:
        canonical = {field.name: str(getattr(self, field.name) or "") for field in fields(self)}
        return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


@dataclass
class AndonResult:
    call: AndonCall
    created: bool


def _actor_name(actor: Any) -> str:
    if actor is None:
        return ""
    return str(getattr(actor, "username", "") or actor)[:150]


def _choice(name: str, value: str, choices: Any) -> None:
    if value not in choices.values:
        raise DomainError(
            f"unknown_{name}",
            _("%(value)s is not an andon %(name)s; use one of %(choices)s.") % {"value": value[:40], "name": name, "choices": ", ".join(choices.values)},
            fields={name: value[:40]},
        )


def andon_raise(*, request: AndonRequest, actor: Any = None, actor_label: str = "") -> AndonResult:
    """Record a call (201), or answer the one this ``client_id`` recorded (200; 409 if it differs)."""
    _choice("kind", request.kind, AndonCall.Kind)
    _choice("severity", request.severity, AndonCall.Severity)
    work_center = _known(WorkCenter, "code", request.work_center, "work_center", _("No work center %(key)s."))
    equipment = _known(Equipment, "code", request.equipment, "equipment", _("No machine %(key)s.")) if request.equipment else None
    work_order = _known(WorkOrder, "number", request.work_order, "work_order", _("No work order %(key)s.")) if request.work_order else None
    if request.client_id is not None:
        existing = AndonCall.objects.filter(client_id=request.client_id).first()
        if existing is not None:
            return _replay(existing, request)
    try:
        with transaction.atomic():
            call = AndonCall.objects.create(
                uuid=uuid.uuid4(), client_id=request.client_id, request_hash=request.fingerprint(),
                kind=request.kind, severity=request.severity, work_center=work_center, equipment=equipment,
                work_order=work_order, note=request.note[:500], station=request.station[:64],
                raised_at=timezone.now(), raised_by=actor_label[:150] or _actor_name(actor),
            )
            event_record(
                object_type="andon", object_key=str(call.uuid), action="raise", actor=actor, actor_label=actor_label, work_order=work_order,
                after={"kind": call.kind, "severity": call.severity, "work_center": work_center.code},
            )
            _escalate_call(call, now=call.raised_at)  # the ladder's first steps (after 0 s) go at once
    except IntegrityError:  # the same client_id raced in
        existing = AndonCall.objects.filter(client_id=request.client_id).first()
        if existing is None:
            raise
        return _replay(existing, request)
    return AndonResult(call, created=True)


def _known(model: Any, key_field: str, key: str, name: str, message: str) -> Any:
    """The row ``key`` names, or a 404 ``unknown_<name>`` with ``message`` (``%(key)s`` in it)."""
    row = model.objects.filter(**{key_field: key}).first()
    if row is None:
        raise DomainError(f"unknown_{name}", message % {"key": key[:64]}, kind=ErrorKind.NOT_FOUND, fields={name: key[:64]})
    return row


def _replay(existing: AndonCall, request: AndonRequest) -> AndonResult:
    if existing.request_hash != request.fingerprint():
        raise DomainError(
            "client_id_conflict",
            _("client_id %(client_id)s was already used for a different andon call.") % {"client_id": request.client_id},
            kind=ErrorKind.CONFLICT, fields={"client_id": str(request.client_id)},
        )
    return AndonResult(existing, created=False)


def andon_transition(
    *, call_id: uuid.UUID, action: str, note: str = "", root_cause: str = "", actor: Any = None, actor_label: str = ""
) -> AndonCall:
    """Move a call (``TRANSITIONS``); the same move again answers the call as it is."""
    starts, target = TRANSITIONS[action]
    with transaction.atomic():
        call = AndonCall.objects.select_for_update().filter(uuid=call_id).first()
        if call is None:
            raise DomainError("unknown_andon_call", _("No andon call %(id)s.") % {"id": call_id}, kind=ErrorKind.NOT_FOUND, fields={"id": str(call_id)})
        if call.state == target:
            return call
        if call.state not in starts:
            raise DomainError(
                "illegal_transition",
                _("This call is %(state)s; it cannot be %(action)s now.")
                % {"state": AndonCall.State(call.state).label, "action": ACTION_WORDS[action]()},
                kind=ErrorKind.CONFLICT, fields={"state": call.state},
            )
        before = call.state
        now, who = timezone.now(), actor_label[:150] or _actor_name(actor)
        call.state = target
        if action == "acknowledge":
            call.acknowledged_at, call.acknowledged_by = now, who
        elif action == "resolve":
            call.resolved_at, call.resolved_by = now, who
            call.resolution_note, call.root_cause = note[:1000], root_cause[:500]
        else:
            call.closed_at, call.closed_by = now, who
        call.save()
        event_record(
            object_type="andon", object_key=str(call.uuid), action=action, actor=actor, actor_label=actor_label, work_order=call.work_order,
            before={"state": before}, after={"state": call.state}, reason=note,
        )
    return call


# --- calls the product raises itself ------------------------------------------------------------

SYSTEM = "system"


@dataclass(frozen=True)
class Cause:
    """Something the product watches that calls for help while it lasts."""

    key: str  # unique while open, e.g. "device_silent:PRESS-1"
    kind: str
    severity: str
    note: str
    work_center_id: int | None = None
    equipment_id: int | None = None
    work_order_id: int | None = None


def andon_causes_sync(*, causes: list[Cause]) -> tuple[int, int]:
    """Open a call for each cause that has none open, and resolve the open calls of causes that
    cleared (any cause not in ``causes``). Answers (raised, resolved)."""
    wanted = {cause.key: cause for cause in causes}
    open_causes = set(AndonCall.objects.filter(state__in=(State.OPEN, State.ACKNOWLEDGED)).exclude(cause="").values_list("cause", flat=True))
    raised = resolved = 0
    for key, cause in wanted.items():
        if key in open_causes:
            continue
        try:
            with transaction.atomic():
                call = AndonCall.objects.create(
                    uuid=uuid.uuid4(), cause=key, kind=cause.kind, severity=cause.severity, work_center_id=cause.work_center_id,
                    equipment_id=cause.equipment_id, work_order_id=cause.work_order_id, note=cause.note[:500], raised_at=timezone.now(), raised_by=SYSTEM,
                )
                event_record(object_type="andon", object_key=str(call.uuid), action="raise", actor_label=SYSTEM, after={"cause": key, "kind": cause.kind})
                _escalate_call(call, now=call.raised_at)
        except IntegrityError:  # another sweep raised it meanwhile
            continue
        raised += 1
    for key in open_causes - set(wanted):
        for call_id in AndonCall.objects.filter(cause=key, state__in=(State.OPEN, State.ACKNOWLEDGED)).values_list("uuid", flat=True):
            with translation.override(settings.LANGUAGE_CODE):
                note = _("Cleared by itself: the product no longer sees the cause.")
            andon_transition(call_id=call_id, action="resolve", note=note, actor_label=SYSTEM)
            resolved += 1
    return raised, resolved


# --- ladders -----------------------------------------------------------------------------------


def andon_ladder_put(*, code: str, data: Any, actor: Any = None) -> tuple[AndonLadder, bool]:
    """Create or replace a ladder; every bad field is named and nothing is stored."""
    if not isinstance(data, dict):
        raise DomainError("invalid", _("The ladder must be a JSON object."), fields={"body": "object"})
    problems: dict[str, str] = {}
    unknown = set(data) - {"kind", "severity", "work_center", "steps"}
    if unknown:
        problems["body"] = f"Unknown fields: {', '.join(sorted(map(str, unknown)))}."
    kind, severity = data.get("kind") or "", data.get("severity") or ""
    if kind and kind not in AndonCall.Kind.values:
        problems["kind"] = f"Must be one of {', '.join(AndonCall.Kind.values)}."
    if severity and severity not in AndonCall.Severity.values:
        problems["severity"] = f"Must be one of {', '.join(AndonCall.Severity.values)}."
    work_center = None
    if data.get("work_center"):
        work_center = WorkCenter.objects.filter(code=str(data["work_center"])).first()
        if work_center is None:
            problems["work_center"] = f"No work center {str(data['work_center'])[:64]}."
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        problems["steps"] = "A list of at least one step."
        steps = []
    elif len(steps) > MAX_STEPS:
        problems["steps"] = f"At most {MAX_STEPS} steps."
    clean = []
    for index, step in enumerate(steps):
        where = f"steps[{index}]"
        if not isinstance(step, dict):
            problems[where] = "Must be an object with after_seconds, when and channel."
            continue
        extra = set(step) - {"after_seconds", "when", "channel"}
        if extra:
            problems[where] = f"Unknown fields: {', '.join(sorted(map(str, extra)))}."
        after = step.get("after_seconds")
        if isinstance(after, bool) or not isinstance(after, int) or not 0 <= after <= 7 * 24 * 3600:
            problems[f"{where}.after_seconds"] = "A whole number of seconds from 0 to 604800."
        if step.get("when") not in WHEN:
            problems[f"{where}.when"] = f"Must be one of {', '.join(WHEN)}."
        for name, problem in channel_problems(step.get("channel")).items():
            problems[f"{where}.channel.{name}"] = problem
        clean.append({"after_seconds": after, "when": step.get("when"), "channel": step.get("channel")})
    if problems:
        raise DomainError("invalid", _("The ladder has errors; nothing was stored."), fields=problems)
    with transaction.atomic():
        ladder, created = AndonLadder.objects.select_for_update().get_or_create(code=code, defaults={"steps": []})
        ladder.kind, ladder.severity, ladder.work_center, ladder.steps = kind, severity, work_center, clean
        ladder.save()
        event_record(object_type="andon_ladder", object_key=code, action="create" if created else "update", actor=actor, after={"steps": len(clean)})
    return ladder, created


def ladder_for(call: AndonCall, ladders: list[AndonLadder] | None = None) -> AndonLadder | None:
    """The most specific ladder matching the call (work center counts most, then kind, then severity)."""
    if ladders is None:
        ladders = list(
            AndonLadder.objects.filter(
                Q(kind="") | Q(kind=call.kind), Q(severity="") | Q(severity=call.severity),
                Q(work_center__isnull=True) | Q(work_center=call.work_center_id),
            )
        )
    matching = [
        ladder for ladder in ladders
        if ladder.kind in ("", call.kind) and ladder.severity in ("", call.severity) and ladder.work_center_id in (None, call.work_center_id)
    ]
    if not matching:
        return None
    return max(matching, key=lambda ladder: (ladder.work_center_id is not None, bool(ladder.kind), bool(ladder.severity), ladder.code))


# --- escalation and sending --------------------------------------------------------------------


def andon_escalate(*, now: datetime.datetime | None = None) -> int:
    """Record the notices now due for every call not yet resolved; answer how many."""
    now = now or timezone.now()
    ladders = list(AndonLadder.objects.all())
    if not ladders:
        return 0
    recorded = 0
    for call in AndonCall.objects.filter(state__in=(State.OPEN, State.ACKNOWLEDGED)).select_related("work_center"):
        with transaction.atomic():
            recorded += _escalate_call(call, now=now, ladders=ladders)
    andon_notices_due(now=now)
    return recorded


def _escalate_call(call: AndonCall, *, now: datetime.datetime, ladders: list[AndonLadder] | None = None) -> int:
    ladder = ladder_for(call, ladders)
    if ladder is None:
        return 0
    told = set(AndonNotice.objects.filter(call=call).values_list("step", flat=True))
    age = (now - call.raised_at).total_seconds()
    recorded = 0
    for index, step in enumerate(ladder.steps):
        if index in told or age < step["after_seconds"]:
            continue
        moment = call.raised_at + datetime.timedelta(seconds=step["after_seconds"])
        settled_at = call.acknowledged_at if step["when"] == "unacknowledged" else call.resolved_at
        if settled_at is not None and settled_at <= moment:
            continue  # answered in time: this step never comes
        if step["when"] == "unacknowledged" and call.state != State.OPEN:
            continue
        notice = AndonNotice.objects.create(call=call, ladder=ladder.code, step=index, channel=step["channel"], next_attempt_at=now)
        transaction.on_commit(lambda notice_id=notice.pk: _send_later(notice_id))
        recorded += 1
    return recorded


def _send_later(notice_id: int) -> None:
    from celery import current_app

    try:
        current_app.send_task(SEND_TASK, kwargs={"notice_id": notice_id})
    except Exception:  # the broker is down: the periodic sweep sends it
        logger.warning("andon notice %s not queued; the sweep will send it", notice_id, exc_info=True)


def andon_notices_due(*, now: datetime.datetime | None = None) -> int:
    """Send every notice that is due (pending, failed and due again, or claimed by a worker that died)."""
    now = now or timezone.now()
    return sum(andon_notice_send(notice_id=notice_id, now=now) for notice_id in deliveries_due(AndonNotice, now=now, limit=200))


def andon_notice_send(*, notice_id: int, now: datetime.datetime | None = None) -> int:
    """Claim one notice and send it; record the outcome. Answers 1 if this call sent it."""
    now = now or timezone.now()
    if not delivery_claim(AndonNotice, pk=notice_id, now=now):
        return 0
    notice = AndonNotice.objects.select_related("call__work_center", "call__equipment", "call__work_order").get(pk=notice_id)
    subject, text = notice_text(notice.call, step=notice.step)
    try:
        channel_send(channel=notice.channel, subject=subject, text=text, call=andon_json(notice.call), step=notice.step)
    except ChannelError as error:
        attempts = notice.attempts + 1
        delivery_failed(AndonNotice, pk=notice_id, attempts=attempts, max_attempts=settings.MES_ANDON_SEND_ATTEMPTS, error=str(error), now=now)
        logger.warning("andon notice %s not sent (attempt %s): %s", notice_id, attempts, error)
        return 0
    delivery_sent(AndonNotice, pk=notice_id, attempts=notice.attempts + 1)
    return 1


def notice_text(call: AndonCall, *, step: int) -> tuple[str, str]:
    """The notice's subject and text, in the plant's language."""
    with translation.override(settings.LANGUAGE_CODE):
        place = " / ".join(code for code in (call.work_center.code if call.work_center_id else _("the plant"), call.equipment.code if call.equipment_id else "") if code)
        subject = _("Andon %(severity)s: %(kind)s at %(place)s") % {
            "severity": AndonCall.Severity(call.severity).label, "kind": AndonCall.Kind(call.kind).label, "place": place,
        }
        minutes = int((timezone.now() - call.raised_at).total_seconds() // 60)
        lines = [
            subject,
            _("State: %(state)s, raised %(minutes)s min ago by %(who)s.") % {
                "state": AndonCall.State(call.state).label, "minutes": minutes, "who": call.raised_by or call.station or "-",
            },
        ]
        if call.work_order_id:
            lines.append(_("Work order: %(number)s") % {"number": call.work_order.number})
        if call.note:
            lines.append(_("Note: %(note)s") % {"note": call.note})
        lines.append(_("Escalation step %(step)s.") % {"step": step + 1})
    return subject, "\n".join(lines)


def andon_json(call: AndonCall) -> dict[str, Any]:
    def moment(value: datetime.datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": str(call.uuid),
        "kind": call.kind,
        "severity": call.severity,
        "state": call.state,
        "work_center": call.work_center.code if call.work_center_id else None,
        "cause": call.cause or None,
        "equipment": call.equipment.code if call.equipment_id else None,
        "work_order": call.work_order.number if call.work_order_id else None,
        "note": call.note,
        "station": call.station,
        "raised_at": moment(call.raised_at),
        "raised_by": call.raised_by,
        "acknowledged_at": moment(call.acknowledged_at),
        "acknowledged_by": call.acknowledged_by,
        "resolved_at": moment(call.resolved_at),
        "resolved_by": call.resolved_by,
        "resolution_note": call.resolution_note,
        "root_cause": call.root_cause,
        "closed_at": moment(call.closed_at),
        "closed_by": call.closed_by,
    }
