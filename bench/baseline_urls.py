"""The baseline: a bare Django view that writes one row and one outbox row in one transaction.

No authentication, no validation beyond parsing JSON: the floor a confirmation's real work
(auth, role check, validation, locking, totals, event, outbox) is compared against.
"""

from __future__ import annotations

import json
import uuid

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from erp_sync.models import OutboxMessage


@csrf_exempt
@require_POST
def baseline(request: HttpRequest) -> HttpResponse:
    body = json.loads(request.body or b"{}")
    row_id = uuid.uuid4()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO bench_baseline_row (client_id, payload) VALUES (%s, %s)",
                [body.get("client_id") or str(row_id), json.dumps(body)],
            )
        # A partition of its own per row: the baseline takes no work-order lock.
        OutboxMessage.objects.create(
            kind=OutboxMessage.Kind.CONFIRMATION,
            partition_key=f"bench-{row_id}",
            sequence=1,
            payload=body,
            source_uuid=row_id,
        )
    return JsonResponse({"id": str(row_id)}, status=201)


def health(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("baseline", baseline),
    path("health", health),
]
