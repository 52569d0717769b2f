"""What every API view shares: the role check, the error shape in the schema, request validation."""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.views import APIView

from common.api.permissions import HasCapability
from common.roles import roles_for

KEY_MAX_LENGTH = 64

ERROR_RESPONSE = inline_serializer(
    "Error",
    {
        "error": inline_serializer(
            "ErrorBody",
            {"code": serializers.CharField(), "message": serializers.CharField(), "fields": serializers.DictField(required=False)},
        )
    },
)
ERRORS = {code: OpenApiResponse(ERROR_RESPONSE) for code in (400, 401, 403, 404, 409, 422)}


class ApiView(APIView):
    """Names, per HTTP method, the capability (``common.roles.CAPABILITIES``) a caller needs."""

    permission_classes = [HasCapability]
    capabilities: dict[str, str] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for capability in cls.capabilities.values():
            roles_for(capability)  # an unknown capability fails at import, not at the first request


class InboundWriteView(ApiView):
    """A write an ERP pushes (its master data, its work orders and their transitions): each answer
    to a caller the API authenticated is kept as a receipt, whatever the view's URL.

    The receipt is written by the function ``settings.MES_INBOUND_RECEIPT_RECORDER`` names (the
    kernel imports no app), with the request, the body's SHA-256, the status and ``answer_summary``.
    Anonymous callers leave none: they could otherwise fill the table.
    """

    audited_methods = frozenset({"PUT", "POST", "PATCH"})

    def dispatch(self, request, *args, **kwargs):
        if request.method not in self.audited_methods:
            return super().dispatch(request, *args, **kwargs)
        digest = hashlib.sha256(request.body).hexdigest()  # read now; the parsers read the cached copy
        response = super().dispatch(request, *args, **kwargs)
        # DRF puts the user it authenticated (or AnonymousUser, when it refused) on the Django request too.
        if getattr(getattr(request, "user", None), "is_authenticated", False):
            _receipt_recorder()(
                request=request, payload_sha256=digest, status_code=response.status_code,
                result=answer_summary(getattr(response, "data", None)),
            )
        return response


@functools.cache
def _receipt_recorder() -> Callable[..., None]:
    return import_string(settings.MES_INBOUND_RECEIPT_RECORDER)


def answer_summary(body: Any) -> dict[str, Any]:
    """What the MES answered, compactly: the error code, or how a bulk push went per status."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return {"error": body["error"].get("code")}
    if isinstance(body, dict) and isinstance(body.get("results"), list):
        counts: dict[str, int] = {}
        for entry in body["results"]:
            status = str(entry.get("status")) if isinstance(entry, dict) else "?"
            counts[status] = counts.get(status, 0) + 1
        return {"results": counts}
    return {}


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def check_key(name: str, key: str) -> str:
    if len(key) > KEY_MAX_LENGTH or not key.strip():
        raise ValidationError({name: [f"Must be 1 to {KEY_MAX_LENGTH} characters."]})
    if any(ord(character) < 32 for character in key):
        raise ValidationError({name: ["Control characters (such as NUL) are not allowed in keys."]})
    return key


def parse_uuid(name: str, value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValidationError({name: [f"{value[:80]!r} is not a UUID."]}) from None




def check_number(name: str, value: int, maximum: int = 2**63 - 1) -> int:
    """A number from the URL, within what the database can hold."""
    if not 1 <= value <= maximum:
        raise ValidationError({name: [f"Must be between 1 and {maximum}."]})
    return value
