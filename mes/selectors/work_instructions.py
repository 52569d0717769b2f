"""Reads of work instructions: an operation's documents, and those of many operations at once (the station's queue)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Q

from mes.models import OperationDocument


def operation_documents(*, item_code: str, sequence: int | None = None) -> list[OperationDocument]:
    """The documents of an item's operation (or of all its operations), by sequence and name (one query)."""
    documents = OperationDocument.objects.select_related("item").filter(item__code=item_code)
    if sequence is not None:
        documents = documents.filter(sequence=sequence)
    return list(documents.order_by("sequence", "name"))


def documents_by_operation(*, operations: Iterable[tuple[int, int]]) -> dict[tuple[int, int], list[OperationDocument]]:
    """The documents of each ``(item_id, sequence)`` given, in one query; operations without any are left out."""
    pairs = set(operations)
    if not pairs:
        return {}
    condition = Q()
    for item_id, sequence in pairs:
        condition |= Q(item_id=item_id, sequence=sequence)
    found: dict[tuple[int, int], list[OperationDocument]] = {}
    for document in OperationDocument.objects.filter(condition).order_by("item_id", "sequence", "name"):
        found.setdefault((document.item_id, document.sequence), []).append(document)
    return found


def document_json(document: OperationDocument, *, item_code: str) -> dict[str, Any]:
    return {
        "item": item_code, "sequence": document.sequence, "name": document.name, "content_type": document.content_type,
        "size": document.size, "sha256": document.sha256, "uploaded_at": document.uploaded_at.isoformat(),
        "uploaded_by": document.uploaded_by,
    }
