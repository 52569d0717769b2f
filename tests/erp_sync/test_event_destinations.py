"""Managing the stream's destinations: the command, the API (admin only), the admin, and passwords
that are stored encrypted and never shown back; ``events_tail`` prints what a destination gets."""

from __future__ import annotations

import io
import json
import threading
import time

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import translation

from erp_sync.event_destinations import event_destination_get
from erp_sync.event_stream import destination_test
from erp_sync.models import EventDestination
from mes.models import Event
from tests.erp_sync.streams import free_port, unique


@pytest.fixture(autouse=True)
def in_english(settings):
    """The messages are asserted in English here; the refusal in Chinese is asserted once, below."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


def test_a_refusal_is_said_in_chinese_too(db):
    with translation.override("zh-hans"), pytest.raises(CommandError, match="URL 必须以 amqp:// 或 mqtt:// 开头"):
        _run("add", "x", "--url", "http://127.0.0.1/")


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("event_destination", *args, stdout=out)
    return out.getvalue()


def test_the_command_adds_lists_tests_disables_and_removes(db):
    exchange = unique("test.cmd.")
    assert "Created amqp destination rabbit → " + exchange in _run(
        "add", "rabbit", "--url", "amqp://guest:guest@127.0.0.1:5672/%2F", "--exchange", exchange
    )
    assert "Created mqtt destination mosq → topics mes/<kind>/<work order>" in _run("add", "mosq", "--url", "mqtt://127.0.0.1:1883")
    listing = _run("list")
    assert "amqp://guest:***@127.0.0.1:5672/%2F" in listing and "guest:guest" not in listing
    assert "mqtt://127.0.0.1:1883 mes/" in listing
    assert "rabbit: The broker confirmed a test event." in _run("test", "rabbit")
    assert "mosq: The broker confirmed a test event." in _run("test", "mosq")
    assert "disabled" in _run("disable", "mosq")
    assert not EventDestination.objects.get(name="mosq").is_enabled
    assert "removed" in _run("remove", "mosq")
    assert list(EventDestination.objects.values_list("name", flat=True)) == ["rabbit"]
    # The password is stored encrypted, and the trail shows it masked.
    with connection.cursor() as cursor:
        cursor.execute("SELECT password FROM erp_sync_eventdestination WHERE name = 'rabbit'")
        assert "guest" not in cursor.fetchone()[0]
    assert event_destination_get(name="rabbit").password == "guest"
    assert "guest:guest" not in json.dumps(list(Event.objects.filter(object_type="event_destination").values("before", "after")))
    channel_exchange = EventDestination.objects.get(name="rabbit").exchange
    assert channel_exchange == exchange


def test_the_command_refuses_bad_input_and_says_why(db):
    with pytest.raises(CommandError, match="amqp:// or mqtt://"):
        _run("add", "x", "--url", "http://127.0.0.1:5672/")
    with pytest.raises(CommandError, match="takes a topic prefix, not an exchange"):
        _run("add", "x", "--url", "mqtt://127.0.0.1:1883", "--exchange", "mes.events")
    with pytest.raises(CommandError, match="may not hold # or +"):
        _run("add", "x", "--url", "mqtt://127.0.0.1:1883", "--topic-prefix", "mes/#")
    with pytest.raises(CommandError, match="does not start with amq."):
        _run("add", "x", "--url", "amqp://127.0.0.1", "--exchange", "amq.topic")
    with pytest.raises(CommandError, match="No event destination named nope"):
        _run("test", "nope")
    _run("add", "down", "--url", f"amqp://127.0.0.1:{free_port()}/%2F")
    with pytest.raises(CommandError, match="down: .*(refused|Connection)"):
        _run("test", "down")
    assert EventDestination.objects.count() == 1


def test_a_password_written_back_as_stars_keeps_the_stored_one(db):
    _run("add", "rabbit", "--url", "amqp://guest:guest@127.0.0.1:5672/%2F", "--exchange", unique("test.cmd."))
    _run("add", "rabbit", "--url", "amqp://guest:***@127.0.0.1:5672/%2F")
    assert event_destination_get(name="rabbit").password == "guest"
    with pytest.raises(CommandError, match="no password is stored"):
        _run("add", "other", "--url", "amqp://guest:***@127.0.0.1:5672/%2F")


def test_the_api_is_for_admins_and_never_shows_the_password(admin_api, supervisor):
    exchange = unique("test.api.")
    url = "/api/v1/event-destinations/rabbit"
    assert supervisor.put(url, {"url": "amqp://guest:guest@127.0.0.1:5672/%2F"}, format="json").status_code == 403
    created = admin_api.put(url, {"url": "amqp://guest:guest@127.0.0.1:5672/%2F", "exchange": exchange}, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["url"] == "amqp://guest:***@127.0.0.1:5672/%2F" and created.json()["exchange"] == exchange
    listed = admin_api.get("/api/v1/event-destinations").json()["results"]
    assert [row["name"] for row in listed] == ["rabbit"] and listed[0]["pending"] == 0
    assert "guest:guest" not in json.dumps(listed)
    tested = admin_api.post(f"{url}/test").json()
    assert tested["confirmed"] is True and tested["latency_ms"] >= 0
    disabled = admin_api.post(f"{url}/enable", {"is_enabled": False}, format="json")
    assert disabled.status_code == 200 and disabled.json()["is_enabled"] is False
    bad = admin_api.put("/api/v1/event-destinations/mq", {"url": "mqtt://127.0.0.1:1883", "topic_prefix": "a/+/b"}, format="json")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_topic_prefix"
    missing = admin_api.get("/api/v1/event-destinations/nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_destination"
    assert admin_api.delete(url).status_code == 204
    assert not EventDestination.objects.exists()


def test_the_admin_writes_through_the_service(admin_client):
    exchange = unique("test.admin.")
    answer = admin_client.post(
        "/admin/erp_sync/eventdestination/add/",
        {"name": "rabbit", "url": "amqp://guest:guest@127.0.0.1:5672/%2F", "exchange": exchange, "topic_prefix": "", "is_enabled": "on"},
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    stored = EventDestination.objects.get(name="rabbit")
    assert stored.url == "amqp://guest@127.0.0.1:5672/%2F" and stored.password == "guest"
    page = admin_client.get(f"/admin/erp_sync/eventdestination/{stored.pk}/change/").content.decode()
    assert "guest:***@" in page and "guest:guest" not in page
    refused = admin_client.post(
        "/admin/erp_sync/eventdestination/add/", {"name": "bad", "url": "http://x", "exchange": "", "topic_prefix": ""},
    )
    assert refused.status_code == 200 and "amqp:// or mqtt://" in refused.content.decode()


@pytest.mark.parametrize("url", ["amqp://guest:guest@127.0.0.1:5672/%2F", "mqtt://127.0.0.1:1883"])
def test_events_tail_prints_each_event_as_one_json_line(db, url):
    name = "watched"
    options = ["--exchange", unique("test.tail.")] if url.startswith("amqp") else ["--topic-prefix", unique("test/tail-") + "/"]
    _run("add", name, "--url", url, *options)
    destination = EventDestination.objects.get(name=name)
    out = io.StringIO()

    def publish_twice() -> None:  # no database here: the test's transaction is the main thread's
        time.sleep(1.0)  # subscribed by then
        destination_test(destination=destination)
        destination_test(destination=destination)

    publisher = threading.Thread(target=publish_twice)
    publisher.start()
    call_command("events_tail", name, "--count", "2", "--seconds", "10", stdout=out)
    publisher.join(10)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert all(json.loads(line)["type"] == "mes.test" for line in lines)
