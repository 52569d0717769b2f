"""The ERP-sync pages people use: health (with its live partial), dead letters, a message's journey,
and the alert banner on every page a supervisor opens."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from erp_sync.models import OutboxMessage
from mes.models import Event
from tests.helpers import dead_message

pytestmark = pytest.mark.django_db


def _signed_in(client, role: str):
    user = get_user_model().objects.create_user(username=f"{role}-person", password="pw-123456")
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return client


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/sync/")

    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=/sync/")


@pytest.mark.parametrize("role", ["operator", "quality", "integration"])
def test_people_without_a_sync_role_are_refused(client, role):
    assert _signed_in(client, role).get("/sync/").status_code == 403


def test_health_page_and_its_live_partial(client, released_order):
    dead_message(released_order.number, error="Material 4711 is blocked")
    supervisor = _signed_in(client, "supervisor")

    page = supervisor.get("/sync/", HTTP_ACCEPT_LANGUAGE="en")
    partial = supervisor.get("/sync/", HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="en")

    assert page.status_code == 200 and b"<html" in page.content and b'id="health-panel"' in page.content
    assert partial.status_code == 200 and b"<html" not in partial.content
    assert partial.content.strip().startswith(b'<div id="health-panel"')
    assert b"refused by the ERP" in partial.content


def test_banner_warns_supervisors_on_every_page(client, released_order):
    dead_message(released_order.number, error="Material 4711 is blocked")

    home = _signed_in(client, "supervisor").get("/", HTTP_ACCEPT_LANGUAGE="en")

    assert b'class="banner"' in home.content
    assert b"1 message was refused by the ERP" in home.content


def test_banner_stays_away_when_all_is_well(client, released_order):
    home = _signed_in(client, "supervisor").get("/", HTTP_ACCEPT_LANGUAGE="en")

    assert b'class="banner"' not in home.content


def test_dead_letters_are_listed_and_replayed_with_a_reason(client, released_order):
    message = dead_message(released_order.number, error="Material 4711 is blocked")
    supervisor = _signed_in(client, "supervisor")

    listed = supervisor.get("/sync/dead-letters/", HTTP_ACCEPT_LANGUAGE="en")
    without_reason = supervisor.post("/sync/dead-letters/", {"ids": [message.pk], "action": "replay", "reason": ""})
    state_after_refusal = OutboxMessage.objects.get(pk=message.pk).state
    replayed = supervisor.post("/sync/dead-letters/", {"ids": [message.pk], "action": "replay", "reason": "material unblocked"})

    assert b"Material 4711 is blocked" in listed.content
    assert without_reason.status_code == 302 and state_after_refusal == "dead"
    assert replayed.status_code == 302
    assert OutboxMessage.objects.get(pk=message.pk).state == "retrying"
    assert Event.objects.get(object_type="outbox_message", action="replay").actor.username == "supervisor-person"


def test_a_dead_letter_can_be_discarded_from_the_page(client, released_order):
    message = dead_message(released_order.number, error="Material 4711 is blocked")

    _signed_in(client, "supervisor").post("/sync/dead-letters/", {"ids": [message.pk], "action": "discard", "reason": "booked by hand"})

    assert OutboxMessage.objects.get(pk=message.pk).state == "discarded"


@pytest.mark.parametrize("action", ["replay", "discard"])
def test_a_planner_sees_dead_letters_but_may_not_replay_or_discard_them_as_on_the_api(client, released_order, action):
    message = dead_message(released_order.number, error="Material 4711 is blocked")
    planner = _signed_in(client, "planner")
    events = Event.objects.count()

    listed = planner.get("/sync/dead-letters/", HTTP_ACCEPT_LANGUAGE="en")
    response = planner.post("/sync/dead-letters/", {"ids": [message.pk], "action": action, "reason": "looks fixed"})

    assert listed.status_code == 200 and b"Material 4711 is blocked" in listed.content
    assert b'name="action"' not in listed.content and b'name="ids"' not in listed.content
    assert response.status_code == 403
    assert OutboxMessage.objects.get(pk=message.pk).state == "dead"
    assert Event.objects.count() == events


def test_message_page_shows_the_journey(client, released_order):
    message = dead_message(released_order.number, error="Material 4711 is blocked")

    page = _signed_in(client, "planner").get(f"/sync/messages/{message.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    missing = client.get("/sync/messages/999999/")

    assert page.status_code == 200
    assert str(message.idempotency_key).encode() in page.content and b"recorded" in page.content
    assert missing.status_code == 404


# --- in words and a way in everywhere (issue 14, defects 6 and 7) ------------------------------


def test_the_journey_reads_in_chinese_and_links_its_order(client, released_order):
    from tests.helpers import confirm

    message = OutboxMessage.objects.get(source_uuid=confirm(released_order.number, 10, good_qty=1).confirmation.uuid)

    body = _signed_in(client, "planner").get(f"/sync/messages/{message.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    assert 'data-state="queued">待发送</span>' in body
    assert "<td>随报工记录</td>" in body and "<td>排队等待发往 ERP</td>" in body
    assert ">queued<" not in body and ">recorded<" not in body
    assert f'<a href="/planning/orders/{released_order.number}/" class="order">{released_order.number}</a>' in body


def test_health_counts_are_links_to_the_messages_they_count(client, released_order):
    from tests.helpers import confirm

    confirm(released_order.number, 10, good_qty=1)
    confirm(released_order.number, 10, good_qty=2)
    page = _signed_in(client, "supervisor")

    health = page.get("/sync/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    waiting_link = re.search(r'<a href="(/sync/messages/\?state=waiting&amp;connection=[^"]*)" data-count="waiting">2</a>', health)
    assert waiting_link, health
    listed = page.get(waiting_link.group(1).replace("&amp;", "&"), HTTP_ACCEPT_LANGUAGE="en").content.decode()

    ids = re.findall(r'<tr data-message="(\d+)" data-state="queued"', listed)  # two rows, each a way to its journey
    assert all(f'href="/sync/messages/{pk}/"' in listed for pk in ids) and len(ids) == 2


@pytest.mark.parametrize(("query", "expected"), [
    ("", {"queued", "dead"}), ("?state=waiting", {"queued"}), ("?state=dead", {"dead"}), ("?state=acknowledged", set()),
    ("?state=nonsense", {"queued", "dead"}),  # an unknown state is no filter, not an error
])
def test_the_message_list_filters_by_state(client, released_order, query, expected):
    from tests.helpers import confirm

    confirm(released_order.number, 10, good_qty=1)
    dead_message(released_order.number, error="Material 4711 is blocked")

    response = _signed_in(client, "planner").get(f"/sync/messages/{query}", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert set(re.findall(r'<tr data-message="\d+" data-state="(\w+)"', response.content.decode())) == expected


def test_the_message_list_by_work_order_and_its_counts(client, released_order):
    from tests.helpers import confirm

    confirm(released_order.number, 10, good_qty=1)

    body = _signed_in(client, "planner").get("/sync/messages/?work_order=WO-1001", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    other = client.get("/sync/messages/?work_order=WO-9999", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert 'data-state="waiting">still waiting <b>1</b></a>' in body
    assert '<a href="/planning/orders/WO-1001/">WO-1001</a>' in body
    assert "No message matches." in other


def test_the_banner_of_a_stuck_queue_opens_the_messages_still_waiting(client, released_order, settings):
    import datetime

    from django.utils import timezone

    from tests.helpers import confirm

    settings.ERP_SYNC_ALERT_AFTER_SECONDS = 60
    confirm(released_order.number, 10, good_qty=1)
    OutboxMessage.objects.update(created_at=timezone.now() - datetime.timedelta(minutes=5))
    page = _signed_in(client, "supervisor")

    home = page.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    order = page.get(f"/planning/orders/{released_order.number}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert re.search(r'<a href="/sync/messages/\?state=waiting">The oldest message for the ERP has waited 30\d s\.</a>', home)
    assert f'<a href="/sync/messages/?work_order={released_order.number}" class="order-messages">All messages of this order</a>' in order
