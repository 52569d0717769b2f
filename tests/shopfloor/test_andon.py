"""Andon calls through the API, their moves, escalation along the most specific ladder with a
pinned clock, and the channels' wire formats, against a real HTTP receiver on loopback."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import threading
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from mes.models import Event
from shopfloor.andon.channels import dingtalk_signed_url
from shopfloor.andon.services import andon_escalate, andon_notices_due
from shopfloor.models import AndonCall, AndonNotice
from tests.helpers import loopback_http_server

URL = "/api/v1/andon"
START = datetime.datetime(2026, 12, 7, 2, 0, tzinfo=datetime.UTC)


@dataclass
class Receiver:
    port: int = 0
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    answers: list[tuple[int, dict]] = field(default_factory=list)  # served in turn, then 200 {"errcode": 0}
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self) -> list[dict]:
        return [json.loads(body) for _path, _headers, body in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 — http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with state.lock:
                state.requests.append((self.path, dict(self.headers), body))
                status, answer = state.answers.pop(0) if state.answers else (200, {"errcode": 0, "errmsg": "ok"})
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    with loopback_http_server(Handler) as port:
        state.port = port
        yield state


def raise_call(client, **fields):
    body = {"kind": "equipment", "severity": "high", "work_center": "WC-CUT", "note": "spindle alarm"} | fields
    return client.post(URL, body, format="json")


def ladder(admin_api, code, steps, **match):
    answer = admin_api.put(f"/api/v1/andon-ladders/{code}", {"steps": steps, **match}, format="json")
    assert answer.status_code in (200, 201), answer.json()
    return answer


# --- calls and their moves -------------------------------------------------------------------------


def test_an_operator_raises_a_call_that_a_supervisor_acknowledges_resolves_and_closes(plant, operator, supervisor):
    raised = raise_call(operator, work_order="", client_id=str(uuid.uuid4()))
    assert raised.status_code == 201
    call = raised.json()
    assert (call["state"], call["kind"], call["work_center"], call["raised_by"]) == ("open", "equipment", "WC-CUT", operator.user.username)

    acknowledged = supervisor.post(f"{URL}/{call['id']}/acknowledge", {}, format="json")
    resolved = supervisor.post(f"{URL}/{call['id']}/resolve", {"note": "reset the drive", "root_cause": "overheating"}, format="json")
    closed = supervisor.post(f"{URL}/{call['id']}/close", {}, format="json")

    assert [r.status_code for r in (acknowledged, resolved, closed)] == [200, 200, 200]
    final = closed.json()
    assert final["state"] == "closed" and final["root_cause"] == "overheating" and final["resolution_note"] == "reset the drive"
    assert all(final[f"{step}_by"] == supervisor.user.username for step in ("acknowledged", "resolved", "closed"))
    assert list(Event.objects.filter(object_type="andon").order_by("pk").values_list("action", flat=True)) == [
        "raise", "acknowledge", "resolve", "close"
    ]
    assert supervisor.get(f"{URL}?state=closed&work_center=WC-CUT").json()["results"][0]["id"] == call["id"]
    assert supervisor.get(f"{URL}?state=open").json()["results"] == []


def test_a_resend_answers_the_call_and_a_changed_resend_is_a_conflict(plant, operator):
    client_id = str(uuid.uuid4())
    first, again = raise_call(operator, client_id=client_id), raise_call(operator, client_id=client_id)
    changed = raise_call(operator, client_id=client_id, severity="low")
    assert (first.status_code, again.status_code, changed.status_code) == (201, 200, 409)
    assert again.json()["id"] == first.json()["id"] and AndonCall.objects.count() == 1
    assert changed.json()["error"]["code"] == "client_id_conflict"


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"kind": "coffee"}, 400, None),
        ({"work_center": "WC-NOPE"}, 404, "unknown_work_center"),
        ({"equipment": "NOPE"}, 404, "unknown_equipment"),
        ({"work_order": "WO-NOPE"}, 404, "unknown_work_order"),
    ],
)
def test_bad_calls_are_refused_by_name_and_nothing_is_recorded(plant, operator, fields, status, code):
    answer = raise_call(operator, **fields)
    assert answer.status_code == status
    if code:
        assert answer.json()["error"]["code"] == code
    assert AndonCall.objects.count() == 0


def test_moves_out_of_order_are_refused_and_the_same_move_again_is_harmless(plant, operator, supervisor):
    call = raise_call(operator).json()
    refused = supervisor.post(f"{URL}/{call['id']}/close", {}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "illegal_transition"
    assert refused.json()["error"]["message"] == "This call is open; it cannot be closed now."
    in_chinese = supervisor.post(f"{URL}/{call['id']}/close", {}, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert in_chinese.json()["error"]["message"] == "此呼叫当前为未解决，现在不能关闭。"
    supervisor.post(f"{URL}/{call['id']}/acknowledge", {}, format="json")
    again = supervisor.post(f"{URL}/{call['id']}/acknowledge", {}, format="json")
    assert again.status_code == 200 and again.json()["state"] == "acknowledged"
    assert supervisor.post(f"{URL}/{uuid.uuid4()}/acknowledge", {}, format="json").status_code == 404
    assert supervisor.post(f"{URL}/not-a-uuid/acknowledge", {}, format="json").status_code == 400


def test_who_may_do_what(plant, operator, planner, quality, admin_api):
    assert raise_call(planner).status_code == 403
    call = raise_call(quality).json()
    assert operator.post(f"{URL}/{call['id']}/acknowledge", {}, format="json").status_code == 403
    assert quality.post(f"{URL}/{call['id']}/acknowledge", {}, format="json").status_code == 200
    steps = [{"after_seconds": 0, "when": "unacknowledged", "channel": {"type": "email", "to": "a@example.com"}}]
    assert quality.put("/api/v1/andon-ladders/L1", {"steps": steps}, format="json").status_code == 403
    assert admin_api.put("/api/v1/andon-ladders/L1", {"steps": steps}, format="json").status_code == 201


# --- ladders -----------------------------------------------------------------------------------------


def test_a_ladder_with_errors_names_each_and_stores_nothing(plant, admin_api):
    answer = admin_api.put(
        "/api/v1/andon-ladders/BAD",
        {
            "kind": "coffee", "work_center": "WC-NOPE",
            "steps": [
                {"after_seconds": -1, "when": "later", "channel": {"type": "pager"}},
                {"after_seconds": 60, "when": "unresolved", "channel": {"type": "webhook", "url": "ftp://x"}},
                {"after_seconds": 60, "when": "unresolved", "channel": {"type": "email", "to": "not-an-address"}},
            ],
        },
        format="json",
    )
    assert answer.status_code == 422
    fields = answer.json()["error"]["fields"]
    assert set(fields) >= {
        "kind", "work_center", "steps[0].after_seconds", "steps[0].when", "steps[0].channel.type", "steps[1].channel.url", "steps[2].channel.to"
    }
    assert admin_api.get("/api/v1/andon-ladders/BAD").status_code == 404


def test_a_ladders_secret_is_kept_encrypted_and_answered_masked(plant, admin_api, receiver):
    steps = [{"after_seconds": 0, "when": "unacknowledged", "channel": {"type": "dingtalk", "url": receiver.url(), "secret": "SECabc"}}]
    ladder(admin_api, "DT", steps)
    answer = admin_api.get("/api/v1/andon-ladders/DT").json()
    assert answer["steps"][0]["channel"]["secret"] == "***"
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT steps FROM shopfloor_andonladder WHERE code = 'DT'")
        assert "SECabc" not in str(cursor.fetchone()[0])


# --- escalation --------------------------------------------------------------------------------------


def test_a_call_nobody_acknowledges_climbs_the_ladder_each_step_once(plant, operator, admin_api, receiver):
    ladder(admin_api, "CUT-HIGH", [
        {"after_seconds": 0, "when": "unacknowledged", "channel": {"type": "webhook", "url": receiver.url("/lead"), "secret": "s3"}},
        {"after_seconds": 300, "when": "unacknowledged", "channel": {"type": "wecom", "url": receiver.url("/supervisor")}},
        {"after_seconds": 1800, "when": "unresolved", "channel": {"type": "email", "to": "manager@example.com"}},
    ], kind="equipment")
    with time_machine.travel(START, tick=False) as clock:
        call = raise_call(operator).json()
        andon_notices_due()  # no worker here: the sweep sends what the raise recorded
        assert [path for path, _h, _b in receiver.requests] == ["/lead"]
        path, headers, body = receiver.requests[0]
        assert headers["X-MES-Signature"] == "sha256=" + hmac.new(b"s3", body, hashlib.sha256).hexdigest()
        assert json.loads(body)["call"]["id"] == call["id"] and json.loads(body)["step"] == 0

        clock.shift(299)
        andon_escalate()
        assert len(receiver.requests) == 1
        clock.shift(2)
        andon_escalate()
        andon_escalate()
        assert [path for path, _h, _b in receiver.requests] == ["/lead", "/supervisor"]
        assert receiver.bodies()[1]["msgtype"] == "text" and "WC-CUT" in receiver.bodies()[1]["text"]["content"]

        AndonCall.objects.filter(uuid=call["id"]).update(state="acknowledged", acknowledged_at=timezone.now())
        clock.shift(1800)
        andon_escalate()
        assert len(mail.outbox) == 1 and mail.outbox[0].to == ["manager@example.com"]
        andon_escalate()
    assert len(receiver.requests) == 2 and len(mail.outbox) == 1
    assert list(AndonNotice.objects.order_by("step").values_list("step", "state")) == [(0, "sent"), (1, "sent"), (2, "sent")]


def test_a_call_acknowledged_in_time_does_not_escalate(plant, operator, supervisor, admin_api, receiver):
    ladder(admin_api, "ANY", [{"after_seconds": 120, "when": "unacknowledged", "channel": {"type": "webhook", "url": receiver.url()}}])
    with time_machine.travel(START, tick=False) as clock:
        call = raise_call(operator).json()
        clock.shift(60)
        supervisor.post(f"{URL}/{call['id']}/acknowledge", {}, format="json")
        clock.shift(600)
        andon_escalate()
    assert receiver.requests == [] and AndonNotice.objects.count() == 0


def test_the_most_specific_ladder_wins(plant, operator, admin_api, receiver):
    ladder(admin_api, "GENERAL", [{"after_seconds": 0, "when": "unacknowledged", "channel": {"type": "webhook", "url": receiver.url("/general")}}])
    ladder(admin_api, "QUALITY", [{"after_seconds": 0, "when": "unacknowledged", "channel": {"type": "webhook", "url": receiver.url("/quality")}}], kind="quality")
    ladder(admin_api, "CUT", [{"after_seconds": 0, "when": "unacknowledged", "channel": {"type": "webhook", "url": receiver.url("/cut")}}], work_center="WC-CUT")
    raise_call(operator, kind="quality", work_center="WC-WELD")
    raise_call(operator, kind="quality", work_center="WC-CUT")
    raise_call(operator, kind="help", work_center="WC-PAINT")
    andon_notices_due()
    assert sorted(path for path, _h, _b in receiver.requests) == ["/cut", "/general", "/quality"]


def test_a_channel_that_refuses_is_retried_with_back_off_then_sent(plant, operator, admin_api, receiver):
    ladder(admin_api, "WECOM", [{"after_seconds": 0, "when": "unacknowledged", "channel": {"type": "wecom", "url": receiver.url()}}])
    receiver.answers += [(200, {"errcode": 93000, "errmsg": "invalid webhook url"}), (502, {})]
    with time_machine.travel(START, tick=False) as clock:
        raise_call(operator)
        andon_notices_due()
        notice = AndonNotice.objects.get()
        assert (notice.state, notice.attempts) == ("failed", 1) and "93000" in notice.last_error
        andon_notices_due()  # not due again yet
        assert len(receiver.requests) == 1
        clock.shift(10)
        andon_notices_due()
        assert AndonNotice.objects.get().attempts == 2 and "502" in AndonNotice.objects.get().last_error
        clock.shift(20)
        andon_notices_due()
    notice = AndonNotice.objects.get()
    assert (notice.state, notice.attempts, len(receiver.requests)) == ("sent", 3, 3)


def test_dingtalk_signs_its_url_as_dingtalk_documents(plant, operator, admin_api, receiver):
    ladder(admin_api, "DT", [{"after_seconds": 0, "when": "unacknowledged", "channel": {"type": "dingtalk", "url": receiver.url("/robot/send?access_token=t0k"), "secret": "SECxyz"}}])
    raise_call(operator)
    andon_notices_due()
    path, _headers, body = receiver.requests[0]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    timestamp = query["timestamp"][0]
    expected = base64.b64encode(hmac.new(b"SECxyz", f"{timestamp}\nSECxyz".encode(), hashlib.sha256).digest()).decode()
    assert query["access_token"] == ["t0k"] and query["sign"] == [expected]
    assert json.loads(body)["msgtype"] == "text"
    # The documented example's shape: &timestamp=…&sign=… appended to the robot's URL.
    assert dingtalk_signed_url(url="https://oapi.dingtalk.com/robot/send?access_token=x", secret="s", timestamp_ms=1).startswith(
        "https://oapi.dingtalk.com/robot/send?access_token=x&timestamp=1&sign="
    )
