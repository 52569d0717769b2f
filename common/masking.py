"""Secrets by name: which values are never shown back, and how a "***" written back keeps the stored one.

A value is secret when its key's name says so, at any depth of a JSON document, in lists and in
header dicts alike: any name containing secret, token, password (passw), authorization or
credential, or with the word key or pin in it (``X-Api-Key``, ``apiKey``, ``private_key``,
``station_pin``), in any case. Names that hold our own identifiers (``idempotency_key``…) are not
secrets. Only text and numbers are hidden; a secret-named object or list is looked into, so a REST
mapping's output field called ``key`` still shows its rule.

Answers, admin forms and audit events show a set secret as ``"***"`` (an empty one stays empty);
writing ``"***"`` back keeps what is stored at that place.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

HIDDEN = "***"
CHANGED = "*** (changed)"

_SECRET_NAME = re.compile(r"secret|token|passw|authori[sz]ation|credential|(?:^|[^a-z])(?:api|private)?(?:key|pin)(?:$|[^a-z])")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
#: Our own identifiers, which happen to be called "…_key": never secrets.
PUBLIC_NAMES = frozenset({"idempotency_key", "partition_key", "object_key", "source_key", "reverses_key", "repair_key", "posting_key"})
_ABSENT = object()


def is_secret_name(name: Any) -> bool:
    return isinstance(name, str) and _is_secret_name(name)


@lru_cache(maxsize=4096)  # the same few dozen names, on every audit event of the hot path
def _is_secret_name(name: str) -> bool:
    normal = _CAMEL.sub("_", name).lower()
    return normal not in PUBLIC_NAMES and _SECRET_NAME.search(normal) is not None


def _is_hideable(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool) and value != ""


def masked(value: Any, previous: Any = _ABSENT) -> Any:
    """The value with every secret shown as "***" ("*** (changed)" where it differs from ``previous``
    at the same place, when given). Values already marked "***…" by the caller stay as they are."""
    if isinstance(value, dict):
        before = previous if isinstance(previous, dict) else {}
        result = {}
        for key, item in value.items():
            earlier = before.get(key, None) if previous is not _ABSENT else _ABSENT
            if is_secret_name(key) and _is_hideable(item):
                result[key] = item if isinstance(item, str) and item.startswith(HIDDEN) else _hidden(item, earlier)
            else:
                result[key] = masked(item, earlier)
        return result
    if isinstance(value, list):
        before = previous if isinstance(previous, list) else []
        return [
            masked(item, before[index] if index < len(before) else (None if previous is not _ABSENT else _ABSENT))
            for index, item in enumerate(value)
        ]
    return value


def _hidden(value: Any, previous: Any) -> str:
    if previous is _ABSENT or previous == value:
        return HIDDEN
    return CHANGED


class NothingStoredToKeep(ValueError):
    """ "***" was written back where nothing is stored."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def unmasked(value: Any, stored: Any, *, path: str = "") -> Any:
    """``value`` with every secret written back as "***" replaced by what ``stored`` holds at the
    same place; raises ``NothingStoredToKeep`` (with the dotted path) where it holds nothing."""
    if isinstance(value, dict):
        kept = stored if isinstance(stored, dict) else {}
        result = {}
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if is_secret_name(key) and item == HIDDEN:
                if not _is_hideable(kept.get(key)):
                    raise NothingStoredToKeep(where)
                result[key] = kept[key]
            else:
                result[key] = unmasked(item, kept.get(key), path=where)
        return result
    if isinstance(value, list):
        kept = stored if isinstance(stored, list) else []
        return [
            unmasked(item, kept[index] if index < len(kept) else None, path=f"{path}.{index}" if path else str(index))
            for index, item in enumerate(value)
        ]
    return value
