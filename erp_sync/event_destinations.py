"""Writes and reads of the event stream's destinations: add or change, enable, remove, test, list.

A destination is given as one URL (``amqp://user:password@host:5672/vhost``,
``mqtt://user:password@host:1883``); its password is stored encrypted (``common.crypto``) and
never shown back: answers, lists and the audit trail show ``***`` in its place, and a URL written
back with ``***`` as its password keeps the stored one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from django.db import transaction
from django.db.models import Count, Q
from django.utils.translation import gettext as _

from common.errors import DomainError, ErrorKind
from common.masking import HIDDEN
from erp_sync.event_stream import BROKER_ERRORS, destination_test, events_last_position, events_number
from erp_sync.models import EventDestination, StreamEvent
from erp_sync.wakeups import destinations_changed
from mes.services.audit import event_record

SLUG = re.compile(r"[A-Za-z0-9_-]{1,64}")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x20\x7f]")
#: An AMQP exchange name as RabbitMQ takes it; not the default exchange, not amq.* (reserved).
EXCHANGE = re.compile(r"[A-Za-z0-9_.:-]{1,255}")
#: Characters an MQTT topic prefix may not hold: wildcards and NUL.
TOPIC_FORBIDDEN = re.compile(r"[#+\x00]")
DEFAULT_EXCHANGE = "mes.events"
DEFAULT_TOPIC_PREFIX = "mes/"


@dataclass(frozen=True)
class ParsedUrl:
    kind: str
    url: str  # without the password
    password: str | None  # None: none given in the URL; HIDDEN: keep the stored one


def _invalid(code: str, message: str, **fields: Any) -> DomainError:
    return DomainError(code, message, fields={key: str(value) for key, value in fields.items()})


def url_parse(*, url: str) -> ParsedUrl:
    """The kind, the URL without its password, and the password; refused (``invalid_url``) unless
    it is amqp:// or mqtt:// with a host (and a valid port)."""
    url = (url or "").strip()
    if CONTROL_CHARACTERS.search(url) or len(url) > 480:
        raise _invalid("invalid_url", _("The URL must be at most 480 characters, without spaces or control characters."), url=url[:100])
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _invalid("invalid_url", _("The URL is not valid: %(url)s") % {"url": url}, url=url) from None
    scheme = parts.scheme.lower()
    if scheme not in EventDestination.Kind.values or not parts.hostname:
        raise _invalid(
            "invalid_url", _("The URL must start with amqp:// or mqtt:// and name a host (amqps and mqtts are not supported)."), url=url
        )
    if parts.query or parts.fragment or (scheme == "mqtt" and parts.path not in {"", "/"}):
        raise _invalid("invalid_url", _("The URL takes no query, fragment or (for MQTT) path: %(url)s") % {"url": url}, url=url)
    user = unquote(parts.username or "")
    password = unquote(parts.password) if parts.password is not None else None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc = f"{quote(user, safe='')}@{host}" if user else host
    if port:
        netloc = f"{netloc}:{port}"
    path = parts.path if scheme == "amqp" and parts.path not in {"", "/"} else ("/%2F" if scheme == "amqp" else "")
    return ParsedUrl(kind=scheme, url=urlunsplit((scheme, netloc, path, "", "")), password=password)


def public_url(destination: EventDestination) -> str:
    """The URL as pages, answers and lists show it: the password as ``***`` when one is stored."""
    if not destination.password:
        return destination.url
    parts = urlsplit(destination.url)
    user = parts.netloc.rsplit("@", 1)[0] if "@" in parts.netloc else ""
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, f"{user}:{HIDDEN}@{host}", parts.path, "", ""))


def _audited(destination: EventDestination) -> dict[str, Any]:
    return {
        "kind": destination.kind, "url": public_url(destination), "exchange": destination.exchange,
        "topic_prefix": destination.topic_prefix, "is_enabled": destination.is_enabled,
    }


def event_destination_check(*, name: str, url: str, exchange: str | None = None, topic_prefix: str | None = None) -> ParsedUrl:
    """Refuse (``DomainError``) what a destination would be stored with, as ``event_destination_upsert``
    does; for forms that check before they save. ``exchange`` and ``topic_prefix`` as they would be stored."""
    if not SLUG.fullmatch(name or ""):
        raise _invalid("invalid_name", _("A destination name uses letters, digits, - and _ (1 to 64)."), name=name)
    parsed = url_parse(url=url)
    if parsed.kind == EventDestination.Kind.AMQP:
        if topic_prefix:
            raise _invalid("invalid_topic_prefix", _("An AMQP destination takes an exchange, not a topic prefix."), topic_prefix=topic_prefix)
        if exchange is not None and (not EXCHANGE.fullmatch(exchange) or exchange.startswith("amq.")):
            raise _invalid(
                "invalid_exchange", _("The exchange uses letters, digits, and . _ : - (1 to 255), and does not start with amq."),
                exchange=exchange,
            )
    else:
        if exchange:
            raise _invalid("invalid_exchange", _("An MQTT destination takes a topic prefix, not an exchange."), exchange=exchange)
        if topic_prefix is not None and (TOPIC_FORBIDDEN.search(topic_prefix) or len(topic_prefix) > 200):
            raise _invalid(
                "invalid_topic_prefix", _("The topic prefix may not hold # or + and is at most 200 characters."), topic_prefix=topic_prefix
            )
    return parsed


