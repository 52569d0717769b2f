"""Writes of ERP sync other than the outbox itself: connections, dead-letter replay and discard."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlparse

from django.db import DatabaseError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from common.client_ip import client_ip
from common.errors import DomainError, ErrorKind
from common.masking import NothingStoredToKeep, masked, unmasked
from erp_sync.connectors.base import Health
from erp_sync.connectors.registry import CONNECTOR_CLASSES, connector_class
from erp_sync.models import ErpConnection, InboundReceipt, OutboxMessage
from erp_sync.outbox import wake_sender_after_commit
from erp_sync.transitions import message_transition
from mes.services.audit import event_record

logger = logging.getLogger(__name__)

SLUG = re.compile(r"[A-Za-z0-9_-]{1,64}")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f]")


def _audited(connection: ErpConnection) -> dict[str, Any]:
    """A connection's values for the audit trail, secrets still in clear: mask them with ``masked``."""
    return {
        "kind": connection.kind,
        "base_url": connection.base_url,
        "username": connection.username,
        "password": connection.password,
        "token": connection.token,
        "options": connection.options,
        "timeout_seconds": connection.timeout_seconds,
        "is_default": connection.is_default,
        "is_enabled": connection.is_enabled,
    }


def _public(values: dict[str, Any], before: dict[str, Any] | None = None) -> dict[str, Any]:
    """``_audited`` values as the trail may show them: secrets only as set, changed (against ``before``) or empty."""
    return masked(values) if before is None else masked(values, before)


def erp_connection_check(
    *,
    name: str,
    kind: str,
    base_url: str,
    username: str,
    password: str,
    token: str,
    options: dict[str, Any],
    timeout_seconds: int | None,
) -> None:
    """Refuse (``DomainError``) the values a connection would be stored with, as ``erp_connection_upsert`` does.

    For forms that check before they save; ``options`` with secrets already written back.
    """
    _check_address(name=name, kind=kind, base_url=base_url, timeout_seconds=timeout_seconds)
    _check_options(kind=kind, options=options)
    _check_credentials(kind=kind, username=username, password=password, token=token, options=options)


def _check_address(*, name: str, kind: str, base_url: str, timeout_seconds: int | None) -> None:
    if not SLUG.fullmatch(name or ""):
        raise DomainError("invalid_name", _("A connection name uses letters, digits, - and _ (1 to 64)."), fields={"name": name})
    if kind not in CONNECTOR_CLASSES:
        raise DomainError("unknown_kind", _("Kind must be one of %(kinds)s.") % {"kinds": ", ".join(CONNECTOR_CLASSES)}, fields={"kind": kind})
    parsed = urlparse(base_url)
    if parsed.scheme == "file" and connector_class(kind).accepts_folder:
        if parsed.netloc not in ("", "localhost") or not parsed.path.startswith("/") or CONTROL_CHARACTERS.search(base_url):
            raise DomainError(
                "invalid_url", _("A folder URL names an absolute path on this machine: file:///path/to/folder."), fields={"url": base_url}
            )
    elif parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise DomainError("invalid_url", _("The URL must start with http:// or https:// and name a host."), fields={"url": base_url})
    if timeout_seconds is not None and not 1 <= timeout_seconds <= 300:
        raise DomainError("invalid_timeout", _("The timeout must be between 1 and 300 seconds."), fields={"timeout_seconds": timeout_seconds})


def _check_options(*, kind: str, options: dict[str, Any]) -> None:
    problems = connector_class(kind).validate_options(options)
    if problems:
        raise DomainError(
            "invalid_options",
            _("The options are not valid: %(problems)s") % {"problems": "; ".join(f"{key}: {value}" for key, value in problems.items())},
            fields={f"options.{key}": value for key, value in problems.items()},
        )


def _check_credentials(*, kind: str, username: str, password: str, token: str, options: dict[str, Any]) -> None:
    refused = connector_class(kind).validate_credentials(username=username, password=password, token=token, options=options)
    if refused:
        raise DomainError(
            "invalid_credentials",
            _("This ERP cannot be sent these credentials: %(problems)s")
            % {"problems": "; ".join(f"{key}: {value}" for key, value in refused.items())},
            fields=refused,
        )


