"""Domain errors: a stable machine-readable code, a human message, and the fields at fault."""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ErrorKind(IntEnum):
    """What sort of refusal this is; the value doubles as the HTTP status the API answers with."""

    INVALID = 422  # well-formed, but breaks a business rule or names something unknown
    NOT_FOUND = 404
    CONFLICT = 409  # the current state of the record forbids it
    FORBIDDEN = 403


class DomainError(Exception):
    def __init__(
        self, code: str, message: str, *, kind: ErrorKind = ErrorKind.INVALID, fields: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = str(message)
        self.kind = kind
        self.fields = fields or {}

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            body["fields"] = {name: str(value) for name, value in self.fields.items()}
        return body


def unknown_reference(field: str, kind: str, key: str) -> DomainError:
    return DomainError(
        f"unknown_{kind.replace(' ', '_')}",
        f"No {kind} with key {key!r} exists.",
        fields={field: f"unknown {kind} {key!r}"},
    )
