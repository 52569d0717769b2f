"""Filters of the OEE pages: ratios as percentages, seconds as hours and minutes, machines' states.

A machine's state is shown by the labels of ``EquipmentState.State`` only (badges, legend, board).
"""

from __future__ import annotations

from typing import Any

from django import template

from shopfloor.models import EquipmentState
from shopfloor.oee_charts import percent as _percent

register = template.Library()


@register.filter
def percent(value: Any) -> str:
    """0.8125 → "81.3 %", None → "—"."""
    return _percent(value)


@register.filter
def duration(seconds: Any) -> str:
    """23400 → "6:30:00"; negative stays negative ("-0:15:00"); None → "—"."""
    if seconds is None:
        return "—"
    total = round(float(seconds))
    sign, total = ("-", -total) if total < 0 else ("", total)
    return f"{sign}{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


@register.filter
def share(part: Any, whole: Any) -> str:
    """``part`` as a percentage of ``whole`` ("—" when ``whole`` is zero or missing)."""
    if not whole:
        return "—"
    return _percent(float(part) / float(whole))


@register.filter
def equipment_state_label(state: str) -> str:
    """A machine's state in the reader's language; a state unknown here as it is."""
    return str(EquipmentState.State(state).label) if state in EquipmentState.State.values else state


@register.filter
def is_equipment_state(state: Any) -> bool:
    """Whether ``state`` is one of the states a machine is recorded in (not None, "" or another word)."""
    return state in EquipmentState.State.values


@register.simple_tag
def equipment_states() -> list[tuple[str, str]]:
    """Every state with its label, in the model's order: ``{% equipment_states as states %}`` for a legend."""
    return EquipmentState.State.choices
