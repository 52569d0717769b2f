"""Work instructions in the API: documents of a routing operation, sent as the raw request body. Thin views."""

from __future__ import annotations

from django.conf import settings
from django.http import FileResponse, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from common.api.base import ERRORS, ApiView, check_key, check_number
from common.api.errors import error_response
from mes.models import OperationDocument
from mes.selectors.work_instructions import document_json, operation_documents
from mes.services.work_instructions import (
    document_check_name,
    operation_document_delete,
    operation_document_get,
    operation_document_open,
    operation_document_put,
)

TAG = "work-instructions"

DOCUMENT = inline_serializer(
    "WorkInstruction",
    {
        "item": serializers.CharField(), "sequence": serializers.IntegerField(), "name": serializers.CharField(),
        "content_type": serializers.ChoiceField(choices=OperationDocument.ContentType.values), "size": serializers.IntegerField(),
        "sha256": serializers.CharField(), "uploaded_at": serializers.DateTimeField(), "uploaded_by": serializers.CharField(),
    },
)
DOCUMENT_LIST = inline_serializer(
    "WorkInstructionList",
    {"item": serializers.CharField(), "sequence": serializers.IntegerField(), "documents": serializers.ListField(child=DOCUMENT)},
)
FILE_TYPES = {content_type: OpenApiTypes.BINARY for content_type in OperationDocument.ContentType.values}
READ_CHUNK = 64 * 1024


def _keys(item_code: str, sequence: int) -> tuple[str, int]:
    return check_key("item", item_code), check_number("sequence", sequence, 9999)


def _read_body(request: Request) -> bytes | Response:
    """The raw body, read no further than the size limit allows (a 413 answer beyond it)."""
    limit = settings.MES_WORK_INSTRUCTION_MAX_BYTES
    too_large = error_response(
        {"code": "document_too_large", "message": f"At most {limit} bytes are accepted (MES_WORK_INSTRUCTION_MAX_BYTES)."},
        status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    )
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return too_large
    chunks, size = [], 0
    while chunk := request._request.read(READ_CHUNK):
        size += len(chunk)
        if size > limit:
            return too_large
        chunks.append(chunk)
    return b"".join(chunks)


class OperationDocumentListView(ApiView):
    """The documents attached to a routing operation, by name."""

    capabilities = {"GET": "api.read"}

    @extend_schema(
        tags=[TAG], operation_id="work_instructions_list", summary="The work instructions of an item's routing operation",
        responses={200: DOCUMENT_LIST, **ERRORS},
    )
    def get(self, request: Request, item_code: str, sequence: int) -> Response:
        item_code, sequence = _keys(item_code, sequence)
        documents = operation_documents(item_code=item_code, sequence=sequence)
        return Response({"item": item_code, "sequence": sequence, "documents": [document_json(document, item_code=item_code) for document in documents]})


class OperationDocumentView(ApiView):
    """One work instruction of a routing operation: read the file, attach or replace it, remove it."""

    capabilities = {"GET": "api.read", "PUT": "work_instruction.write", "DELETE": "work_instruction.write"}

    @extend_schema(
        tags=[TAG], operation_id="work_instruction_file", summary="One work instruction: the file itself, with its content type",
        responses={(200, content_type): OpenApiResponse(OpenApiTypes.BINARY) for content_type in OperationDocument.ContentType.values} | ERRORS,
    )
    def get(self, request: Request, item_code: str, sequence: int, name: str) -> HttpResponse:
        item_code, sequence = _keys(item_code, sequence)
        document = operation_document_get(item_code=item_code, sequence=sequence, name=name)
        response = FileResponse(operation_document_open(document=document), content_type=document.content_type, filename=document.name)
        response["ETag"] = f'"{document.sha256}"'
        response["X-Content-Type-Options"] = "nosniff"
        return response

    @extend_schema(
        tags=[TAG],
        operation_id="work_instruction_put",
        summary="Attach or replace a work instruction (the file as the raw body): 201 new, 200 replaced or unchanged",
        description=(
            "Send the file itself as the request body with its `Content-Type` (`application/pdf`, `image/png`, `image/jpeg`, "
            "`image/webp`; `application/octet-stream` lets the server decide); not multipart. The type is checked by the "
            "content's first bytes: 422 `unsupported_document_type` for anything else, `document_type_mismatch` when the "
            "header says otherwise, `empty_document`, `invalid_document_name`; 413 `document_too_large` beyond "
            "`MES_WORK_INSTRUCTION_MAX_BYTES` (20 MiB by default); 404 `unknown_item`, `unknown_routing_operation`. "
            "Documents belong to the item's operation (item + sequence), survive routing updates, and are shown at every "
            "station working that operation, released orders included."
        ),
        request=FILE_TYPES,
        examples=[
            OpenApiExample(
                "A one-page PDF", value="%PDF-1.4 …", request_only=True, media_type="application/pdf",
                description="`curl -X PUT --data-binary @cutting-guide.pdf -H 'Content-Type: application/pdf' -H 'Authorization: Token …' "
                "https://mes.example/api/v1/routings/FG-1000/operations/10/documents/cutting-guide.pdf`",
            )
        ],
        responses={201: DOCUMENT, 200: DOCUMENT, 413: ERRORS[422], **ERRORS},
    )
    def put(self, request: Request, item_code: str, sequence: int, name: str) -> Response:
        item_code, sequence = _keys(item_code, sequence)
        document_check_name(name=name)
        content = _read_body(request)
        if isinstance(content, Response):
            return content
        result = operation_document_put(
            item_code=item_code, sequence=sequence, name=name, content=content,
            declared_type=request.META.get("CONTENT_TYPE", ""), actor=request.user,
        )
        return Response(document_json(result.document, item_code=item_code), status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)

    @extend_schema(tags=[TAG], operation_id="work_instruction_delete", summary="Remove a work instruction", responses={204: None, **ERRORS})
    def delete(self, request: Request, item_code: str, sequence: int, name: str) -> Response:
        item_code, sequence = _keys(item_code, sequence)
        operation_document_delete(item_code=item_code, sequence=sequence, name=name, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

