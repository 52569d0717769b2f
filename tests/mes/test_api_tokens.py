"""API tokens: only a hash is stored, the token is shown once, create/rotate/revoke are audited, a token
may expire, and the admin lists only their first characters."""

from __future__ import annotations

import datetime
import hashlib
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone, translation
from rest_framework.test import APIClient

from mes.models import Event
from mes.models.accounts import ApiToken
from tests.conftest import ORDER

pytestmark = pytest.mark.django_db


def _token(*args: str) -> str:
    out = io.StringIO()
    call_command("create_api_token", *args, stdout=out)
    return out.getvalue().strip()


def _get(key: str, path: str = f"/api/v1/work-orders/{ORDER}"):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}", HTTP_ACCEPT_LANGUAGE="en")
    return client.get(path)


def _stored_tables() -> str:
    """Every text the database holds about tokens and their audit events."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT key_hash, prefix FROM mes_apitoken")
        rows = cursor.fetchall()
    return repr(rows) + repr(list(Event.objects.values_list("before", "after")))


def test_only_a_hash_of_the_token_is_stored_and_it_authenticates(planned_order):
    key = _token("mrp", "--role", "planner")

    token = ApiToken.objects.get(user__username="mrp")
    assert len(key) == 40
    assert (token.key_hash, token.prefix, token.expires_at) == (hashlib.sha256(key.encode()).hexdigest(), key[:8], None)
    assert key not in _stored_tables()
    assert _get(key).status_code == 200


def test_creating_rotating_and_revoking_a_token_is_audited(planned_order, settings):
    settings.API_TOKEN_CACHE_SECONDS = 0
    first = _token("erp", "--role", "integration")

    second = _token("erp", "--role", "integration", "--rotate")
    refused_old, accepted_new = _get(first), _get(second)
    revoke = io.StringIO()
    call_command("revoke_api_token", "erp", stdout=revoke)
    refused_revoked = _get(second)

    assert first != second
    assert (refused_old.status_code, refused_old.json()["error"]["code"]) == (401, "authentication_failed")
    assert accepted_new.status_code == 200
    assert refused_revoked.status_code == 401
    assert not ApiToken.objects.filter(user__username="erp").exists()
    events = list(Event.objects.filter(object_type="api_token", object_key="erp").order_by("id"))
    assert [(event.action, event.actor_label) for event in events] == [
        ("create", "manage.py create_api_token"), ("rotate", "manage.py create_api_token"), ("revoke", "manage.py revoke_api_token"),
    ]
    assert (events[1].before["prefix"], events[1].after["prefix"], events[2].before["prefix"]) == (first[:8], second[:8], second[:8])
    assert first not in _stored_tables() and second not in _stored_tables()


def test_revoking_a_user_without_a_token_is_refused(db):
    with translation.override("en"), pytest.raises(CommandError, match="nobody has no API token"):
        call_command("revoke_api_token", "nobody", stdout=io.StringIO())

    assert not Event.objects.exists()


def test_a_token_is_refused_after_its_expiry_with_a_clear_message(planned_order):
    key = _token("gateway-1", "--role", "operator", "--expires-in-days", "30")
    token = ApiToken.objects.get(user__username="gateway-1")
    assert token.expires_at - token.created_at == datetime.timedelta(days=30)
    assert _get(key).status_code == 200

    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    from mes.api import authentication

    authentication._tokens.clear()
    expired = _get(key)

    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "authentication_failed"
    assert expired.json()["error"]["message"].startswith("This token expired on ")
    assert "create_api_token … --rotate" in expired.json()["error"]["message"]


def test_a_remembered_token_is_refused_once_it_expires(planned_order, settings):
    """The per-process cache keeps the user for a few seconds; the expiry is checked on every request."""
    settings.API_TOKEN_CACHE_SECONDS = 300
    key = _token("gateway-2", "--role", "operator", "--expires-in-days", "1")
    assert _get(key).status_code == 200
    from mes.api import authentication

    (cached,) = authentication._tokens.values()
    cached[2].expires_at = timezone.now() - datetime.timedelta(seconds=1)  # as time passes for the cached row

    assert _get(key).status_code == 401


@pytest.mark.parametrize("days", ["0", "3651"])
def test_an_expiry_out_of_range_is_refused_and_nothing_is_made(db, days):
    with translation.override("en"), pytest.raises(CommandError, match="1 to 3650 days"):
        _token("someone", "--role", "operator", "--expires-in-days", days)

    assert not get_user_model().objects.filter(username="someone").exists()
    assert not ApiToken.objects.exists()


def test_the_admin_lists_token_prefixes_only_and_revokes_audited(admin_client, db):
    key = _token("erp", "--role", "integration")
    token = ApiToken.objects.get(user__username="erp")

    listing = admin_client.get("/admin/mes/apitoken/")
    drf_tokens = admin_client.get("/admin/authtoken/tokenproxy/")
    deleted = admin_client.post(f"/admin/mes/apitoken/{token.pk}/delete/", {"post": "yes"})

    assert listing.status_code == 200 and key[:8] in listing.content.decode() and key not in listing.content.decode()
    assert drf_tokens.status_code == 404
    assert deleted.status_code == 302
    assert not ApiToken.objects.exists()
    assert Event.objects.filter(object_type="api_token", object_key="erp", action="revoke").get().actor_label == "admin"


@pytest.mark.postgresql_only(reason="the migration step runs inside the test's transaction: transactional DDL")
def test_tokens_stored_in_clear_before_are_moved_to_hashes_and_keep_working(planned_order):
    """DRF's authtoken table of an older database: each token keeps working, none stays readable."""
    import importlib

    from django.apps import apps

    from mes.services.accounts import api_user_ensure

    migration = importlib.import_module("mes.migrations.0006_api_token_hashes")
    user = api_user_ensure(username="legacy", role="planner")
    key = "a" * 40
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamptz NOT NULL, user_id bigint NOT NULL)")
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, now(), %s)", [key, user.pk])

        with connection.schema_editor() as editor:
            migration.move_tokens(apps, editor)

        cursor.execute("SELECT count(*) FROM authtoken_token")
        left = cursor.fetchone()[0]
    assert left == 0
    assert ApiToken.objects.get(user=user).prefix == "aaaaaaaa"
    assert _get(key).status_code == 200


def test_seed_demo_prints_tokens_only_when_it_makes_them():
    first, later = io.StringIO(), io.StringIO()

    call_command("seed_demo", stdout=first)
    call_command("seed_demo", "--if-empty", stdout=later)

    lines = first.getvalue().splitlines()
    after = lines[lines.index("API tokens (header  Authorization: Token <key>), shown this once: only a hash is kept:") + 1:]
    keys = {line.split()[0]: line.split()[-1] for line in after[:6]}
    assert set(keys) == {"admin", "planner", "supervisor", "quality", "erp", "station"}
    assert f"-H 'Authorization: Token {keys['station']}'" in first.getvalue()  # make run's first start: the curl line
    assert not [key for key in keys.values() if key in later.getvalue()]
    assert "create_api_token <username> --role <role> --rotate" in later.getvalue()
    assert _get(keys["station"], "/api/v1/work-orders/WO-1001").status_code == 200
