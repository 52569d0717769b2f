"""One error shape for the whole API: {"error": {"code", "message", "fields"?}}."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from common.errors import DomainError

CODES = {
    exceptions.ParseError: "malformed_request",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}


def flatten_fields(detail: Any, prefix: str = "") -> dict[str, str]:
    """DRF's nested error detail as {"lines[0].item": "message"}."""
    flat: dict[str, str] = {}
    if isinstance(detail, dict):
        for name, value in detail.items():
            if isinstance(name, int) or str(name).isdigit():  # DRF keys list errors by index
                flat.update(flatten_fields(value, f"{prefix}[{name}]"))
                continue
            key = name if name != "non_field_errors" else "_"
            flat.update(flatten_fields(value, f"{prefix}.{key}" if prefix else key))
    elif isinstance(detail, list):
        if all(not isinstance(entry, (dict, list)) for entry in detail):
            flat[prefix or "_"] = " ".join(str(entry) for entry in detail)
        else:
            for index, entry in enumerate(detail):
                if entry:
                    flat.update(flatten_fields(entry, f"{prefix}[{index}]"))
    else:
        flat[prefix or "_"] = str(detail)
    return flat


def validation_error_body(detail: Any) -> dict[str, Any]:
    fields = flatten_fields(detail)
    summary = "; ".join(f"{name}: {message}" for name, message in list(fields.items())[:5])
    return {"code": "invalid_request", "message": f"The request is not valid: {summary}", "fields": fields}


def error_response(body: dict[str, Any], status_code: int, headers: dict[str, str] | None = None) -> Response:
    return Response({"error": body}, status=status_code, headers=headers)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return error_response(exc.as_dict(), int(exc.kind))
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"error": validation_error_body(exc.detail)}
        response.status_code = status.HTTP_400_BAD_REQUEST
        return response
    code = next((code for cls, code in CODES.items() if isinstance(exc, cls)), "error")
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    response.data = {"error": {"code": code, "message": str(detail)}}
    return response