@transaction.atomic
def event_destination_upsert(
    *,
    name: str,
    url: str,
    exchange: str | None = None,
    topic_prefix: str | None = None,
    is_enabled: bool | None = None,
    actor: Any = None,
) -> tuple[EventDestination, bool]:
    """Create or change a destination by name. A new one gets the events from now on (its position
    is the last one given); a password left out of the URL, or written as ``***``, keeps the stored one.
    ``exchange`` (AMQP, default mes.events) and ``topic_prefix`` (MQTT, default mes/) left as None keep theirs."""
    parsed = event_destination_check(name=name, url=url, exchange=exchange, topic_prefix=topic_prefix)
    destination = EventDestination.objects.select_for_update().filter(name=name).first()
    created = destination is None
    before = None if created else _audited(destination)
    if created:
        destination = EventDestination(name=name)
    elif destination.kind != parsed.kind:
        raise _invalid(
            "kind_changed", _("Destination %(name)s is %(kind)s; remove it to add a %(new)s one.")
            % {"name": name, "kind": destination.kind, "new": parsed.kind}, url=url,
        )
    destination.kind = parsed.kind
    destination.url = parsed.url
    if parsed.password == HIDDEN:
        if not destination.password:
            raise _invalid("nothing_stored", _("The URL's password is ***, but no password is stored to keep."), url=url)
    elif parsed.password is not None or created:
        destination.password = parsed.password or ""
    if parsed.kind == EventDestination.Kind.AMQP:
        destination.exchange = exchange or destination.exchange or DEFAULT_EXCHANGE
        destination.topic_prefix = ""
    else:
        destination.exchange = ""
        destination.topic_prefix = topic_prefix if topic_prefix is not None else (DEFAULT_TOPIC_PREFIX if created else destination.topic_prefix)
    if is_enabled is not None:
        destination.is_enabled = is_enabled
    if created:
        events_number()  # from now on: everything committed so far is behind its position
        destination.position = events_last_position()
    destination.save()
    event_record(
        object_type="event_destination", object_key=name, action="create" if created else "update", actor=actor,
        before=before, after=_audited(destination),
    )
    destinations_changed()  # this transaction sees it at once; others when it commits
    transaction.on_commit(destinations_changed)
    return destination, created


def event_destination_get(*, name: str) -> EventDestination:
    destination = EventDestination.objects.filter(name=name).first()
    if destination is None:
        raise DomainError(
            "unknown_destination", _("No event destination named %(name)s.") % {"name": name}, kind=ErrorKind.NOT_FOUND, fields={"name": name},
        )
    return destination


@transaction.atomic
def event_destination_enable(*, name: str, enabled: bool, actor: Any = None) -> EventDestination:
    """Enable or disable a destination. Disabled, it keeps its position: enabled again, it catches up."""
    destination = event_destination_get(name=name)
    before = _audited(destination)
    destination.is_enabled = enabled
    destination.save(update_fields=["is_enabled", "updated_at"])
    event_record(object_type="event_destination", object_key=name, action="enable" if enabled else "disable", actor=actor, before=before, after=_audited(destination))
    destinations_changed()  # this transaction sees it at once; others when it commits
    transaction.on_commit(destinations_changed)
    return destination


@transaction.atomic
def event_destination_remove(*, name: str, actor: Any = None) -> None:
    destination = event_destination_get(name=name)
    event_record(object_type="event_destination", object_key=name, action="delete", actor=actor, before=_audited(destination))
    destination.delete()
    destinations_changed()  # this transaction sees it at once; others when it commits
    transaction.on_commit(destinations_changed)


@dataclass(frozen=True)
class TestResult:
    ok: bool
    detail: str
    latency_ms: int | None


def event_destination_test(*, name: str) -> TestResult:
    """Publish one ``mes.test`` event to the destination and wait for the broker's confirm."""
    destination = event_destination_get(name=name)
    if destination.unreadable_secrets():
        return TestResult(False, _("The password must be re-entered: MES_SECRETS_KEY cannot decrypt it."), None)
    try:
        latency = destination_test(destination=destination)
    except BROKER_ERRORS as error:
        return TestResult(False, f"{type(error).__name__}: {error}", None)
    return TestResult(True, _("The broker confirmed a test event."), round(latency))


def event_destinations_list() -> list[dict[str, Any]]:
    """Every destination as answers and lists show it, with how many events it has yet to get."""
    events_number()
    rows = list(EventDestination.objects.order_by("name"))
    if not rows:
        return []
    lowest = min(row.position for row in rows)
    counts = StreamEvent.objects.filter(position__gt=lowest).aggregate(
        **{f"d{row.pk}": Count("id", filter=Q(position__gt=row.position)) for row in rows}
    )
    return [event_destination_json(row, pending=counts[f"d{row.pk}"]) for row in rows]


def event_destination_json(destination: EventDestination, *, pending: int | None = None) -> dict[str, Any]:
    return {
        "name": destination.name,
        "kind": destination.kind,
        "url": public_url(destination),
        "exchange": destination.exchange or None,
        "topic_prefix": destination.topic_prefix if destination.kind == EventDestination.Kind.MQTT else None,
        "is_enabled": destination.is_enabled,
        "position": destination.position,
        "pending": pending,
        "published_count": destination.published_count,
        "last_published_at": destination.last_published_at,
        "last_error": destination.last_error or None,
        "failing_since": destination.failing_since,
        "secret_state": "must_be_reentered" if destination.unreadable_secrets() else "ok",
        "updated_at": destination.updated_at,
    }
