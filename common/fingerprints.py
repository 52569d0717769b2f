"""The fingerprint of a request: what makes two sends of one ``client_id`` "the same"."""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields
from decimal import Decimal
from typing import Any


def request_fingerprint(request: Any) -> str:
    """SHA-256 of every field of the dataclass ``request``, as text (decimals without trailing zeros)."""
    canonical = {
        field.name: (str(value.normalize()) if isinstance(value, Decimal) else str(value))
        for field, value in ((field, getattr(request, field.name)) for field in fields(request))
    }
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()
