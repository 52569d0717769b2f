import datetime
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from common.crypto import (
    EncryptedTextField,
    SecretMustBeReentered,
    SecretsJSONField,
    UnreadableSecret,
    unreadable_paths,
)
from erp_sync.connectors.base import ConnectionConfig, FailureKind


class ErpConnection(models.Model):
    """Where ERP messages go and how to reach it. Secrets are stored encrypted (``common.crypto``), never shown back:
    the password, the token and every secret in the options."""

    class Kind(models.TextChoices):
        SAP = "sap", "SAP S/4HANA (OData)"
        ERPNEXT = "erpnext", "ERPNext"
        ODOO = "odoo", "Odoo"
        KINGDEE = "kingdee", _("Kingdee K/3 Cloud")
        U8 = "u8", _("Yonyou U8+ (OpenAPI)")
        REST = "rest", _("generic REST / webhook")
        B2MML = "b2mml", _("ISA-95 B2MML (HTTP or folder)")

    name = models.SlugField(_("name"), max_length=64, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    base_url = models.URLField(_("base URL"), max_length=500)
    username = models.CharField(_("user"), max_length=200, blank=True)
    password = EncryptedTextField(_("password"), blank=True)
    token = EncryptedTextField(_("token"), blank=True)
    options = SecretsJSONField(_("options"), default=dict, blank=True, help_text=_("Settings particular to the kind."))
    timeout_seconds = models.PositiveSmallIntegerField(_("timeout (seconds)"), default=10)
    is_default = models.BooleanField(_("default"), default=False, help_text=_("Receives every work order that names no other connection."))
    is_enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("ERP connection")
        verbose_name_plural = _("ERP connections")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=models.Q(is_default=True), name="erp_connection_one_default"),
            models.CheckConstraint(condition=models.Q(timeout_seconds__gte=1, timeout_seconds__lte=300), name="erp_connection_timeout_range"),
        ]

    def __str__(self) -> str:
        return self.name

    def unreadable_secrets(self) -> list[str]:
        """The secrets no key in MES_SECRETS_KEY decrypts, by field (``options.<path>`` for options): to be re-entered."""
        paths = [name for name in ("password", "token") if isinstance(getattr(self, name), UnreadableSecret)]
        return paths + sorted(f"options.{path}" for path in unreadable_paths(self.options))

    def as_config(self) -> ConnectionConfig:
        """What a connector needs of this row, detached from the database; refused while a secret must be re-entered."""
        unreadable = self.unreadable_secrets()
        if unreadable:
            raise SecretMustBeReentered(f"ERP connection {self.name}", unreadable)
        return ConnectionConfig(
            name=self.name,
            kind=self.kind,
            base_url=self.base_url,
            username=self.username,
            password=self.password,
            token=self.token,
            options=dict(self.options or {}),
            timeout_seconds=float(self.timeout_seconds),
        )


