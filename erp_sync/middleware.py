"""Records every push an ERP makes through the inbound upsert API, for the audit trail.

Only pushes by someone the API authenticated are recorded: an anonymous caller could otherwise
fill the table. The API authenticates inside the view (DRF), after this middleware has run its
first half; DRF then sets the user it authenticated on the Django request as well
(``rest_framework.request.Request.user``), so the user is read once the response is back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re

from django.db import DatabaseError, transaction

from common.client_ip import client_ip
from erp_sync.models import InboundReceipt

logger = logging.getLogger(__name__)

CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f]")
INBOUND_WRITES = re.compile(r"^/api/v1/(items|boms|routings|work-orders|work-centers|equipment|employees|reason-codes)(/|$)")


def _result(response) -> dict:
    """What the MES answered, compactly: the error code, or how a bulk push went per status."""
    try:
        body = json.loads(response.content or b"null")
    except (ValueError, AttributeError):
        return {}
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return {"error": body["error"].get("code")}
    if isinstance(body, dict) and isinstance(body.get("results"), list):
        counts: dict[str, int] = {}
        for entry in body["results"]:
            status = str(entry.get("status")) if isinstance(entry, dict) else "?"
            counts[status] = counts.get(status, 0) + 1
        return {"results": counts}
    return {}


class InboundReceiptMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method not in {"PUT", "POST", "PATCH"} or not INBOUND_WRITES.match(request.path):
            return self.get_response(request)
        digest = hashlib.sha256(request.body).hexdigest()  # read now; the view parses the cached copy
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if not getattr(user, "is_authenticated", False):
            return response
        try:
            with transaction.atomic():  # a savepoint: a failed receipt never spoils an enclosing transaction
                InboundReceipt.objects.create(
                    user=user,
                    method=request.method,
                    path=CONTROL_CHARACTERS.sub("\N{REPLACEMENT CHARACTER}", request.path)[:300],
                    remote_addr=client_ip(request)[:64],
                    payload_sha256=digest,
                    status_code=response.status_code,
                    result=_result(response),
                )
        except DatabaseError:
            # The push itself is recorded or refused already; a lost receipt must not turn it into an error.
            logger.exception("Could not record the inbound receipt of %s %s", request.method, request.path)
        return response
