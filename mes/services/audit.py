from __future__ import annotations

import datetime
import hashlib
import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Exists, Max, OuterRef, Q
from django.utils import timezone

from common.masking import masked
from mes.models import Event, EventSeal, WorkOrder


def event_record(
    *,
    object_type: str,
    object_key: str,
    action: str,
    actor: Any = None,
    actor_label: str = "",
    work_order: WorkOrder | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
) -> Event:
    """Append one audit row. Call inside the transaction that makes the change it describes."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    return Event.objects.create(
        actor=user,
        actor_label=actor_label or (user.get_username() if user else ""),
        object_type=object_type,
        object_key=object_key,
        work_order=work_order,
        action=action,
        # Secrets (by their key's name, at any depth: see common.masking) never enter the trail: they
        # appear as "***" (set), or as the caller marked them ("*** (changed)").
        before=masked(before),
        after=masked(after),
        reason=reason[:500],
    )


# --- the hash chain (see ``EventSeal``) ----------------------------------------------------

#: The chain's start: what the first seal's "previous" hash is.
CHAIN_GENESIS = "0" * 64
#: Events are sealed in batches of this many, each batch in its own short transaction.
SEAL_BATCH = 2000
#: How far back (by ``occurred_at``) a run looks for events not sealed yet. An event is stamped
#: when its transaction writes it and sealed by the first run after it commits; a transaction
#: open longer than this would leave its events unsealed, and ``audit_verify`` would say so.
SEAL_LOOKBACK = datetime.timedelta(hours=1)


def events_seal() -> int:
    """Append a seal to the chain for every event committed since the last run; returns how many.

    Safe to run concurrently (runs queue on a lock on the seal table; inserting events never
    waits for it). Called by the beat task ``mes.audit_seal`` and by ``audit_verify --seal``.
    """
    sealed = 0
    while True:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    # Writers of events do not touch this table; only other sealers wait here.
                    cursor.execute("LOCK TABLE mes_eventseal IN SHARE ROW EXCLUSIVE MODE")
            previous = EventSeal.objects.order_by("-id").values_list("chain_hash", flat=True).first() or CHAIN_GENESIS
            events = list(_unsealed().order_by("id")[:SEAL_BATCH])
            seals = []
            for event in events:
                event_hash = event_content_hash(event=event)
                previous = chain_hash(previous=previous, event_hash=event_hash)
                seals.append(EventSeal(event_id=event.pk, event_hash=event_hash, chain_hash=previous))
            EventSeal.objects.bulk_create(seals)
        sealed += len(events)
        if len(events) < SEAL_BATCH:
            return sealed


def _unsealed():
    """Events without a seal: any after the highest sealed id, and stragglers stamped within the look-back."""
    highest = EventSeal.objects.aggregate(highest=Max("event_id"))["highest"]
    candidates = Event.objects.all()
    if highest is not None:
        candidates = candidates.filter(Q(pk__gt=highest) | Q(occurred_at__gte=timezone.now() - SEAL_LOOKBACK))
    return candidates.exclude(Exists(EventSeal.objects.filter(event_id=OuterRef("pk"))))


def event_content_hash(*, event: Event) -> str:
    """SHA-256 of everything an event says, in a canonical JSON form."""
    content = {
        "id": event.pk,
        "occurred_at": event.occurred_at.isoformat(),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "object_type": event.object_type,
        "object_key": event.object_key,
        "work_order_id": event.work_order_id,
        "action": event.action,
        "before": event.before,
        "after": event.after,
        "reason": event.reason,
    }
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder)
    return hashlib.sha256(text.encode()).hexdigest()


def chain_hash(*, previous: str, event_hash: str) -> str:
    return hashlib.sha256(f"{previous}:{event_hash}".encode()).hexdigest()