class OutboxMessage(models.Model):
    """Something the ERP must hear, written in the same transaction as the fact it reports.

    ``idempotency_key`` is the key the ERP sees (SAP's ExternalSystemConfirmation, ERPNext's
    custom field, …), so a resend can never book twice. Messages of one work order
    (``partition_key``) are numbered by ``sequence`` and reach the ERP in that order: a
    message is only sent when every earlier one of its order is acknowledged or discarded.
    """

    class Kind(models.TextChoices):
        CONFIRMATION = "confirmation", _("confirmation")
        REVERSAL = "reversal", _("reversal")
        GOODS_ISSUE = "goods_issue", _("goods issue")
        GOODS_ISSUE_REVERSAL = "goods_issue_reversal", _("goods issue reversal")
        GOODS_RECEIPT = "goods_receipt", _("goods receipt")
        GOODS_RECEIPT_REVERSAL = "goods_receipt_reversal", _("goods receipt reversal")
        INSPECTION_RESULT = "inspection_result", _("inspection result")
        NONCONFORMANCE_DISPOSITION = "nonconformance_disposition", _("nonconformance disposition")
        RETURN_TO_SUPPLIER = "return_to_supplier", _("return to supplier")

    class State(models.TextChoices):
        QUEUED = "queued", _("queued")
        SENDING = "sending", _("sending")
        ACKNOWLEDGED = "acknowledged", _("acknowledged")
        RETRYING = "retrying", _("retrying")
        DEAD = "dead", _("dead")
        DISCARDED = "discarded", _("discarded")

    idempotency_key = models.UUIDField(_("idempotency key"), default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    partition_key = models.CharField(_("work order"), max_length=64)
    sequence = models.PositiveIntegerField(_("sequence in work order"))
    payload = models.JSONField(_("payload"))
    source_uuid = models.UUIDField(_("source record"), help_text=_("The confirmation, material movement, inspection result or disposition this message reports."))
    destination = models.CharField(
        _("connection"), max_length=64, blank=True, help_text=_("Name of the ERP connection; empty = the default connection.")
    )
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    needs_lookup = models.BooleanField(
        _("look up before resending"), default=False,
        help_text=_("An earlier attempt may have reached the ERP; ask the ERP by our key before sending again."),
    )
    claim_token = models.UUIDField(_("claim"), null=True, blank=True, editable=False)
    lease_until = models.DateTimeField(_("claimed until"), null=True, blank=True)
    erp_document = models.CharField(_("ERP document"), max_length=200, blank=True)
    erp_ref = models.JSONField(_("ERP reference"), null=True, blank=True, help_text=_("The keys the ERP gave the posting."))
    last_error = models.TextField(_("last error"), blank=True)
    failure_kind = models.CharField(
        _("kind of failure"), max_length=16, choices=FailureKind.choices, blank=True,
        help_text=_("What went wrong on the last attempt, as the connector classified it; empty once acknowledged."),
    )
    created_at = models.DateTimeField(_("queued at"), auto_now_add=True)
    first_sent_at = models.DateTimeField(_("first sent at"), null=True, blank=True)
    last_attempt_at = models.DateTimeField(_("last attempt at"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["partition_key", "sequence"], name="outbox_unique_partition_sequence"),
        ]
        indexes = [
            models.Index(fields=["source_uuid"], name="outbox_source"),
            # The dispatcher only ever looks at messages not yet settled; keep that index small.
            models.Index(
                fields=["next_attempt_at", "id"],
                name="outbox_due",
                condition=models.Q(state__in=["queued", "retrying"]),
            ),
            models.Index(
                fields=["partition_key", "sequence"],
                name="outbox_unsettled",
                condition=~models.Q(state__in=["acknowledged", "discarded"]),
            ),
            models.Index(fields=["state"], name="outbox_state"),
        ]

    def __str__(self) -> str:
        return f"{self.partition_key}#{self.sequence} {self.kind}"


class OutboxDependency(models.Model):
    """A message that must not go before another one is settled: an issue of a lot made here waits
    for the message that received that lot (another order's, so their sequences do not order them).

    ``waits_for_key`` is the other message's idempotency key, not a foreign key: both are written in
    one statement, and a key no message carries (never queued) holds nothing back. Settled means
    acknowledged or discarded, as for an order's earlier messages; a dead receipt holds its issue.
    """

    message = models.ForeignKey(OutboxMessage, models.CASCADE, related_name="dependencies", verbose_name=_("message"), db_index=False)  # the unique constraint leads with it
    waits_for_key = models.UUIDField(_("waits for"), db_index=True, help_text=_("The idempotency key of the message this one waits for."))

    class Meta:
        verbose_name = _("outbox dependency")
        verbose_name_plural = _("outbox dependencies")
        constraints = [models.UniqueConstraint(fields=["message", "waits_for_key"], name="outbox_dependency_once")]

    def __str__(self) -> str:
        return f"{self.message_id} waits for {self.waits_for_key}"


class DeliveryAttempt(models.Model):
    """One try at telling the ERP: the journey of a message, step by step."""

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", _("accepted")
        DUPLICATE = "duplicate", _("already in the ERP")
        RETRYABLE = "retryable", _("temporary failure")
        REJECTED = "rejected", _("rejected")
        UNKNOWN = "unknown", _("outcome unknown")
        FOUND = "found", _("found by look-up")
        NOT_FOUND = "not_found", _("not found by look-up")

    message = models.ForeignKey(OutboxMessage, models.CASCADE, related_name="deliveries", verbose_name=_("message"))
    connection = models.ForeignKey(ErpConnection, models.SET_NULL, null=True, related_name="+", verbose_name=_("connection"))
    started_at = models.DateTimeField(_("started at"))
    duration_ms = models.PositiveIntegerField(_("duration (ms)"))
    action = models.CharField(_("action"), max_length=16, default="post")
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    http_status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    error = models.TextField(_("ERP message"), blank=True)
    failure_kind = models.CharField(_("kind of failure"), max_length=16, choices=FailureKind.choices, blank=True)
    erp_document = models.CharField(_("ERP document"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")
        ordering = ["message", "started_at", "id"]

    def __str__(self) -> str:
        return f"{self.message_id} {self.action} {self.outcome}"


class InboundReceipt(models.Model):
    """Every push an ERP made through the inbound API: who, when, what (by hash) and the answer."""

    received_at = models.DateTimeField(_("received at"), auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+", verbose_name=_("user"))
    method = models.CharField(_("method"), max_length=8)
    path = models.CharField(_("path"), max_length=300)
    remote_addr = models.CharField(_("address"), max_length=64, blank=True)
    payload_sha256 = models.CharField(_("payload hash"), max_length=64)
    status_code = models.PositiveSmallIntegerField(_("answer"))
    result = models.JSONField(_("result"), null=True, blank=True)

    class Meta:
        verbose_name = _("inbound receipt")
        verbose_name_plural = _("inbound receipts")
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.status_code}"


# --- reconciliation ------------------------------------------------------------------------

_RECONCILED_QUANTITY = {"max_digits": 14, "decimal_places": 3}


class ReconciliationRun(models.Model):
    """One comparison of MES and ERP totals: what was checked, what could not be, what it found."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("schedule")
        COMMAND = "command", _("command")
        MANUAL = "manual", _("by hand")

    class State(models.TextChoices):
        QUEUED = "queued", _("waiting for a worker")
        RUNNING = "running", _("running")
        FINISHED = "finished", _("finished")

    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.RUNNING,
        help_text=_("A run asked for on the page waits for a worker; the worker runs it and finishes it."),
    )
    started_at = models.DateTimeField(_("started at"), default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    trigger = models.CharField(_("trigger"), max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("user"))
    scope_work_order = models.CharField(_("work order"), max_length=64, blank=True, help_text=_("Empty = every order."))
    scope_connection = models.CharField(_("connection"), max_length=64, blank=True, help_text=_("Empty = every connection."))
    orders_checked = models.PositiveIntegerField(_("orders checked"), default=0)
    orders_failed = models.PositiveIntegerField(_("orders not checked"), default=0)
    drifts_open = models.PositiveIntegerField(_("drifts found"), default=0)
    drifts_new = models.PositiveIntegerField(_("new drifts"), default=0)
    drifts_resolved = models.PositiveIntegerField(_("drifts resolved"), default=0)
    failures = models.JSONField(_("failures"), default=list, blank=True, help_text=_("Orders the ERP could not be asked about, and why."))

    class Meta:
        verbose_name = _("reconciliation run")
        verbose_name_plural = _("reconciliation runs")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"reconciliation {self.started_at:%Y-%m-%d %H:%M} ({self.drifts_open} open)"

    #: Longer than the reconcile task's time limit, with a margin: a run still unfinished by then was cut off.
    CUT_OFF_AFTER = datetime.timedelta(minutes=35)

    @property
    def is_cut_off(self) -> bool:
        """Still waiting or running long after its worker would have stopped: nothing will finish it."""
        return self.state != self.State.FINISHED and self.started_at <= timezone.now() - self.CUT_OFF_AFTER

    @property
    def is_in_progress(self) -> bool:
        """Waiting for a worker or running, and not cut off: worth asking about again."""
        return self.state != self.State.FINISHED and not self.is_cut_off


class Drift(models.Model):
    """A difference between what the MES holds and what the ERP holds for one operation of an order.

    Recorded once while it lasts (one open row per connection, order, operation, kind and
    key); a later run that no longer finds it closes it as resolved. ``key`` is our
    idempotency key (missing or extra posting), or empty for a quantity difference. A material
    difference is the order's (operation 0) for one item (``key`` = the item code): the MES's
    issued and received quantities in ``mes_good_qty`` and ``mes_scrap_qty``, the ERP's in
    ``erp_good_qty`` and ``erp_scrap_qty``.
    """

    class Kind(models.TextChoices):
        MISSING_IN_ERP = "missing_in_erp", _("missing in the ERP")
        EXTRA_IN_ERP = "extra_in_erp", _("extra in the ERP")
        QUANTITY_DRIFT = "quantity_drift", _("quantities differ")
        MATERIAL_DRIFT = "material_drift", _("materials differ")

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        RESOLVED = "resolved", _("resolved")

    connection = models.CharField(_("connection"), max_length=64)
    work_order = models.CharField(_("work order"), max_length=64)
    operation = models.PositiveIntegerField(_("operation"))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    key = models.CharField(_("posting key"), max_length=200, blank=True)
    message = models.ForeignKey(
        OutboxMessage, models.SET_NULL, null=True, blank=True, related_name="drifts", verbose_name=_("message"),
        help_text=_("The MES message with this key, if the MES knows it."),
    )
    mes_good_qty = models.DecimalField(_("MES good"), **_RECONCILED_QUANTITY)
    mes_scrap_qty = models.DecimalField(_("MES scrap"), **_RECONCILED_QUANTITY)
    mes_rework_qty = models.DecimalField(_("MES rework"), **_RECONCILED_QUANTITY)
    erp_good_qty = models.DecimalField(_("ERP good"), **_RECONCILED_QUANTITY)
    erp_scrap_qty = models.DecimalField(_("ERP scrap"), **_RECONCILED_QUANTITY)
    erp_rework_qty = models.DecimalField(
        _("ERP rework"), **_RECONCILED_QUANTITY, null=True, blank=True, help_text=_("Empty when the ERP does not track rework.")
    )
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    first_run = models.ForeignKey(ReconciliationRun, models.SET_NULL, null=True, related_name="+", verbose_name=_("found by"))
    last_run = models.ForeignKey(ReconciliationRun, models.SET_NULL, null=True, related_name="+", verbose_name=_("last seen by"))
    found_at = models.DateTimeField(_("found at"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen at"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    repaired_at = models.DateTimeField(_("repaired at"), null=True, blank=True)
    repaired_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("repaired by")
    )
    repaired_by_label = models.CharField(_("repaired by"), max_length=150, blank=True)
    repair_reason = models.CharField(_("repair reason"), max_length=500, blank=True)
    repair_result = models.TextField(_("repair result"), blank=True)
    repair_key = models.UUIDField(
        _("repair key"), null=True, blank=True, editable=False,
        help_text=_("Our key on the cancellation of an extra posting, the same on every attempt."),
    )

    class Meta:
        verbose_name = _("drift")
        verbose_name_plural = _("drifts")
        ordering = ["-found_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "work_order", "operation", "kind", "key"],
                condition=models.Q(status="open"),
                name="drift_one_open",
            ),
        ]
        indexes = [
            models.Index(fields=["work_order", "status"], name="drift_work_order"),
            models.Index(fields=["status", "found_at"], name="drift_status"),
        ]

    def __str__(self) -> str:
        return f"{self.work_order}/{self.operation:04d} {self.kind} {self.key}".rstrip()


# --- the event stream ------------------------------------------------------------------------


class StreamEvent(models.Model):
    """One event for the stream destinations (RabbitMQ, MQTT), appended in the transaction of the
    fact it tells: every outbox message, every work order state change, every quality result.

    Never changed once written except for ``position``, which the publisher gives it once it is
    committed (``erp_sync.event_stream.events_number``): ids are handed out before commit, so two
    transactions may commit out of id order, and a cursor on ids would skip the later-numbered one
    that committed last. Positions are given in commit order by one numberer at a time, so a
    destination's cursor (``EventDestination.position``) never passes an event it has not
    published. Events of one work order are written under its lock, so their ids, their
    positions and their commits are in the same order.
    """

    position = models.BigIntegerField(_("position"), null=True, blank=True, unique=True, editable=False)
    kind = models.CharField(_("kind"), max_length=64, help_text=_("The CloudEvents type without its mes. prefix."))
    subject = models.CharField(_("work order"), max_length=100)
    key = models.UUIDField(_("event id"), help_text=_("The CloudEvents id: the outbox message's idempotency key, or the event's own."))
    data = models.JSONField(_("data"))
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        verbose_name = _("stream event")
        verbose_name_plural = _("stream events")
        ordering = ["id"]
        indexes = [
            # The numberer only ever looks at events not yet numbered; keep that index small.
            models.Index(fields=["id"], name="stream_event_unnumbered", condition=models.Q(position__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.subject} {self.kind}"


class EventDestination(models.Model):
    """A broker the events are published to, beside the ERP: an AMQP topic exchange or an MQTT
    broker. ``position`` is the last event position the broker confirmed; a destination that is
    down keeps its position and catches up, the others go on."""

    class Kind(models.TextChoices):
        AMQP = "amqp", _("RabbitMQ (AMQP topic exchange)")
        MQTT = "mqtt", _("MQTT broker")

    name = models.SlugField(_("name"), max_length=64, unique=True)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    url = models.CharField(_("URL"), max_length=500, help_text=_("amqp://user@host:5672/vhost or mqtt://user@host:1883, without the password."))
    password = EncryptedTextField(_("password"), blank=True)
    exchange = models.CharField(_("exchange"), max_length=255, blank=True, help_text=_("AMQP: the topic exchange (declared durable)."))
    topic_prefix = models.CharField(_("topic prefix"), max_length=200, blank=True, help_text=_("MQTT: put before <kind>/<work order>."))
    is_enabled = models.BooleanField(_("enabled"), default=True)
    position = models.BigIntegerField(_("published up to"), default=0, help_text=_("The position of the last event the broker confirmed."))
    published_count = models.BigIntegerField(_("events published"), default=0)
    last_published_at = models.DateTimeField(_("last published at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    claim_token = models.UUIDField(_("claim"), null=True, blank=True, editable=False)
    lease_until = models.DateTimeField(_("claimed until"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("event destination")
        verbose_name_plural = _("event destinations")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def unreadable_secrets(self) -> list[str]:
        return ["password"] if isinstance(self.password, UnreadableSecret) else []


class PullRun(models.Model):
    """One pull of released production orders from an ERP connection (``erp_sync.pulls``): what it read
    from which mark, what it created, changed, found unchanged and refused, and the mark it reached."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("schedule")
        COMMAND = "command", _("command")

    class State(models.TextChoices):
        RUNNING = "running", _("running")
        FINISHED = "finished", _("finished")
        FAILED = "failed", _("failed")

    connection = models.CharField(_("connection"), max_length=64, db_index=True)
    trigger = models.CharField(_("trigger"), max_length=16, choices=Trigger.choices, default=Trigger.SCHEDULE)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.RUNNING)
    started_at = models.DateTimeField(_("started at"), default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    since = models.CharField(
        _("read from"), max_length=64, blank=True, help_text=_("The ERP's change stamp this run read from; empty: every released order.")
    )
    high_water_mark = models.CharField(
        _("high-water mark"), max_length=64, blank=True,
        help_text=_("The newest change stamp the run applied; the next run reads from it. Empty until the run finishes."),
    )
    orders_read = models.PositiveIntegerField(_("orders read"), default=0)
    orders_created = models.PositiveIntegerField(_("orders created"), default=0)
    orders_updated = models.PositiveIntegerField(_("orders changed"), default=0)
    orders_unchanged = models.PositiveIntegerField(_("orders unchanged"), default=0)
    orders_refused = models.PositiveIntegerField(_("records refused"), default=0)
    error = models.TextField(_("error"), blank=True, help_text=_("Why the run failed: the ERP could not be read."))

    class Meta:
        verbose_name = _("order pull")
        verbose_name_plural = _("order pulls")
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["connection", "state", "-started_at"], name="pull_run_connection_state")]

    def __str__(self) -> str:
        return f"pull {self.connection} {self.started_at:%Y-%m-%d %H:%M} ({self.state})"

    #: Longer than the pull task's time limit: a run still running by then was cut off, and another may start.
    CUT_OFF_AFTER = datetime.timedelta(minutes=15)


class PullRefusal(models.Model):
    """A record of a pull the MES did not apply (or applied in part), with the ERP's key and why."""

    run = models.ForeignKey(PullRun, models.CASCADE, related_name="refusals", verbose_name=_("pull"))
    erp_key = models.CharField(_("ERP key"), max_length=200)
    code = models.CharField(_("code"), max_length=64)
    message = models.TextField(_("message"))
    fields = models.JSONField(_("fields"), default=dict, blank=True)

    class Meta:
        verbose_name = _("refused record")
        verbose_name_plural = _("refused records")
        ordering = ["run", "id"]

    def __str__(self) -> str:
        return f"{self.erp_key}: {self.code}"
