from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from common.crypto import SecretsJSONField


class DeviceMapping(models.Model):
    """Where a machine's signals come from: the validated mapping of ``PUT /api/v1/equipment/{code}/signals``."""

    equipment = models.OneToOneField(
        "mes.Equipment", models.CASCADE, related_name="device_mapping", verbose_name=_("equipment")
    )
    protocol = models.CharField(_("protocol"), max_length=16)
    # A device password is kept encrypted (common.crypto) and read back decrypted.
    config = SecretsJSONField(_("mapping"), help_text=_("Protocol, address and one entry per signal."))
    is_enabled = models.BooleanField(_("collect"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("device mapping")
        verbose_name_plural = _("device mappings")
        ordering = ["equipment__code"]

    def __str__(self) -> str:
        return f"{self.equipment_id} ({self.protocol})"


class EquipmentAssignment(models.Model):
    """Which operation runs on a machine, from when to when: counts from the machine go to it."""

    equipment = models.ForeignKey("mes.Equipment", models.PROTECT, related_name="assignments", verbose_name=_("equipment"))
    operation = models.ForeignKey(
        "mes.WorkOrderOperation", models.PROTECT, related_name="equipment_assignments", verbose_name=_("operation")
    )
    started_at = models.DateTimeField(_("started at"))
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    started_by = models.CharField(_("started by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("equipment assignment")
        verbose_name_plural = _("equipment assignments")
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["equipment"], condition=models.Q(ended_at__isnull=True), name="one_running_operation_per_equipment"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.equipment_id} → {self.operation_id}"


# --- what the collector makes of the machines' signals -----------------------------------


class CounterState(models.Model):
    """Where the collector stands on one counter of one machine, kept so a restart resumes exactly.

    ``last_value`` is the raw counter as last read (from ``source_key``); ``pending`` what it
    advanced since the current window (from ``window_start``) began and is not confirmed yet. Every counter of a machine
    shares one window: they are written together by ``shopfloor.production``.
    """

    class Signal(models.TextChoices):
        GOOD = "good_count", _("good count")
        SCRAP = "scrap_count", _("scrap count")

    equipment = models.ForeignKey("mes.Equipment", models.CASCADE, related_name="counter_states", verbose_name=_("equipment"))
    signal = models.CharField(_("signal"), max_length=16, choices=Signal.choices)
    last_value = models.BigIntegerField(_("last raw value"), null=True, blank=True)
    last_read_at = models.DateTimeField(_("last read at"), null=True, blank=True)
    last_changed_at = models.DateTimeField(_("last changed at"), null=True, blank=True)
    pending = models.BigIntegerField(_("counted, not yet confirmed"), default=0)
    window_start = models.DateTimeField(_("window start"), null=True, blank=True)
    resets = models.PositiveIntegerField(_("counter resets seen"), default=0)
    rollovers = models.PositiveIntegerField(_("counter roll-overs seen"), default=0)
    # Which device address and register the value came from: read from elsewhere, it is a new baseline.
    source_key = models.CharField(_("source"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("counter state")
        verbose_name_plural = _("counter states")
        ordering = ["equipment", "signal"]
        constraints = [
            models.UniqueConstraint(fields=["equipment", "signal"], name="one_counter_state_per_signal"),
            models.CheckConstraint(condition=models.Q(pending__gte=0), name="counter_pending_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.equipment_id} {self.signal}={self.last_value} (+{self.pending})"


class UnassignedProduction(models.Model):
    """Counts of one window that no operation took: none was running, or the confirmation was refused.

    ``reason`` is ``no_running_operation`` or the refusal's code (``quantity_exceeds_available``,
    ``scrap_reason_missing``, …); a supervisor assigns or dismisses them later (``resolved_at``).
    """

    NO_RUNNING_OPERATION = "no_running_operation"
    SCRAP_REASON_MISSING = "scrap_reason_missing"

    class Resolution(models.TextChoices):
        ASSIGNED = "assigned", _("assigned to an operation")
        DISMISSED = "dismissed", _("dismissed")

    equipment = models.ForeignKey(
        "mes.Equipment", models.PROTECT, related_name="unassigned_production", verbose_name=_("equipment")
    )
    window_start = models.DateTimeField(_("window start"))
    window_end = models.DateTimeField(_("window end"))
    good = models.PositiveBigIntegerField(_("good"), default=0)
    scrap = models.PositiveBigIntegerField(_("scrap"), default=0)
    operation = models.ForeignKey(
        "mes.WorkOrderOperation", models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("operation that refused it"),
    )
    reason = models.CharField(_("reason"), max_length=64)
    detail = models.CharField(_("detail"), max_length=500, blank=True)
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    # How a supervisor resolved it (``shopfloor.services.unassigned_production_assign`` / ``_dismiss``).
    resolution = models.CharField(_("resolution"), max_length=16, choices=Resolution.choices, blank=True)
    resolved_by = models.CharField(_("resolved by"), max_length=150, blank=True)
    resolution_note = models.CharField(_("resolution note"), max_length=500, blank=True)
    confirmation = models.ForeignKey(
        "mes.Confirmation", models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("confirmation it was assigned with"),
    )

    class Meta:
        verbose_name = _("unassigned production")
        verbose_name_plural = _("unassigned production")
        ordering = ["-window_start"]
        constraints = [
            models.UniqueConstraint(fields=["equipment", "window_start"], name="one_unassigned_row_per_window"),
        ]

    def __str__(self) -> str:
        return f"{self.equipment_id} {self.window_start:%Y-%m-%d %H:%M:%S} good {self.good} scrap {self.scrap}"


class EquipmentState(models.Model):
    """One interval of a machine's state; the open one (``ended_at`` null) is its state now."""

    class State(models.TextChoices):
        RUN = "run", _("running")
        IDLE = "idle", _("idle")
        DOWN = "down", _("down")
        UNKNOWN = "unknown", _("unknown")

    equipment = models.ForeignKey("mes.Equipment", models.CASCADE, related_name="states", verbose_name=_("equipment"))
    state = models.CharField(_("state"), max_length=16, choices=State.choices)
    alarm = models.PositiveIntegerField(_("alarm code"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"))
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    # Why a machine stood still, as an operator or supervisor said (a downtime or pause reason code).
    reason_code = models.ForeignKey(
        "mes.ReasonCode", models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("reason")
    )
    reason_by = models.CharField(_("reason given by"), max_length=150, blank=True)
    reason_at = models.DateTimeField(_("reason given at"), null=True, blank=True)

    class Meta:
        verbose_name = _("equipment state")
        verbose_name_plural = _("equipment states")
        ordering = ["equipment", "started_at"]
        indexes = [models.Index(fields=["equipment", "started_at"], name="equipment_state_time")]
        constraints = [
            models.UniqueConstraint(
                fields=["equipment"], condition=models.Q(ended_at__isnull=True), name="one_open_state_per_equipment"
            ),
            models.CheckConstraint(
                condition=models.Q(ended_at__isnull=True) | models.Q(ended_at__gte=models.F("started_at")),
                name="equipment_state_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.equipment_id} {self.state} from {self.started_at:%Y-%m-%d %H:%M:%S}"


class DeviceException(models.Model):
    """Something wrong with a machine's connection, open from ``opened_at`` until ``closed_at``."""

    class Kind(models.TextChoices):
        NOT_ANSWERING = "not_answering", _("not answering")

    equipment = models.ForeignKey("mes.Equipment", models.CASCADE, related_name="device_exceptions", verbose_name=_("equipment"))
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    opened_at = models.DateTimeField(_("opened at"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    detail = models.CharField(_("detail"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("device exception")
        verbose_name_plural = _("device exceptions")
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["equipment", "kind"], condition=models.Q(closed_at__isnull=True), name="one_open_exception_per_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.equipment_id} {self.kind} from {self.opened_at:%Y-%m-%d %H:%M:%S}"


WEEKDAYS = "1234567"  # ISO weekdays: 1 Monday … 7 Sunday


class Shift(models.Model):
    """A shift of the equipment calendar: planned production time on the weekdays named.

    Belongs to a work center (its machines share it) or to one machine (whose own shifts then
    replace its work center's). An end at or before the start crosses midnight: 22:00–06:00
    runs into the next morning and belongs to the day it starts on; equal times are 24 hours.
    A machine with no shifts, neither its own nor its work center's, is planned all day, every
    day (``shopfloor.calendar.ALL_DAY``). Written by ``shopfloor.services.shifts_set`` and ``shift_save``.
    """

    work_center = models.ForeignKey(
        "mes.WorkCenter", models.CASCADE, null=True, blank=True, related_name="shifts", verbose_name=_("work center")
    )
    equipment = models.ForeignKey(
        "mes.Equipment", models.CASCADE, null=True, blank=True, related_name="shifts", verbose_name=_("equipment")
    )
    name = models.CharField(_("name"), max_length=64)
    start_time = models.TimeField(_("starts at"))
    end_time = models.TimeField(_("ends at"), help_text=_("At or before the start: the shift ends the next day."))
    weekdays = models.CharField(
        _("weekdays"),
        max_length=7,
        default="12345",
        validators=[RegexValidator(r"^[1-7]{1,7}$", _("Weekdays are digits 1 (Monday) to 7 (Sunday)."))],
        help_text=_("The days it starts on: 1 = Monday … 7 = Sunday, e.g. 12345."),
    )

    class Meta:
        verbose_name = _("shift")
        verbose_name_plural = _("shifts")
        ordering = ["work_center", "equipment", "start_time"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(work_center__isnull=False, equipment__isnull=True)
                | models.Q(work_center__isnull=True, equipment__isnull=False),
                name="shift_on_work_center_or_equipment",
            ),
            models.UniqueConstraint(
                fields=["work_center", "name"], condition=models.Q(work_center__isnull=False), name="shift_name_per_work_center"
            ),
            models.UniqueConstraint(
                fields=["equipment", "name"], condition=models.Q(equipment__isnull=False), name="shift_name_per_equipment"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.start_time:%H:%M}–{self.end_time:%H:%M}"

    @property
    def weekday_numbers(self) -> frozenset[int]:
        return frozenset(int(day) for day in self.weekdays if day in WEEKDAYS)
# --- operator stations ---------------------------------------------------------------


class Station(models.Model):
    """A tablet made into an operator station for one work center.

    The browser holds a long-lived cookie whose secret is stored here only as a SHA-256 hash;
    revoking the station (``revoked_at``) makes that cookie worthless at once.
    """

    name = models.CharField(_("name"), max_length=64, unique=True, help_text=_("Written on every report made at this station."))
    work_center = models.ForeignKey("mes.WorkCenter", models.PROTECT, related_name="stations", verbose_name=_("work center"))
    equipment = models.ForeignKey(
        "mes.Equipment", models.PROTECT, null=True, blank=True, related_name="stations", verbose_name=_("machine"),
        help_text=_("The machine an operation started here runs on; empty: the work center's only machine, if it has one."),
    )
    is_pin_required = models.BooleanField(_("PIN after badge"), default=False)
    credential_hash = models.CharField(_("credential fingerprint"), max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.CharField(_("set up by"), max_length=150, blank=True)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.CharField(_("revoked by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("station")
        verbose_name_plural = _("stations")
        ordering = ["work_center__code", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class StationLink(models.Model):
    """A one-time link that makes the browser opening it a station of ``work_center``.

    Only the hash of the link's secret is stored; the link works once (``used_at``), until
    ``expires_at``, and not after a supervisor revoked it.
    """

    work_center = models.ForeignKey("mes.WorkCenter", models.CASCADE, related_name="+", verbose_name=_("work center"))
    equipment = models.ForeignKey("mes.Equipment", models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("machine"))
    is_pin_required = models.BooleanField(_("PIN after badge"), default=False)
    secret_hash = models.CharField(_("secret fingerprint"), max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.CharField(_("created by"), max_length=150, blank=True)
    expires_at = models.DateTimeField(_("expires at"))
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    station = models.OneToOneField(
        Station, models.SET_NULL, null=True, blank=True, related_name="link", verbose_name=_("station it made")
    )
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("station link")
        verbose_name_plural = _("station links")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.work_center_id} {self.created_at:%Y-%m-%d %H:%M}"


class PinTryCount(models.Model):
    """PIN tries of one badge (``badge:<badge>``) or at one station (``station:<id>``) within the lock-out time.

    Counted in the database with one upsert per try (``shopfloor.station.services``), so tries at
    the same moment on several web workers are each counted, and the count does not depend on the
    cache being up.
    """

    key = models.CharField(_("key"), max_length=80, unique=True)
    count = models.PositiveIntegerField(_("tries"), default=0)
    expires_at = models.DateTimeField(_("counted until"))

    class Meta:
        verbose_name = _("PIN try count")
        verbose_name_plural = _("PIN try counts")

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"


class ConsumedLot(models.Model):
    """A material lot the operator scanned as consumed, recorded with the report it belongs to."""

    confirmation = models.ForeignKey("mes.Confirmation", models.PROTECT, related_name="consumed_lots", verbose_name=_("confirmation"))
    lot = models.CharField(_("lot"), max_length=64)
    gtin = models.CharField(_("GTIN"), max_length=14, blank=True)
    station = models.CharField(_("station"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("consumed lot")
        verbose_name_plural = _("consumed lots")
        ordering = ["confirmation", "id"]
        constraints = [
            models.UniqueConstraint(fields=["confirmation", "gtin", "lot"], name="consumed_lot_once_per_confirmation"),
        ]

    def __str__(self) -> str:
        return f"{self.gtin + ' ' if self.gtin else ''}{self.lot}"


class AndonCall(models.Model):
    """A call for help from the shop floor (a person at a station, or raised by the product itself
    for a cause it watches), followed from open to closed, each step with who and when."""

    class Kind(models.TextChoices):
        EQUIPMENT = "equipment", _("equipment")
        MATERIAL = "material", _("material")
        QUALITY = "quality", pgettext_lazy("andon kind", "quality")
        MAINTENANCE = "maintenance", _("maintenance")
        HELP = "help", _("help")

    class Severity(models.TextChoices):
        LOW = "low", _("low")
        MEDIUM = "medium", _("medium")
        HIGH = "high", _("high")
        CRITICAL = "critical", _("critical")

    class State(models.TextChoices):
        OPEN = "open", _("open")
        ACKNOWLEDGED = "acknowledged", _("acknowledged")
        RESOLVED = "resolved", _("resolved")
        CLOSED = "closed", _("closed")

    uuid = models.UUIDField(_("UUID"), unique=True, editable=False)
    client_id = models.UUIDField(_("client id"), null=True, blank=True, unique=True)
    request_hash = models.CharField(_("request fingerprint"), max_length=64, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    severity = models.CharField(_("severity"), max_length=16, choices=Severity.choices)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.OPEN)
    # Empty only for a call the product raised for the whole plant (the ERP link); people name their work center.
    work_center = models.ForeignKey(
        "mes.WorkCenter", models.PROTECT, null=True, blank=True, related_name="andon_calls", verbose_name=_("work center")
    )
    equipment = models.ForeignKey("mes.Equipment", models.PROTECT, null=True, blank=True, related_name="andon_calls", verbose_name=_("equipment"))
    cause = models.CharField(
        _("cause"), max_length=120, blank=True,
        help_text=_("For a call the product raised itself: what it watches (a machine not answering, down too long, the ERP link); resolved when it clears."),
    )
    work_order = models.ForeignKey("mes.WorkOrder", models.PROTECT, null=True, blank=True, related_name="andon_calls", verbose_name=_("work order"))
    note = models.CharField(_("note"), max_length=500, blank=True)
    station = models.CharField(_("station"), max_length=64, blank=True)
    raised_at = models.DateTimeField(_("raised at"))
    raised_by = models.CharField(_("raised by"), max_length=150, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.CharField(_("acknowledged by"), max_length=150, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.CharField(_("resolved by"), max_length=150, blank=True)
    resolution_note = models.CharField(_("resolution"), max_length=1000, blank=True)
    root_cause = models.CharField(_("root cause"), max_length=500, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.CharField(_("closed by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("andon call")
        verbose_name_plural = _("andon calls")
        ordering = ["-raised_at"]
        indexes = [models.Index(fields=["state", "raised_at"], name="andon_state_raised")]
        constraints = [
            models.UniqueConstraint(
                fields=["cause"], condition=~models.Q(cause="") & models.Q(state__in=["open", "acknowledged"]), name="andon_one_open_call_per_cause"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.severity} {self.work_center_id} {self.state}"


class AndonLadder(models.Model):
    """Who is told of a call, and when: steps of seconds after the call was raised, while it is
    still unacknowledged (or unresolved), each to a channel. The most specific ladder that matches
    a call's kind, severity and work center is its ladder (an empty field matches every call)."""

    code = models.CharField(_("code"), max_length=64, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=AndonCall.Kind.choices, blank=True)
    severity = models.CharField(_("severity"), max_length=16, choices=AndonCall.Severity.choices, blank=True)
    work_center = models.ForeignKey("mes.WorkCenter", models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("work center"))
    steps = SecretsJSONField(_("steps"), default=list)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("andon escalation ladder")
        verbose_name_plural = _("andon escalation ladders")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class ChannelDelivery(models.Model):
    """Something to send to a channel (``shopfloor.andon.channels``) by a task, retried until the
    channel takes it: claimed (``pending``/``failed`` → ``sending``), then ``sent``, ``failed`` again
    with a back-off, or ``gave_up``."""

    class State(models.TextChoices):
        PENDING = "pending", _("waiting to be sent")
        SENDING = "sending", _("being sent")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed, will be retried")
        GAVE_UP = "gave_up", _("given up")

    channel = SecretsJSONField(_("channel"), default=dict)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"))
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        abstract = True


class AndonNotice(ChannelDelivery):
    """One step of a ladder told about one call: recorded once (the step's index is unique per
    call), then sent and retried by a task until the channel takes it."""

    call = models.ForeignKey(AndonCall, models.CASCADE, related_name="notices", verbose_name=_("andon call"))
    ladder = models.CharField(_("ladder"), max_length=64)
    step = models.PositiveSmallIntegerField(_("step"))

    class Meta:
        verbose_name = _("andon notice")
        verbose_name_plural = _("andon notices")
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["call", "step"], name="andon_notice_once_per_step")]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="andon_notice_due")]

    def __str__(self) -> str:
        return f"{self.call_id} step {self.step} {self.state}"


class PlannedOperation(models.Model):
    """Where the finite schedule (``shopfloor.planning``) last placed an operation: its predicted start
    and finish. Rewritten whole by ``shopfloor.planning.services.schedule_refresh``."""

    operation = models.OneToOneField(
        "mes.WorkOrderOperation", models.CASCADE, primary_key=True, related_name="planned", verbose_name=_("operation")
    )
    start = models.DateTimeField(_("predicted start"))
    finish = models.DateTimeField(_("predicted finish"), db_index=True)
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("planned operation")
        verbose_name_plural = _("planned operations")
        ordering = ["start"]

    def __str__(self) -> str:
        return f"{self.operation_id} {self.start:%Y-%m-%d %H:%M}–{self.finish:%H:%M}"


class DailyPlan(models.Model):
    """What the stored schedule planned for a work center on a production day, kept as the day began
    (``shopfloor.reports.services.daily_plans_take``): the schedule is recomputed from now on every
    confirmation, so by the evening it no longer says what the morning's plan was."""

    work_center = models.ForeignKey("mes.WorkCenter", models.CASCADE, related_name="+", verbose_name=_("work center"))
    day = models.DateField(_("production day"))
    planned_qty = models.DecimalField(_("planned quantity"), max_digits=14, decimal_places=3)
    planned_hours = models.DecimalField(_("planned hours"), max_digits=12, decimal_places=3)
    operations = models.PositiveIntegerField(_("operations"))
    taken_at = models.DateTimeField(_("taken at"))

    class Meta:
        verbose_name = _("daily plan")
        verbose_name_plural = _("daily plans")
        constraints = [models.UniqueConstraint(fields=["work_center", "day"], name="daily_plan_once_per_day")]

    def __str__(self) -> str:
        return f"{self.work_center_id} {self.day}"


class DailyReportSend(ChannelDelivery):
    """The daily report of a line sent after one shift's end: recorded once (unique per line and
    shift end), then sent and retried by a task until the channel takes it."""

    line = models.CharField(_("production line"), max_length=64)
    day = models.DateField(_("production day"))
    shift = models.CharField(_("shift"), max_length=64)
    shift_end = models.DateTimeField(_("shift ended at"))

    class Meta:
        verbose_name = _("daily report sent")
        verbose_name_plural = _("daily reports sent")
        ordering = ["shift_end", "line"]
        constraints = [models.UniqueConstraint(fields=["line", "shift_end"], name="daily_report_once_per_shift_end")]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="daily_report_send_due")]

    def __str__(self) -> str:
        return f"{self.line or '-'} {self.day} {self.shift} {self.state}"
