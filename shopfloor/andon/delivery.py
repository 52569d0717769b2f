"""The bookkeeping of a ``ChannelDelivery`` (an andon notice, a daily report): which are due, the
claim that lets one worker alone send one, and the outcome recorded.

A delivery is claimed (``pending``/``failed`` and due → ``sending``) by one conditional update, so
two workers never send it both; the caller sends outside any transaction and records ``sent``, or
``failed`` with a back-off (10 s, 20 s, 40 s … up to 10 min), ``gave_up`` after ``max_attempts``. A
``sending`` claim older than ``CLAIM_TIMEOUT`` (a worker that died) is due again.
"""

from __future__ import annotations

import datetime

from django.db.models import Q
from django.utils import timezone

from shopfloor.models import ChannelDelivery

CLAIM_TIMEOUT = datetime.timedelta(minutes=1)
State = ChannelDelivery.State


def _due(now: datetime.datetime) -> Q:
    return Q(state__in=(State.PENDING, State.FAILED), next_attempt_at__lte=now) | Q(state=State.SENDING, claimed_at__lt=now - CLAIM_TIMEOUT)


def deliveries_due(model: type[ChannelDelivery], *, now: datetime.datetime, limit: int, order: tuple[str, ...] = ("pk",)) -> list[int]:
    """The ids of up to ``limit`` deliveries due now."""
    return list(model.objects.filter(_due(now)).order_by(*order).values_list("pk", flat=True)[:limit])


def delivery_claim(model: type[ChannelDelivery], *, pk: int, now: datetime.datetime) -> bool:
    """Take the delivery for this worker if it is due; False when it is not (sent, not due, or another worker's)."""
    return bool(model.objects.filter(pk=pk).filter(_due(now)).update(state=State.SENDING, claimed_at=now))


def delivery_failed(
    model: type[ChannelDelivery], *, pk: int, attempts: int, max_attempts: int, error: str, now: datetime.datetime
) -> None:
    """Record a failed try (``attempts`` counts it): due again after the back-off, or given up."""
    model.objects.filter(pk=pk).update(
        state=State.GAVE_UP if attempts >= max_attempts else State.FAILED, attempts=attempts,
        next_attempt_at=now + datetime.timedelta(seconds=min(10 * 2 ** (attempts - 1), 600)), last_error=error[:500], claimed_at=None,
    )


def delivery_sent(model: type[ChannelDelivery], *, pk: int, attempts: int) -> None:
    model.objects.filter(pk=pk).update(state=State.SENT, attempts=attempts, sent_at=timezone.now(), last_error="", claimed_at=None)
