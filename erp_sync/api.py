"""REST API of ERP sync: health, the journey of messages, dead letters. Thin: parse, call, answer."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.validators import URLValidator
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from common.api.base import ERRORS, ApiView, check_number, validated
from common.client_ip import client_ip
from common.masking import masked
from common.roles import may
from erp_sync import pulls, services
from erp_sync.models import ErpConnection, OutboxMessage, PullRun
from erp_sync.outbox import SYNC_STATES
from erp_sync.selectors import mapping_preview, message_journey, sync_health
from erp_sync.transitions import sources_of
from mes.api.authentication import PlantTokenAuthentication
from mes.models.accounts import address_in

MESSAGE_STATES = list(SYNC_STATES)
#: The states of a message waiting for its next attempt (those a claim takes it from).
WAITING_STATES = sources_of(OutboxMessage.State.SENDING)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, allow_blank=False)


def reason_example(reason: str) -> list[OpenApiExample]:
    """The request example of an action that takes only a reason."""
    return [OpenApiExample("With a reason", value={"reason": reason}, request_only=True)]


class BulkReplaySerializer(ReasonSerializer):
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), min_length=1, max_length=1000)


class SyncHealthView(ApiView):
    capabilities = {"GET": "api.read"}

    @extend_schema(tags=["erp-sync"], summary="Queue depth, age, latency and alerts of ERP delivery", responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response(sync_health())


class MessageListView(ApiView):
    capabilities = {"GET": "api.read"}

    @extend_schema(
        operation_id="v1_sync_messages_list",
        tags=["erp-sync"],
        summary="Outbox messages, newest first, filtered by state and work order",
        parameters=[OpenApiParameter("state", enum=MESSAGE_STATES), OpenApiParameter("work_order", str)],
        responses={200: dict, **ERRORS},
    )
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
    capabilities = {"GET": "api.read"}

    @extend_schema(operation_id="v1_sync_messages_retrieve", tags=["erp-sync"], summary="One message with every step of its journey", responses={200: dict, **ERRORS})
    def get(self, request: Request, message_id: int) -> Response:
        return Response(message_journey(message_id=check_number("id", message_id)))


class MessageReplayView(ApiView):
    capabilities = {"POST": "erp_sync.resolve"}

    @extend_schema(operation_id="v1_sync_messages_replay_create", tags=["erp-sync"], summary="Send a dead message again (with a reason; audited)", request=ReasonSerializer, responses={200: dict, **ERRORS},
                   examples=reason_example("Material master fixed in the ERP; the posting can go through now."))
    def post(self, request: Request, message_id: int) -> Response:
        data = validated(ReasonSerializer, request.data)
        services.messages_replay(message_ids=[check_number("id", message_id)], reason=data["reason"], actor=request.user)
        return Response(message_journey(message_id=check_number("id", message_id)))


class MessageBulkReplayView(ApiView):
    capabilities = {"POST": "erp_sync.resolve"}

    @extend_schema(operation_id="v1_sync_messages_bulk_replay_create", tags=["erp-sync"], summary="Send several dead messages again, all or none", request=BulkReplaySerializer, responses={200: dict, **ERRORS},
                   examples=[OpenApiExample("Three messages", value={"ids": [1041, 1042, 1045], "reason": "ERP period reopened."}, request_only=True)])
    def post(self, request: Request) -> Response:
        data = validated(BulkReplaySerializer, request.data)
        messages = services.messages_replay(message_ids=data["ids"], reason=data["reason"], actor=request.user)
        return Response({"replayed": [message.pk for message in messages]})


class MessageDiscardView(ApiView):
    capabilities = {"POST": "erp_sync.resolve"}

    @extend_schema(tags=["erp-sync"], summary="Give up on a dead message so its order can proceed (with a reason; audited)", request=ReasonSerializer, responses={200: dict, **ERRORS},
                   examples=reason_example("Booked by hand in the ERP as document 4900012345."))
    def post(self, request: Request, message_id: int) -> Response:
        data = validated(ReasonSerializer, request.data)
        services.message_discard(message_id=check_number("id", message_id), reason=data["reason"], actor=request.user)
        return Response(message_journey(message_id=check_number("id", message_id)))


class PullListView(ApiView):
    capabilities = {"GET": "api.read"}

    @extend_schema(
        operation_id="v1_sync_pulls_list",
        tags=["erp-sync"],
        summary="Order pulls from ERPs that do not push, newest first, each with its counts and refused records",
        description=(
            "Each run of `manage.py erp_pull` or of the schedule (`MES_ERP_PULL_INTERVAL`) for a connection with the option "
            "`pull_orders`: the ERP's change stamp it read from (`since`) and reached (`high_water_mark`), the orders read, "
            "created, changed, unchanged and refused, and each refused record with the ERP's key, the code and the message. "
            "Paged: `page` (from 1) and `page_size` (1 to 200, default 50); `pages` says how many there are."
        ),
        parameters=[
            OpenApiParameter("connection", str, description="one connection's runs"),
            OpenApiParameter("state", enum=list(PullRun.State.values)),
            OpenApiParameter("page", int, description="from 1"),
            OpenApiParameter("page_size", int, description="1 to 200, default 50"),
        ],
        responses={200: dict, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        query = request.query_params
        state = query.get("state", "")
        if state and state not in PullRun.State.values:
            raise serializers.ValidationError({"state": [f"Must be one of {', '.join(PullRun.State.values)}."]})
        page = _whole_parameter(query, "page", 1, minimum=1, maximum=10**9)
        page_size = _whole_parameter(query, "page_size", pulls.PAGE_SIZE, minimum=1, maximum=pulls.MAX_PAGE_SIZE)
        connection = query.get("connection", "").strip()[:64]
        if any(ord(character) < 32 for character in connection):
            raise serializers.ValidationError({"connection": ["Control characters (such as NUL) are not allowed."]})
        journal = pulls.pull_page(connection=connection, state=state, page=page, page_size=page_size)
        return Response({**journal, "results": [pulls.pull_run_json(run) for run in journal["results"]]})


def _whole_parameter(query: Any, name: str, default: int, *, minimum: int, maximum: int) -> int:
    text = query.get(name, "")
    if text == "":
        return default
    if not re.fullmatch(r"[0-9]{1,10}", text) or not minimum <= int(text) <= maximum:
        raise serializers.ValidationError({name: [f"A whole number from {minimum} to {maximum}."]})
    return int(text)


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
        "next_attempt_at": message.next_attempt_at if message.state in WAITING_STATES else None,
        "acknowledged_at": message.acknowledged_at,
    }


@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format: queue depth, age, latency and alert state per connection.

    Readable from ``METRICS_ALLOW_FROM`` (loopback unless set), or from anywhere with the
    token (``Authorization: Token …``) or session of a supervisor, integration or admin.
    """
    refusal = _metrics_refusal(request)
    if refusal is not None:
        return refusal
    # A registry of this request's own: each web process answers from the database, so no
    # process keeps counts that another would contradict.
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SyncCollector())
    return HttpResponse(generate_latest(registry), content_type=METRICS_CONTENT_TYPE)


