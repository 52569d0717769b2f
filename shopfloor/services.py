"""Writes of the shop floor: machine signal mappings."""

from __future__ import annotations

import asyncio
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from mes.models import Equipment
from mes.services.audit import event_record
from mes.services.errors import DomainError, ErrorKind
from shopfloor.devices.base import DeviceUnavailable, read_once
from shopfloor.devices.config import DeviceConfigError, parse_device_config
from shopfloor.models import DeviceMapping


def _equipment(code: str) -> Equipment:
    try:
        return Equipment.objects.get(code=code)
    except Equipment.DoesNotExist:
        raise DomainError(
            "unknown_equipment", _("No equipment with code %(code)s.") % {"code": code}, kind=ErrorKind.NOT_FOUND
        ) from None


def validated_mapping(config: Any) -> dict[str, Any]:
    """The mapping in its normal form, or a refusal naming every bad field."""
    try:
        return parse_device_config(config).to_json()
    except DeviceConfigError as error:
        raise DomainError(
            "invalid_mapping",
            _("The signal mapping is not valid: %(problems)s") % {"problems": str(error)},
            fields={path: "; ".join(messages) for path, messages in error.as_dict().items()},
        ) from None


@transaction.atomic
def equipment_signals_set(*, equipment_code: str, config: Any, actor: Any = None) -> tuple[DeviceMapping, bool]:
    """Store where a machine's good count, scrap count, running state and alarm come from."""
    equipment = _equipment(equipment_code)
    normal = validated_mapping(config)
    mapping = DeviceMapping.objects.select_for_update().filter(equipment=equipment).first()
    if mapping is not None and mapping.config == normal:
        return mapping, False
    before = mapping.config if mapping is not None else None
    created = mapping is None
    if created:
        mapping = DeviceMapping(equipment=equipment)
    mapping.protocol = normal["protocol"]
    mapping.config = normal
    mapping.save()
    event_record(
        object_type="device_mapping", object_key=equipment_code, action="create" if created else "update",
        actor=actor, before=before, after=normal,
    )
    return mapping, created


def equipment_signals_get(equipment_code: str) -> DeviceMapping:
    mapping = DeviceMapping.objects.select_related("equipment").filter(equipment__code=equipment_code).first()
    if mapping is None:
        _equipment(equipment_code)  # unknown equipment first
        raise DomainError(
            "no_mapping", _("Equipment %(code)s has no signal mapping yet.") % {"code": equipment_code}, kind=ErrorKind.NOT_FOUND
        )
    return mapping


def equipment_signals_test(equipment_code: str) -> dict[str, Any]:
    """Read the machine once with its stored mapping: the live values, or why it did not answer."""
    mapping = equipment_signals_get(equipment_code)
    try:
        snapshot = asyncio.run(read_once(mapping.config))
    except DeviceUnavailable as error:
        return {"equipment": equipment_code, "reachable": False, "error": str(error), "values": {}, "errors": {}}
    return {
        "equipment": equipment_code,
        "reachable": True,
        "read_at": snapshot.read_at,
        "values": dict(snapshot.values),
        "errors": dict(snapshot.errors),
    }
