"""Work instructions: documents (PDF, PNG, JPEG, WebP) attached to an item's routing operation.

A document is recognised by its first bytes (its magic number), never by the name or the header
the caller sent alone: a declared type that disagrees with the content is refused. The file goes
through Django's default storage (``MEDIA_ROOT``, under ``var/`` by default) under a fresh name
per upload, so a copy a station keeps offline never silently changes under the same address.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from common.errors import DomainError, ErrorKind, unknown_reference
from mes.models import Item, OperationDocument
from mes.services.audit import event_record
from mes.services.quality import routing_operation_check

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
# What each allowed type starts with; WebP is a RIFF container whose form type is WEBP.
SIGNATURES: tuple[tuple[str, bytes, int], ...] = (
    (OperationDocument.ContentType.PDF, b"%PDF-", 0),
    (OperationDocument.ContentType.PNG, b"\x89PNG\r\n\x1a\n", 0),
    (OperationDocument.ContentType.JPEG, b"\xff\xd8\xff", 0),
    (OperationDocument.ContentType.WEBP, b"WEBP", 8),
)


@dataclass
class DocumentResult:
    document: OperationDocument
    created: bool
    changed: bool


def document_sniff(*, content: bytes) -> str | None:
    """The content type ``content`` is by its first bytes (of the allowed ones), or None."""
    for content_type, magic, offset in SIGNATURES:
        if content[offset : offset + len(magic)] == magic and (content_type != OperationDocument.ContentType.WEBP or content[:4] == b"RIFF"):
            return str(content_type)
    return None


def document_check_name(*, name: str) -> str:
    if not NAME.match(name):
        raise DomainError(
            "invalid_document_name",
            _("A document name is 1 to 100 letters, digits, dots, dashes or underscores, starting with a letter or digit (e.g. cutting-guide.pdf)."),
            fields={"name": name[:100]},
        )
    return name


def document_check_content(*, content: bytes, declared_type: str) -> str:
    """The sniffed content type of an upload, or why it is refused (empty, too large, not allowed, not what it says)."""
    limit = settings.MES_WORK_INSTRUCTION_MAX_BYTES
    if not content:
        raise DomainError("empty_document", _("The document is empty; send the file as the request body."), fields={"body": "empty"})
    if len(content) > limit:
        raise DomainError(
            "document_too_large",
            _("The document has %(size)s bytes; at most %(limit)s are accepted (MES_WORK_INSTRUCTION_MAX_BYTES).") % {"size": len(content), "limit": limit},
            fields={"body": str(len(content))},
        )
    sniffed = document_sniff(content=content)
    allowed = ", ".join(OperationDocument.ContentType.values)
    if sniffed is None:
        raise DomainError(
            "unsupported_document_type",
            _("The content is not a PDF, PNG, JPEG or WebP file (checked by its first bytes); allowed: %(allowed)s.") % {"allowed": allowed},
            fields={"body": "unrecognised content"},
        )
    declared = declared_type.split(";")[0].strip().lower()
    if declared and declared not in ("application/octet-stream",) and declared != sniffed:
        raise DomainError(
            "document_type_mismatch",
            _("The Content-Type says %(declared)s but the content is %(sniffed)s.") % {"declared": declared[:60], "sniffed": sniffed},
            fields={"content_type": declared[:60]},
        )
    return sniffed


def _item(item_code: str) -> Item:
    item = Item.objects.filter(code=item_code).first()
    if item is None:
        raise unknown_reference("item", "item", item_code)
    return item


def _actor_label(actor: Any) -> str:
    return str(getattr(actor, "username", "") or "")[:150]


@transaction.atomic
def operation_document_put(
    *, item_code: str, sequence: int, name: str, content: bytes, declared_type: str = "", actor: Any = None
) -> DocumentResult:
    """Store (or replace) the document ``name`` of the routing operation; the same bytes again change nothing. Audited."""
    document_check_name(name=name)
    item = _item(item_code)
    routing_operation_check(item=item, sequence=sequence)
    content_type = document_check_content(content=content, declared_type=declared_type)
    digest = hashlib.sha256(content).hexdigest()
    Item.objects.select_for_update().filter(pk=item.pk).first()  # one writer of an item's documents at a time
    existing = OperationDocument.objects.filter(item=item, sequence=sequence, name=name).first()
    if existing is not None and existing.sha256 == digest:
        return DocumentResult(existing, created=False, changed=False)
    document = existing or OperationDocument(item=item, sequence=sequence, name=name)
    before = {"sha256": existing.sha256, "size": existing.size, "content_type": existing.content_type} if existing else None
    old_file = existing.file.name if existing else ""
    document.content_type, document.size, document.sha256 = content_type, len(content), digest
    document.uploaded_at, document.uploaded_by = timezone.now(), _actor_label(actor)
    document.file.save(name, ContentFile(content), save=False)
    document.save()
    if old_file:
        # The old file goes only once the new row is committed: a rollback keeps the old document whole.
        storage = document.file.storage
        transaction.on_commit(lambda: storage.delete(old_file))
    event_record(
        object_type="work_instruction", object_key=f"{item.code}/{sequence}/{name}", action="update" if existing else "create",
        actor=actor, before=before, after={"sha256": digest, "size": len(content), "content_type": content_type},
    )
    return DocumentResult(document, created=existing is None, changed=True)


def operation_document_get(*, item_code: str, sequence: int, name: str) -> OperationDocument:
    document = OperationDocument.objects.select_related("item").filter(item__code=item_code, sequence=sequence, name=name).first()
    if document is None:
        raise DomainError(
            "unknown_document",
            _("Operation %(sequence)s of %(item)s has no document %(name)s.") % {"sequence": sequence, "item": item_code, "name": name[:100]},
            kind=ErrorKind.NOT_FOUND,
            fields={"name": name[:100]},
        )
    return document


@transaction.atomic
def operation_document_delete(*, item_code: str, sequence: int, name: str, actor: Any = None) -> None:
    document = operation_document_get(item_code=item_code, sequence=sequence, name=name)
    file_name, storage = document.file.name, document.file.storage
    event_record(
        object_type="work_instruction", object_key=f"{item_code}/{sequence}/{name}", action="delete", actor=actor,
        before={"sha256": document.sha256, "size": document.size, "content_type": document.content_type},
    )
    document.delete()
    transaction.on_commit(lambda: storage.delete(file_name))


def operation_document_open(*, document: OperationDocument):
    """The stored file of ``document``, open for reading; 404 ``document_file_missing`` when storage lost it."""
    try:
        return document.file.open("rb")
    except FileNotFoundError:
        raise DomainError(
            "document_file_missing",
            _("The file of %(name)s is missing from the storage; attach it again.") % {"name": document.name},
            kind=ErrorKind.NOT_FOUND,
            fields={"name": document.name},
        ) from None