@transaction.atomic
def erp_connection_upsert(
    *,
    name: str,
    kind: str,
    base_url: str,
    username: str | None = None,
    password: str | None = None,
    token: str | None = None,
    options: dict[str, Any] | None = None,
    timeout_seconds: int | None = None,
    is_default: bool | None = None,
    is_enabled: bool | None = None,
    actor: Any = None,
) -> tuple[ErpConnection, bool]:
    """Create or change a connection by name. Secrets left as None keep their stored value, and so
    do secrets in ``options`` written as "***" (as answers show them).

    Making a connection the default takes that role from any other, in the same transaction.
    """
    _check_address(name=name, kind=kind, base_url=base_url, timeout_seconds=timeout_seconds)
    connection = ErpConnection.objects.select_for_update().filter(name=name).first()
    if options is not None:
        options = options_unmasked(options=options, stored=connection.options if connection is not None else {})
    _check_options(kind=kind, options=options or {})
    created = connection is None
    before = None if created else _audited(connection)
    if created:
        connection = ErpConnection(name=name)
    connection.kind = kind
    connection.base_url = base_url
    for field, value in (("username", username), ("password", password), ("token", token), ("timeout_seconds", timeout_seconds), ("is_enabled", is_enabled)):
        if value is not None:
            setattr(connection, field, value)
    if options is not None:
        connection.options = options
    _check_credentials(
        kind=kind, username=connection.username, password=connection.password, token=connection.token, options=connection.options or {}
    )
    if is_default:
        ErpConnection.objects.filter(is_default=True).exclude(name=name).update(is_default=False)
        connection.is_default = True
    elif is_default is False:
        connection.is_default = False
    connection.save()
    event_record(
        object_type="erp_connection", object_key=name, action="create" if created else "update", actor=actor,
        before=None if before is None else _public(before), after=_public(_audited(connection), before),
    )
    return connection, created


def options_unmasked(*, options: Any, stored: Any) -> Any:
    """Options with every secret written back as "***" replaced by the stored one; refused where none is stored."""
    try:
        return unmasked(options, stored)
    except NothingStoredToKeep as error:
        raise DomainError(
            "secret_not_stored",
            _("\"***\" keeps a stored secret, but %(path)s has none stored; send the secret itself.") % {"path": f"options.{error.path}"},
            fields={f"options.{error.path}": "nothing stored to keep"},
        ) from None


@transaction.atomic
def erp_connection_batch_not_offered(*, name: str) -> bool:
    """Remember that the ERP behind ``name`` has no batch call (option ``batch_offered``: false), so
    every worker posts one by one from now on; audited. True when this changed the connection.

    The connection's ``updated_at`` moves, so each worker process takes a fresh connector.
    """
    connection = ErpConnection.objects.select_for_update().filter(name=name).first()
    if connection is None or (connection.options or {}).get("batch_offered") is False:
        return False
    before = _audited(connection)
    connection.options = {**(connection.options or {}), "batch_offered": False}
    connection.save(update_fields=["options", "updated_at"])
    event_record(
        object_type="erp_connection", object_key=name, action="batch_not_offered", before=_public(before), after=_public(_audited(connection), before),
        reason="The ERP answered its batch call as not there; confirmations go one by one.",
    )
    return True


def erp_connection_batching(*, name: str) -> str:
    """How the connection sends several confirmations, for ``erp_connection test``; "" where its kind has no batch call."""
    row = erp_connection_get(name=name)
    connector = connector_class(row.kind)(row.as_config())
    try:
        if not connector.batch_call:
            return ""
        if not connector.batch_offered:
            return (
                f"{connector.batch_call}: not offered by this ERP (it answered the batch call as not there), "
                "so confirmations go one by one. To try it again: --option batch_offered=true."
            )
        if connector.batch_size == 1:
            return f"{connector.batch_call}: off (batch_size 1), confirmations go one by one."
        return f"{connector.batch_call}: up to {connector.batch_size} confirmations of different orders per request."
    finally:
        connector.close()


def erp_connection_test(*, name: str) -> Health:
    """One cheap call through a fresh connector: does the ERP answer these credentials?"""
    row = erp_connection_get(name=name)
    connector = connector_class(row.kind)(row.as_config())
    try:
        return connector.health()
    finally:
        connector.close()


