from __future__ import annotations

import uuid

from common.errors import DomainError, ErrorKind
from mes.models import Confirmation


def confirmation_get(*, confirmation_id: uuid.UUID) -> Confirmation:
    try:
        return Confirmation.objects.select_related(
            "work_order", "operation", "reason_code", "operator", "reverses", "reversed_by"
        ).get(uuid=confirmation_id)
    except Confirmation.DoesNotExist:
        raise DomainError(
            "unknown_confirmation",
            f"Confirmation {confirmation_id} does not exist.",
            kind=ErrorKind.NOT_FOUND,
            fields={"id": str(confirmation_id)},
        ) from None
