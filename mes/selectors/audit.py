"""Reading the audit trail's hash chain back: does every link still hold?"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, Max, OuterRef
from django.utils import timezone

from mes.models import Event, EventSeal
from mes.services.audit import CHAIN_GENESIS, SEAL_LOOKBACK, chain_hash, event_content_hash

VERIFY_BATCH = 5000


@dataclass(frozen=True)
class ChainReport:
    sealed: int  # links checked
    unsealed: int  # events not sealed yet (the sealing task has not run since they were written)
    problem: str = ""  # the first broken link, in words; empty when the chain holds

    @property
    def intact(self) -> bool:
        return not self.problem


def audit_chain_verify() -> ChainReport:
    """Recompute every seal in chain order; stop at the first that does not hold."""
    previous, checked, after_id = CHAIN_GENESIS, 0, 0
    while True:
        seals = list(EventSeal.objects.filter(pk__gt=after_id).order_by("id")[:VERIFY_BATCH])
        if not seals:
            break
        events = Event.objects.in_bulk([seal.event_id for seal in seals])
        for seal in seals:
            event = events.get(seal.event_id)
            if chain_hash(previous=previous, event_hash=seal.event_hash) != seal.chain_hash:
                return ChainReport(checked, _unsealed_count(), f"the chain breaks before event #{seal.event_id} "
                                   f"(seal {seal.pk}): a seal was removed or changed")
            if event is None:
                return ChainReport(checked, _unsealed_count(), f"event #{seal.event_id} was deleted (seal {seal.pk})")
            if event_content_hash(event=event) != seal.event_hash:
                return ChainReport(checked, _unsealed_count(), f"event #{event.pk} ({event}) was changed after it was sealed "
                                   f"(seal {seal.pk}, {seal.sealed_at:%Y-%m-%d %H:%M:%S})")
            previous = seal.chain_hash
            checked += 1
        after_id = seals[-1].pk
    missed = _missed()
    if missed:
        return ChainReport(checked, _unsealed_count(), f"event #{missed} is not sealed although later events are and it is "
                           f"older than {SEAL_LOOKBACK}: it was added afterwards")
    return ChainReport(checked, _unsealed_count())


def _without_seal():
    return Event.objects.exclude(Exists(EventSeal.objects.filter(event_id=OuterRef("pk"))))


def _unsealed_count() -> int:
    return _without_seal().count()


def _missed() -> int | None:
    """An event the sealer can no longer see: below the highest sealed id and older than its look-back."""
    highest = EventSeal.objects.aggregate(highest=Max("event_id"))["highest"]
    if highest is None:
        return None
    missed = _without_seal().filter(pk__lt=highest, occurred_at__lt=timezone.now() - SEAL_LOOKBACK)
    return missed.order_by("id").values_list("pk", flat=True).first()
