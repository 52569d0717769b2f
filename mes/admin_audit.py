"""The admin pages join the audit trail: every add, change and delete made there is an event
with who, when, and the record before and after — its inline rows (BOM lines, routing operations)
included — like the changes the services make.

``AuditedAdmin`` is the base of every admin page that edits; ``ReadOnlyAdmin`` of those that only
show what services wrote. Secrets (passwords, tokens, PIN hashes) appear only as set, changed or
empty, never as their value.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.forms.models import _get_foreign_key

from common.masking import masked
from mes.services.audit import event_record

NATURAL_KEYS = ("number", "code", "badge", "name", "username")
_BEFORE = "_mes_audit_before"


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records only services may write: visible for support, never edited by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AuditedAdmin(admin.ModelAdmin):
    """A ModelAdmin whose saves and deletes write an audit event in the same transaction."""

    #: The event's object type; the model's name unless a service names it otherwise.
    audit_object_type: str | None = None

    def audit_key(self, obj: models.Model) -> str:
        """How the event names the record: its business key where it has one."""
        return natural_key(obj)[:128]

    # -- hooks ------------------------------------------------------------------------

    def save_model(self, request, obj, form, change):
        before = None
        if change and obj.pk is not None:
            stored = type(obj)._default_manager.filter(pk=obj.pk).first()
            before = self._snapshot(request, stored) if stored is not None else None
        setattr(request, _BEFORE, {**getattr(request, _BEFORE, {}), id(obj): before})
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        obj = form.instance
        before = getattr(request, _BEFORE, {}).pop(id(obj), None)
        stored = type(obj)._default_manager.get(pk=obj.pk)
        self._record(request, stored, "update" if change else "create", before, self._snapshot(request, stored))

    def delete_model(self, request, obj):
        with transaction.atomic():
            self._record(request, obj, "delete", self._snapshot(request, obj), None)
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                self._record(request, obj, "delete", self._snapshot(request, obj), None)
            super().delete_queryset(request, queryset)

    # -- what is recorded -------------------------------------------------------------

    def _record(self, request, obj, action: str, before: dict | None, after: dict | None) -> None:
        if before is not None and after is not None and before == after:
            return  # saved without a change
        event_record(
            object_type=self.audit_object_type or obj._meta.model_name,
            object_key=self.audit_key(obj),
            action=action,
            actor=request.user,
            before=_masked(before, None),
            after=_masked(after, before),
        )

    def _snapshot(self, request, obj: models.Model) -> dict[str, Any]:
        data = _fields(obj)
        for inline in self.get_inline_instances(request, obj):
            if not inline.has_change_permission(request, obj) and not inline.has_add_permission(request, obj):
                continue  # read-only rows written by services: not what this page changes
            foreign_key = _get_foreign_key(type(obj), inline.model, fk_name=inline.fk_name)
            # The rows with their (non-null) related records in one query, not one per row.
            children = inline.model._default_manager.filter(**{foreign_key.name: obj}).select_related().order_by("pk")
            data[inline.model._meta.model_name] = [_fields(child, skip=foreign_key.name) for child in children]
        return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def natural_key(obj: models.Model) -> str:
    """A record's business key (number, code, badge, user name or name), else its primary key."""
    for name in NATURAL_KEYS:
        value = getattr(obj, name, None)
        if value not in (None, ""):
            return str(value)
    return str(obj.pk)


def _fields(obj: models.Model, *, skip: str = "") -> dict[str, Any]:
    """The record's own values: related records by their name, no primary key, no automatic timestamps."""
    data: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if field.primary_key or field.name == skip or getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            continue
        if field.is_relation:
            related = getattr(obj, field.name)
            data[field.name] = None if related is None else natural_key(related)
        else:
            data[field.name] = field.value_from_object(obj)
    for field in obj._meta.many_to_many:
        data[field.name] = sorted(natural_key(related) for related in getattr(obj, field.name).all())
    return data


def _masked(snapshot: dict | None, previous: dict | None) -> dict | None:
    """Secrets (at any depth) as '***' (set), '*** (changed)' or '' (empty); everything else as it is."""
    if snapshot is None:
        return None
    return masked(snapshot) if previous is None else masked(snapshot, previous)
