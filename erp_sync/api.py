"""REST API of ERP sync: health, the journey of messages, dead letters. Thin: parse, call, answer."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from erp_sync import services
from erp_sync.models import OutboxMessage
from erp_sync.selectors import message_journey, sync_health
from mes.api.base import ERRORS, ApiView, validated
from mes.roles import ALL_ROLES, Role

SYNC_OPERATORS = {Role.ADMIN, Role.SUPERVISOR}
MESSAGE_STATES = [choice for choice, _label in OutboxMessage.State.choices]


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, allow_blank=False)


class BulkReplaySerializer(ReasonSerializer):
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=1000)


class SyncHealthView(ApiView):
    roles = {"GET": ALL_ROLES}

    @extend_schema(tags=["erp-sync"], summary="Queue depth, age, latency and alerts of ERP delivery", responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response(sync_health())


class MessageListView(ApiView):
    roles = {"GET": ALL_ROLES}

    @extend_schema(tags=["erp-sync"], summary="Outbox messages, newest first, filtered by state and work order", responses={200: dict, **ERRORS})
    def get(self, request: Request) -> Response:
        state = request.query_params.get("state")
        if state is not None and state not in MESSAGE_STATES:
            raise serializers.ValidationError({"state": [f"Must be one of {', '.join(MESSAGE_STATES)}."]})
        messages = OutboxMessage.objects.order_by("-id")
        if state:
            messages = messages.filter(state=state)
        if request.query_params.get("work_order"):
            messages = messages.filter(partition_key=request.query_params["work_order"][:64])
        return Response({"results": [_message_json(message) for message in messages[:500]]})


class MessageDetailView(ApiView):
    roles = {"GET": ALL_ROLES}

    @extend_schema(tags=["erp-sync"], summary="One message with every step of its journey", responses={200: dict, **ERRORS})
    def get(self, request: Request, message_id: int) -> Response:
        return Response(message_journey(message_id))


class MessageReplayView(ApiView):
    roles = {"POST": SYNC_OPERATORS}

    @extend_schema(tags=["erp-sync"], summary="Send a dead message again (with a reason; audited)", request=ReasonSerializer, responses={200: dict, **ERRORS})
    def post(self, request: Request, message_id: int) -> Response:
        data = validated(ReasonSerializer, request.data)
        services.messages_replay(message_ids=[message_id], reason=data["reason"], actor=request.user)
        return Response(message_journey(message_id))


class MessageBulkReplayView(ApiView):
    roles = {"POST": SYNC_OPERATORS}

    @extend_schema(tags=["erp-sync"], summary="Send several dead messages again, all or none", request=BulkReplaySerializer, responses={200: dict, **ERRORS})
    def post(self, request: Request) -> Response:
        data = validated(BulkReplaySerializer, request.data)
        messages = services.messages_replay(message_ids=data["ids"], reason=data["reason"], actor=request.user)
        return Response({"replayed": [message.pk for message in messages]})


class MessageDiscardView(ApiView):
    roles = {"POST": SYNC_OPERATORS}

    @extend_schema(tags=["erp-sync"], summary="Give up on a dead message so its order can proceed (with a reason; audited)", request=ReasonSerializer, responses={200: dict, **ERRORS})
    def post(self, request: Request, message_id: int) -> Response:
        data = validated(ReasonSerializer, request.data)
        services.message_discard(message_id=message_id, reason=data["reason"], actor=request.user)
        return Response(message_journey(message_id))


def _message_json(message: OutboxMessage) -> dict[str, Any]:
    return {
        "id": message.pk,
        "idempotency_key": message.idempotency_key,
        "kind": message.kind,
        "work_order": message.partition_key,
        "sequence": message.sequence,
        "connection": message.destination or None,
        "state": message.state,
        "attempts": message.attempts,
        "erp_document": message.erp_document or None,
        "last_error": message.last_error or None,
        "queued_at": message.created_at,
        "next_attempt_at": message.next_attempt_at if message.state in ("queued", "retrying") else None,
        "acknowledged_at": message.acknowledged_at,
    }


def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format: queue depth, age, latency and alert state per connection."""
    health = sync_health()
    lines = [
        "# HELP mes_erp_messages Outbox messages by connection and state.",
        "# TYPE mes_erp_messages gauge",
    ]
    for entry in health["connections"]:
        for state in ("pending", "retrying", "dead"):
            lines.append(f'mes_erp_messages{{connection="{entry["name"]}",state="{state}"}} {entry[state]}')
    lines += ["# HELP mes_erp_sent_last_hour Messages acknowledged by the ERP in the last hour.", "# TYPE mes_erp_sent_last_hour gauge"]
    lines += [f'mes_erp_sent_last_hour{{connection="{entry["name"]}"}} {entry["sent_last_hour"]}' for entry in health["connections"]]
    lines += ["# HELP mes_erp_oldest_pending_seconds Age of the oldest unsent message.", "# TYPE mes_erp_oldest_pending_seconds gauge"]
    lines += [
        f'mes_erp_oldest_pending_seconds{{connection="{entry["name"]}"}} {entry["oldest_pending_seconds"] or 0}'
        for entry in health["connections"]
    ]
    lines += ["# HELP mes_erp_latency_ms Recorded-to-acknowledged latency over the last hour.", "# TYPE mes_erp_latency_ms gauge"]
    for entry in health["connections"]:
        for name, quantile in (("p50", "0.5"), ("p95", "0.95"), ("p99", "0.99")):
            if entry["latency_ms"][name] is not None:
                lines.append(f'mes_erp_latency_ms{{connection="{entry["name"]}",quantile="{quantile}"}} {entry["latency_ms"][name]}')
    lines += ["# HELP mes_erp_alert 1 while ERP sync needs attention.", "# TYPE mes_erp_alert gauge", f"mes_erp_alert {int(health['alert']['active'])}"]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain; version=0.0.4; charset=utf-8")
