"""REST API of the event stream's destinations (admin): list, add or change, enable, remove, test.
Passwords in URLs are answered as ``***`` and never stored in clear."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from common.api.base import ERRORS, ApiView, validated
from erp_sync.event_destinations import (
    event_destination_enable,
    event_destination_get,
    event_destination_json,
    event_destination_remove,
    event_destination_test,
    event_destination_upsert,
    event_destinations_list,
)

TAGS = ["event-stream"]
CAPABILITY = "erp_connection.manage"  # the admin's, as for ERP connections


class DestinationSerializer(serializers.Serializer):
    """A destination as written by an admin: one URL (its password write-only; "***" keeps the stored one)."""

    url = serializers.CharField(max_length=500)
    exchange = serializers.CharField(max_length=255, required=False, allow_blank=False)
    topic_prefix = serializers.CharField(max_length=200, required=False, allow_blank=True)
    is_enabled = serializers.BooleanField(required=False)


class EventDestinationListView(ApiView):
    capabilities = {"GET": CAPABILITY}

    @extend_schema(
        operation_id="v1_event_destinations_list", tags=TAGS,
        summary="Stream destinations (RabbitMQ, MQTT), with what each has yet to get; passwords never shown",
        responses={200: dict, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        return Response({"results": event_destinations_list()})


class EventDestinationView(ApiView):
    capabilities = {"GET": CAPABILITY, "PUT": CAPABILITY, "DELETE": CAPABILITY}

    @extend_schema(operation_id="v1_event_destinations_retrieve", tags=TAGS, summary="One stream destination", responses={200: dict, **ERRORS})
    def get(self, request: Request, name: str) -> Response:
        return Response(event_destination_json(event_destination_get(name=name)))

    @extend_schema(
        tags=TAGS,
        summary="Create or change a stream destination by name; a new one gets the events from now on",
        request=DestinationSerializer,
        examples=[
            OpenApiExample(
                "RabbitMQ topic exchange", value={"url": "amqp://mes:secret@127.0.0.1:5672/%2F", "exchange": "mes.events"}, request_only=True,
            ),
            OpenApiExample("MQTT broker", value={"url": "mqtt://127.0.0.1:1883", "topic_prefix": "mes/"}, request_only=True),
        ],
        responses={200: dict, 201: dict, **ERRORS},
    )
    def put(self, request: Request, name: str) -> Response:
        data = validated(DestinationSerializer, request.data)
        destination, created = event_destination_upsert(
            name=name, url=data["url"], exchange=data.get("exchange"), topic_prefix=data.get("topic_prefix"),
            is_enabled=data.get("is_enabled"), actor=request.user,
        )
        return Response(event_destination_json(destination), status=201 if created else 200)

    @extend_schema(tags=TAGS, summary="Remove a stream destination", responses={204: None, **ERRORS})
    def delete(self, request: Request, name: str) -> Response:
        event_destination_remove(name=name, actor=request.user)
        return Response(status=204)


class EnabledSerializer(serializers.Serializer):
    is_enabled = serializers.BooleanField()


class EventDestinationEnableView(ApiView):
    capabilities = {"POST": CAPABILITY}

    @extend_schema(
        tags=TAGS, summary="Enable or disable a stream destination (disabled, it keeps its place and catches up later)",
        request=EnabledSerializer,
        examples=[OpenApiExample("Disable", value={"is_enabled": False}, request_only=True)],
        responses={200: dict, **ERRORS},
    )
    def post(self, request: Request, name: str) -> Response:
        data = validated(EnabledSerializer, request.data)
        return Response(event_destination_json(event_destination_enable(name=name, enabled=data["is_enabled"], actor=request.user)))


class EventDestinationTestView(ApiView):
    capabilities = {"POST": CAPABILITY}

    @extend_schema(
        tags=TAGS, summary="Publish a test event (mes.test) and wait for the broker's confirm", request=None,
        examples=[OpenApiExample("No body", value=None, request_only=True)],
        responses={200: dict, **ERRORS},
    )
    def post(self, request: Request, name: str) -> Response:
        result = event_destination_test(name=name)
        return Response({"name": name, "confirmed": result.ok, "detail": result.detail, "latency_ms": result.latency_ms})
