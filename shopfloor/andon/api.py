"""REST API of andon: calls (raise, list, read, acknowledge, resolve, close) and escalation ladders."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from common.api.base import ERRORS, ApiView, InboundWriteView, check_key, parse_uuid, validated
from common.errors import DomainError, ErrorKind
from common.masking import masked
from mes.api.docs import documented
from shopfloor.andon.selectors import andon_call_get, andon_calls
from shopfloor.andon.services import AndonRequest, andon_json, andon_ladder_put, andon_raise, andon_transition
from shopfloor.models import AndonCall, AndonLadder


class AndonRaiseSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=AndonCall.Kind.choices)
    severity = serializers.ChoiceField(choices=AndonCall.Severity.choices)
    work_center = serializers.CharField(max_length=64)
    equipment = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    work_order = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    station = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    client_id = serializers.UUIDField(required=False, allow_null=True, default=None)


class AndonResolveSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
    root_cause = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class AndonNoteSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


RAISE_EXAMPLE = OpenApiExample(
    "A machine stopped", request_only=True,
    value={"kind": "equipment", "severity": "high", "work_center": "WC-CUT", "equipment": "CUT-01", "note": "spindle alarm"},
)


class AndonListView(InboundWriteView):
    capabilities = {"GET": "api.read", "POST": "andon.raise"}

    @extend_schema(
        operation_id="andon_list",
        tags=["andon"], summary="Andon calls, newest first (at most 500), by state and work center",
        parameters=[OpenApiParameter("state", str, enum=AndonCall.State.values), OpenApiParameter("work_center", str)],
        responses={200: dict, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        calls = andon_calls(state=request.query_params.get("state", ""), work_center=request.query_params.get("work_center", ""))
        return Response({"results": [andon_json(call) for call in calls]})

    @extend_schema(
        tags=["andon"], summary="Raise an andon call: its ladder's first steps are told at once",
        request=AndonRaiseSerializer, examples=[RAISE_EXAMPLE], responses={201: dict, 200: dict, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = validated(AndonRaiseSerializer, request.data)
        result = andon_raise(request=AndonRequest(**data), actor=request.user)
        return Response(andon_json(result.call), status=201 if result.created else 200)


class AndonDetailView(ApiView):
    capabilities = {"GET": "api.read"}

    @extend_schema(operation_id="andon_read", tags=["andon"], summary="One andon call", responses={200: dict, **ERRORS})
    def get(self, request: Request, call_id: str) -> Response:
        return Response(andon_json(andon_call_get(call_id=parse_uuid("id", call_id))))


class AndonActionView(InboundWriteView):
    capabilities = {"POST": "andon.handle"}
    action = ""
    serializer_class: type[serializers.Serializer] = AndonNoteSerializer

    def post(self, request: Request, call_id: str) -> Response:
        data = validated(self.serializer_class, request.data or {})
        call = andon_transition(call_id=parse_uuid("id", call_id), action=self.action, actor=request.user, **data)
        return Response(andon_json(andon_call_get(call_id=call.uuid)))


class AndonAcknowledgeView(AndonActionView):
    action = "acknowledge"
    post = documented(
        AndonActionView.post, tags=["andon"], summary="Acknowledge a call: someone is on the way",
        request=AndonNoteSerializer, examples=[OpenApiExample("On my way", request_only=True, value={"note": "on my way"})], responses={200: dict, **ERRORS},
    )


class AndonResolveView(AndonActionView):
    action = "resolve"
    serializer_class = AndonResolveSerializer
    post = documented(
        AndonActionView.post, tags=["andon"], summary="Resolve a call with what was done and, if known, the root cause",
        request=AndonResolveSerializer, examples=[OpenApiExample("Fixed", request_only=True, value={"note": "reset the spindle drive", "root_cause": "overheating"})],
        responses={200: dict, **ERRORS},
    )


class AndonCloseView(AndonActionView):
    action = "close"
    post = documented(
        AndonActionView.post, tags=["andon"], summary="Close a resolved call",
        request=AndonNoteSerializer, examples=[OpenApiExample("Checked", request_only=True, value={"note": "checked with the line lead"})], responses={200: dict, **ERRORS},
    )


def ladder_json(ladder: AndonLadder) -> dict:
    return {
        "code": ladder.code,
        "kind": ladder.kind or None,
        "severity": ladder.severity or None,
        "work_center": ladder.work_center.code if ladder.work_center_id else None,
        "steps": masked(ladder.steps),
    }


LADDER_EXAMPLE = OpenApiExample(
    "Tell the line lead at once, the supervisor after 5 minutes", request_only=True,
    value={
        "kind": "equipment", "severity": "high",
        "steps": [
            {"after_seconds": 0, "when": "unacknowledged", "channel": {"type": "wecom", "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…"}},
            {"after_seconds": 300, "when": "unacknowledged", "channel": {"type": "dingtalk", "url": "https://oapi.dingtalk.com/robot/send?access_token=…", "secret": "SEC…"}},
            {"after_seconds": 1800, "when": "unresolved", "channel": {"type": "email", "to": "plant-manager@example.com"}},
        ],
    },
)


class AndonLadderView(InboundWriteView):
    capabilities = {"GET": "api.read", "PUT": "andon_ladder.write"}

    @extend_schema(tags=["andon"], summary="One escalation ladder (secrets answered as \"***\")", responses={200: dict, **ERRORS})
    def get(self, request: Request, code: str) -> Response:
        ladder = AndonLadder.objects.select_related("work_center").filter(code=check_key("code", code)).first()
        if ladder is None:
            raise DomainError("unknown_ladder", _("No andon ladder %(code)s.") % {"code": code[:64]}, kind=ErrorKind.NOT_FOUND, fields={"code": code[:64]})
        return Response(ladder_json(ladder))

    @extend_schema(
        tags=["andon"], summary="Create or replace an escalation ladder; every bad field is named",
        request=dict, examples=[LADDER_EXAMPLE], responses={201: dict, 200: dict, **ERRORS},
    )
    def put(self, request: Request, code: str) -> Response:
        ladder, created = andon_ladder_put(code=check_key("code", code), data=request.data, actor=request.user)
        return Response(ladder_json(ladder), status=201 if created else 200)
