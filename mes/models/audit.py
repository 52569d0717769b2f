from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AppendOnlyError(RuntimeError):
    """An attempt to change or remove audit rows."""


class AppendOnlyQuerySet(models.QuerySet):
    """Rows that are only ever added: bulk updates and deletes are refused before any SQL runs.

    On PostgreSQL a trigger refuses them too (migration ``0005_audit_append_only``), so raw SQL
    of the application's role cannot rewrite the trail either; SQLite has only this guard.
    """

    def update(self, **kwargs):
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only.")

    def delete(self):
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only.")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only.")

    def _raw_delete(self, using):
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only.")


class AppendOnlyModel(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    # Refused where saving a stored row turns into an UPDATE, not in an overridden save(): a
    # new row then writes the same through save() and through the plain-SQL fast path
    # (``common.fastsql``, which refuses models that override save() and only ever inserts).
    def _do_update(self, *args, **kwargs):
        raise AppendOnlyError(f"{type(self).__name__} rows are append-only.")

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{type(self).__name__} rows are append-only.")


class Event(AppendOnlyModel):
    """Append-only audit trail: every state change, confirmation and reversal, with before and after.

    ``actor`` keeps the user's id without a database constraint and is never cleared: deleting a
    user must not UPDATE the trail (which the trigger refuses); ``actor_label`` keeps the name.
    """

    occurred_at = models.DateTimeField(_("occurred at"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.DO_NOTHING, null=True, blank=True, db_constraint=False, related_name="+",
        verbose_name=_("user"),
    )
    actor_label = models.CharField(_("actor"), max_length=150, blank=True, help_text=_("Badge, station or user name."))
    object_type = models.CharField(_("object type"), max_length=64)
    object_key = models.CharField(_("object"), max_length=128)
    work_order = models.ForeignKey(
        "mes.WorkOrder", models.PROTECT, null=True, blank=True, related_name="events", verbose_name=_("work order")
    )
    action = models.CharField(_("action"), max_length=64)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_key"], name="event_object")]

    def __str__(self) -> str:
        return f"{self.object_type} {self.object_key} {self.action}"


class EventSeal(AppendOnlyModel):
    """One link of the hash chain over the audit trail, written after the event by ``events_seal``.

    The chain is built in the background, not when an event is written: events are written by
    many concurrent transactions (a confirmation writes its event in the same statement as the
    confirmation), and chaining each to the previous at insert time would serialise all of them
    on one lock. A periodic task takes the events committed since its last run, in id order,
    and appends one seal each: ``event_hash`` covers the event's content, ``chain_hash`` that and
    the previous seal's ``chain_hash``. The seal's own id is the position in the chain, so an
    event committed after later ones were sealed is simply chained later. ``audit_verify``
    recomputes every link and names the first that does not hold.
    """

    event = models.OneToOneField(
        Event, models.DO_NOTHING, db_constraint=False, related_name="+", verbose_name=_("event")
    )
    event_hash = models.CharField(_("event hash"), max_length=64)
    chain_hash = models.CharField(_("chain hash"), max_length=64)
    sealed_at = models.DateTimeField(_("sealed at"), default=timezone.now)

    class Meta:
        verbose_name = _("event seal")
        verbose_name_plural = _("event seals")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"seal {self.pk} of event {self.event_id}"
