"""What every API view shares: the role check, the error shape in the schema, request validation."""

from __future__ import annotations

import uuid
from typing import Any

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