def erp_connection_get(*, name: str) -> ErpConnection:
    try:
        return ErpConnection.objects.get(name=name)
    except ErpConnection.DoesNotExist:
        raise DomainError("unknown_connection", _("No ERP connection named %(name)s.") % {"name": name}, kind=ErrorKind.NOT_FOUND) from None


# --- dead letters ------------------------------------------------------------------------


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("reason_required", _("Say why: a reason is required."), fields={"reason": "required"})
    return reason[:500]


def _dead_messages_locked(message_ids: list[int], refusal: str) -> list[OutboxMessage]:
    """Lock the messages named; refuse the lot if any is unknown or not dead (``refusal`` names the act)."""
    messages = list(OutboxMessage.objects.select_for_update().filter(pk__in=message_ids).order_by("pk"))
    missing = sorted(set(message_ids) - {message.pk for message in messages})
    if missing:
        raise DomainError("unknown_message", _("No outbox message with id %(ids)s.") % {"ids": ", ".join(map(str, missing))}, kind=ErrorKind.NOT_FOUND)
    not_dead = [message.pk for message in messages if message.state != OutboxMessage.State.DEAD]
    if not_dead:
        raise DomainError("message_not_dead", refusal % {"ids": ", ".join(map(str, not_dead))}, kind=ErrorKind.CONFLICT)
    return messages


@transaction.atomic
def messages_replay(*, message_ids: list[int], reason: str, actor: Any = None) -> list[OutboxMessage]:
    """Send dead messages again (after the master data or the ERP was fixed), audited.

    A message that never reached the ERP is simply resent; one whose fate was unclear is
    looked up by our key first, as always. All or nothing: any id that is not dead refuses the lot.
    """
    reason = _require_reason(reason)
    messages = _dead_messages_locked(message_ids, _("Only dead messages can be replayed; not dead: %(ids)s."))
    now = timezone.now()
    for message in messages:
        message_transition(message, target=OutboxMessage.State.RETRYING, changes={"next_attempt_at": now})
        event_record(
            object_type="outbox_message", object_key=str(message.idempotency_key), action="replay", actor=actor,
            before={"state": "dead", "last_error": message.last_error}, after={"state": "retrying"}, reason=reason,
        )
    wake_sender_after_commit()
    return messages


@transaction.atomic
def messages_discard(*, message_ids: list[int], reason: str, actor: Any = None) -> list[OutboxMessage]:
    """Give up on dead messages so their orders' later messages can go; the ERP never gets them.
    Audited; all or nothing, like replay."""
    reason = _require_reason(reason)
    messages = _dead_messages_locked(message_ids, _("Only dead messages can be discarded; not dead: %(ids)s."))
    for message in messages:
        message_transition(message, target=OutboxMessage.State.DISCARDED)
        event_record(
            object_type="outbox_message", object_key=str(message.idempotency_key), action="discard", actor=actor,
            before={"state": "dead", "last_error": message.last_error}, after={"state": "discarded"}, reason=reason,
        )
    wake_sender_after_commit()  # the orders' next messages may go now
    return messages


def message_discard(*, message_id: int, reason: str, actor: Any = None) -> OutboxMessage:
    """Discard one dead message (see ``messages_discard``)."""
    return messages_discard(message_ids=[message_id], reason=reason, actor=actor)[0]


# --- inbound receipts ----------------------------------------------------------------------


def inbound_receipt_record(*, request: HttpRequest, payload_sha256: str, status_code: int, result: dict[str, Any]) -> None:
    """Keep the receipt of one push an ERP made through the API (``common.api.base.InboundWriteView``).

    A failed receipt never spoils the push: it is written in a savepoint, and a database error is logged.
    """
    try:
        with transaction.atomic():
            InboundReceipt.objects.create(
                user=request.user,
                method=request.method,
                path=CONTROL_CHARACTERS.sub("\N{REPLACEMENT CHARACTER}", request.path)[:300],
                remote_addr=client_ip(request)[:64],
                payload_sha256=payload_sha256,
                status_code=status_code,
                result=result,
            )
    except DatabaseError:
        # The push itself is recorded or refused already; a lost receipt must not turn it into an error.
        logger.exception("Could not record the inbound receipt of %s %s", request.method, request.path)
