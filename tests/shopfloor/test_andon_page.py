"""The andon board page: open calls first, oldest on top, coloured by age; supervisors and quality
acknowledge, resolve and close from it (the API's service); MTTA and MTTR per kind, line and week."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.test import Client
from django.utils import translation

from shopfloor.andon.services import AndonRequest, andon_raise, andon_transition
from shopfloor.models import AndonCall
from tests.helpers import signed_in

pytestmark = pytest.mark.django_db
START = datetime.datetime(2026, 12, 7, 2, 0, tzinfo=datetime.UTC)


def raise_at(minutes_ago: int, **fields) -> AndonCall:
    with time_machine.travel(START - datetime.timedelta(minutes=minutes_ago), tick=False):
        return andon_raise(request=AndonRequest(**({"kind": "equipment", "severity": "high", "work_center": "WC-CUT"} | fields))).call


def test_open_calls_come_first_oldest_on_top_coloured_by_age(plant):
    raise_at(1, note="call-fresh"), raise_at(7, note="call-amber"), raise_at(20, note="call-red", severity="critical")
    handled = raise_at(30, note="call-handled")
    andon_transition(call_id=handled.uuid, action="acknowledge")
    with time_machine.travel(START, tick=False):
        page = signed_in(Client(), "supervisor").get("/andon/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    order = [page.index(note) for note in ("call-red", "call-amber", "call-fresh", "call-handled")]
    assert order == sorted(order)
    assert 'class="andon-red severity-critical"' in page and 'class="andon-amber severity-high"' in page
    assert 'class="andon-fresh severity-high"' in page and 'data-open-count="3"' in page


def test_a_supervisor_acknowledges_and_resolves_from_the_page_and_an_operator_may_only_look(plant):
    call = raise_at(3)
    supervisor, operator = signed_in(Client(), "supervisor"), signed_in(Client(), "operator", "operator-person")
    assert operator.get("/andon/").status_code == 200
    assert operator.post("/andon/", {"call": str(call.uuid), "action": "acknowledge"}).status_code == 403
    assert AndonCall.objects.get().state == "open"

    supervisor.post("/andon/", {"call": str(call.uuid), "action": "acknowledge"})
    supervisor.post("/andon/", {"call": str(call.uuid), "action": "resolve", "note": "chip cleared", "root_cause": "coolant"})
    call.refresh_from_db()
    assert (call.state, call.resolution_note, call.root_cause, call.acknowledged_by) == ("resolved", "chip cleared", "coolant", "supervisor-person")
    refused = supervisor.post("/andon/", {"call": str(call.uuid), "action": "acknowledge"}, follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert "This call is resolved; it cannot be acknowledged now." in refused.content.decode()
    bad = supervisor.post("/andon/", {"call": "not-a-uuid", "action": "close"}, follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert "Choose a call." in bad.content.decode()


def test_response_times_per_kind_line_and_week(plant):
    call = raise_at(60)
    with time_machine.travel(START - datetime.timedelta(minutes=50), tick=False):
        andon_transition(call_id=call.uuid, action="acknowledge")
    with time_machine.travel(START - datetime.timedelta(minutes=30), tick=False):
        andon_transition(call_id=call.uuid, action="resolve")
    raise_at(10, kind="material")
    from shopfloor.andon.selectors import andon_response_times

    times = andon_response_times(now=START)
    by_kind = {entry.key: (entry.calls, entry.mtta_minutes, entry.mttr_minutes) for entry in times["kind"]}
    assert by_kind == {"equipment": (1, 10.0, 30.0), "material": (1, None, None)}
    with translation.override("zh-hans"):
        page = signed_in(Client(), "supervisor", "lead-2").get("/andon/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "安灯：求助呼叫" in page and "最近 4 周的响应时间" in page