#: The Prometheus text format, version 0.0.4, which every Prometheus reads.
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class SyncCollector(Collector):
    """Queue depth, age, latency and alert state of ERP delivery per connection, read once per scrape."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        health = sync_health()
        connections = health["connections"]
        messages = GaugeMetricFamily("mes_erp_messages", "Outbox messages by connection and state.", labels=["connection", "state"])
        sent = GaugeMetricFamily("mes_erp_sent_last_hour", "Messages acknowledged by the ERP in the last hour.", labels=["connection"])
        oldest = GaugeMetricFamily("mes_erp_oldest_pending_seconds", "Age of the oldest unsent message.", labels=["connection"])
        latency = GaugeMetricFamily(
            "mes_erp_latency_ms", "Recorded-to-acknowledged latency over the last hour.", labels=["connection", "quantile"]
        )
        for entry in connections:
            for state in ("pending", "retrying", "dead"):
                messages.add_metric([entry["name"], state], entry[state])
            sent.add_metric([entry["name"]], entry["sent_last_hour"])
            oldest.add_metric([entry["name"]], entry["oldest_pending_seconds"] or 0)
            for name, quantile in (("p50", "0.5"), ("p95", "0.95"), ("p99", "0.99")):
                if entry["latency_ms"][name] is not None:
                    latency.add_metric([entry["name"], quantile], entry["latency_ms"][name])
        yield from (messages, sent, oldest, latency)
        yield GaugeMetricFamily("mes_erp_alert", "1 while ERP sync needs attention.", value=int(health["alert"]["active"]))


def _metrics_refusal(request: HttpRequest) -> HttpResponse | None:
    try:
        authenticated = PlantTokenAuthentication().authenticate(request)
    except exceptions.AuthenticationFailed as error:
        return HttpResponse(f"{error.detail}\n", status=401, content_type="text/plain; charset=utf-8")
    if address_in(client_ip(request), settings.METRICS_ALLOW_FROM):
        return None
    if may(authenticated[0] if authenticated else request.user, "metrics.read"):
        return None
    message = _(
        "Metrics are readable from the addresses in METRICS_ALLOW_FROM (%(networks)s), "
        "or with the token of a supervisor, integration or admin."
    ) % {"networks": ", ".join(settings.METRICS_ALLOW_FROM)}
    return HttpResponse(f"{message}\n", status=403, content_type="text/plain; charset=utf-8")


# --- ERP connections (admin) -------------------------------------------------------------

def connection_url_shape(value: str) -> None:
    """An http(s) URL, or a ``file:`` one (a folder, for a kind that writes files: the service checks which)."""
    if not value.startswith("file:"):
        URLValidator(schemes=["http", "https"])(value)


class ConnectionSerializer(serializers.Serializer):
    """A connection as written by an admin. Secrets are write-only: omit them to keep the stored ones
    (secrets in ``options`` are answered as "***"; "***" written back keeps the stored one)."""

    kind = serializers.ChoiceField(choices=[choice for choice, _label in ErpConnection.Kind.choices])
    url = serializers.CharField(max_length=500, validators=[connection_url_shape])
    user = serializers.CharField(max_length=200, required=False, allow_blank=True)
    password = serializers.CharField(max_length=500, required=False, allow_blank=True, write_only=True)
    token = serializers.CharField(max_length=500, required=False, allow_blank=True, write_only=True)
    options = serializers.DictField(required=False)
    timeout_seconds = serializers.IntegerField(min_value=1, max_value=300, required=False)
    is_default = serializers.BooleanField(required=False)
    is_enabled = serializers.BooleanField(required=False)


def _connection_json(connection: ErpConnection) -> dict[str, Any]:
    return {
        "name": connection.name,
        "kind": connection.kind,
        "url": connection.base_url,
        "user": connection.username,
        "has_password": bool(connection.password),
        "has_token": bool(connection.token),
        "options": masked(connection.options),
        "timeout_seconds": connection.timeout_seconds,
        "is_default": connection.is_default,
        "is_enabled": connection.is_enabled,
        "updated_at": connection.updated_at,
        # "must_be_reentered" when MES_SECRETS_KEY cannot decrypt a stored secret (the key was lost
        # or replaced): nothing is sent through the connection until they are written again.
        "secret_state": "must_be_reentered" if connection.unreadable_secrets() else "ok",
        "secrets_to_reenter": connection.unreadable_secrets(),
    }


class ConnectionListView(ApiView):
    capabilities = {"GET": "erp_connection.manage"}

    @extend_schema(operation_id="v1_erp_connections_list", tags=["erp-sync"], summary="ERP connections (secrets never shown)", responses={200: dict, **ERRORS})
    def get(self, request: Request) -> Response:
        return Response({"results": [_connection_json(row) for row in ErpConnection.objects.order_by("name")]})


class ConnectionView(ApiView):
    capabilities = {"GET": "erp_connection.manage", "PUT": "erp_connection.manage"}

    @extend_schema(operation_id="v1_erp_connections_retrieve", tags=["erp-sync"], summary="One ERP connection", responses={200: dict, **ERRORS})
    def get(self, request: Request, name: str) -> Response:
        return Response(_connection_json(services.erp_connection_get(name=name)))

    @extend_schema(
        tags=["erp-sync"],
        summary="Create or change an ERP connection by name; secrets are write-only",
        request=ConnectionSerializer,
        examples=[
            OpenApiExample(
                "ERPNext with an API token",
                value={"kind": "erpnext", "url": "https://erp.example.com", "token": "api-key:api-secret", "timeout_seconds": 10, "is_default": True},
                request_only=True,
            )
        ],
        responses={200: dict, 201: dict, **ERRORS},
    )
    def put(self, request: Request, name: str) -> Response:
        data = validated(ConnectionSerializer, request.data)
        connection, created = services.erp_connection_upsert(
            name=name,
            kind=data["kind"],
            base_url=data["url"],
            username=data.get("user"),
            password=data.get("password"),
            token=data.get("token"),
            options=data.get("options"),
            timeout_seconds=data.get("timeout_seconds"),
            is_default=data.get("is_default"),
            is_enabled=data.get("is_enabled"),
            actor=request.user,
        )
        return Response(_connection_json(connection), status=201 if created else 200)


class ConnectionTestView(ApiView):
    capabilities = {"POST": "erp_connection.manage"}

    @extend_schema(tags=["erp-sync"], summary="Call the ERP once: is it there, do the credentials work?", request=None, responses={200: dict, **ERRORS})
    def post(self, request: Request, name: str) -> Response:
        health = services.erp_connection_test(name=name)
        return Response({"name": name, "reachable": health.reachable, "detail": health.detail, "latency_ms": health.latency_ms})


class MappingPreviewSerializer(serializers.Serializer):
    mapping = serializers.DictField()
    time_zone = serializers.CharField(required=False, allow_blank=True, max_length=64)

    def validate_time_zone(self, value: str) -> str:
        if value:
            try:
                zoneinfo.ZoneInfo(value)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise serializers.ValidationError(f"Unknown time zone {value!r}; give an IANA name such as Asia/Shanghai.") from None
        return value


class MappingPreviewView(ApiView):
    capabilities = {"POST": "erp_connection.manage"}

    @extend_schema(
        tags=["erp-sync"],
        summary="Preview a REST field mapping against the most recent confirmation, with its problems",
        request=MappingPreviewSerializer,
        examples=[
            OpenApiExample(
                "Order, operation and quantities",
                value={
                    "mapping": {
                        "order": {"from": "work_order"},
                        "step": {"format": "{work_order}-{operation:04d}"},
                        "yield": {"from": "good_qty", "type": "number"},
                        "posted_at": {"from": "confirmed_at", "date_format": "%Y-%m-%d %H:%M"},
                    },
                    "time_zone": "Asia/Shanghai",
                },
                request_only=True,
            )
        ],
        responses={200: dict, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = validated(MappingPreviewSerializer, request.data)
        return Response(mapping_preview(mapping=data["mapping"], time_zone=data.get("time_zone") or None))
