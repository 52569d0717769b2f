"""Password guessing: wrong passwords lock a user name, and an address, out of both sign-in pages
(/accounts/login/ and the admin's) for a while; an admin lifts the lock-out early."""

from __future__ import annotations

import datetime

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import F
from django.test import Client

from mes.models import Event
from tests.browser.conftest import person

pytestmark = pytest.mark.django_db

PASSWORD = "secret-pass-1"
SIGN_IN_PAGES = ["/accounts/login/", "/admin/login/"]


def _sign_in(client: Client, page: str, username: str, password: str, **headers):
    return client.post(page, {"username": username, "password": password}, **headers)


def _signed_in_as(client: Client) -> str | None:
    user_id = client.session.get("_auth_user_id")
    return get_user_model().objects.get(pk=user_id).username if user_id else None


@pytest.mark.parametrize("page", SIGN_IN_PAGES)
def test_thirty_wrong_passwords_lock_the_user_out_even_for_the_right_one(page):
    person("admin-zhou", "admin")  # staff, so the admin's sign-in would take the right password
    client = Client(HTTP_ACCEPT_LANGUAGE="en")

    answers = [_sign_in(client, page, "admin-zhou", f"guess-{n}").status_code for n in range(30)]
    right = _sign_in(client, page, "admin-zhou", PASSWORD)

    assert answers == [200] * 4 + [429] * 26  # the fifth wrong password locks
    assert right.status_code == 429 and _signed_in_as(client) is None
    page_text = right.content.decode()
    assert "Too many wrong passwords for this user name or from this address. Try again in 15 minutes" in page_text
    assert '<a class="brand" href="/">MES</a>' in page_text  # the site's own layout


def test_the_lock_out_page_speaks_chinese():
    person("planner-wang", "planner")
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    for n in range(5):
        _sign_in(client, "/accounts/login/", "planner-wang", f"guess-{n}")

    locked = _sign_in(client, "/accounts/login/", "planner-wang", PASSWORD)

    assert locked.status_code == 429
    assert "密码错误次数过多" in locked.content.decode() and "15 分钟" in locked.content.decode()


def test_a_locked_user_name_is_locked_from_every_address_and_other_users_are_not():
    person("planner-wang", "planner")
    person("planner-sun", "planner")
    for n in range(5):
        _sign_in(Client(), "/accounts/login/", "planner-wang", f"guess-{n}", REMOTE_ADDR=f"192.0.2.{n + 1}")

    elsewhere = Client()
    other_user = Client()
    locked = _sign_in(elsewhere, "/accounts/login/", "planner-wang", PASSWORD, REMOTE_ADDR="198.51.100.50")
    signed_in = _sign_in(other_user, "/accounts/login/", "planner-sun", PASSWORD, REMOTE_ADDR="192.0.2.1")

    assert (locked.status_code, _signed_in_as(elsewhere)) == (429, None)
    assert (signed_in.status_code, _signed_in_as(other_user)) == (302, "planner-sun")


def test_one_persons_mistakes_at_a_shared_terminal_lock_only_their_user_name():
    person("planner-wang", "planner")
    person("planner-sun", "planner")
    for n in range(5):
        _sign_in(Client(), "/accounts/login/", "planner-wang", f"guess-{n}", REMOTE_ADDR="192.0.2.7")

    colleague = Client()
    signed_in = _sign_in(colleague, "/accounts/login/", "planner-sun", PASSWORD, REMOTE_ADDR="192.0.2.7")
    locked = _sign_in(Client(), "/accounts/login/", "planner-wang", PASSWORD, REMOTE_ADDR="192.0.2.7")

    assert (signed_in.status_code, _signed_in_as(colleague)) == (302, "planner-sun")
    assert locked.status_code == 429  # the colleague's right password cleared only their own count


@pytest.mark.slow
def test_an_address_guessing_many_user_names_is_locked_out_for_all_of_them(settings):
    assert settings.MES_SIGN_IN_ADDRESS_FAILURE_LIMIT == 30
    person("planner-wang", "planner")
    for n in range(29):
        _sign_in(Client(), "/accounts/login/", f"someone-{n}", "guess", REMOTE_ADDR="203.0.113.9")
    still_open = Client()
    assert _sign_in(still_open, "/accounts/login/", "planner-wang", PASSWORD, REMOTE_ADDR="203.0.113.9").status_code == 302
    still_open.post("/accounts/logout/")
    for n in range(29, 30):
        _sign_in(Client(), "/accounts/login/", f"someone-{n}", "guess", REMOTE_ADDR="203.0.113.9")

    same_address, other_address = Client(), Client()
    locked = _sign_in(same_address, "/accounts/login/", "planner-wang", PASSWORD, REMOTE_ADDR="203.0.113.9")
    signed_in = _sign_in(other_address, "/accounts/login/", "planner-wang", PASSWORD, REMOTE_ADDR="203.0.113.10")

    assert (locked.status_code, _signed_in_as(same_address)) == (429, None)
    assert (signed_in.status_code, _signed_in_as(other_address)) == (302, "planner-wang")


@pytest.mark.slow
def test_behind_a_trusted_proxy_the_address_is_the_client_not_the_proxy(settings):
    settings.MES_TRUSTED_PROXIES = ["10.0.0.2"]
    person("planner-wang", "planner")
    behind_proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for n in range(30):
        _sign_in(Client(), "/accounts/login/", f"someone-{n}", "guess", HTTP_X_FORWARDED_FOR="203.0.113.9", **behind_proxy)

    colleague, guesser = Client(), Client()
    signed_in = _sign_in(colleague, "/accounts/login/", "planner-wang", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7", **behind_proxy)
    spoofed = _sign_in(guesser, "/accounts/login/", "planner-wang", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7, 203.0.113.9", **behind_proxy)

    assert (signed_in.status_code, _signed_in_as(colleague)) == (302, "planner-wang")
    assert (spoofed.status_code, _signed_in_as(guesser)) == (429, None)


@pytest.mark.slow
def test_a_right_password_before_the_limit_starts_the_count_again():
    person("planner-wang", "planner")
    client = Client()
    for _round in range(3):
        for n in range(4):
            assert _sign_in(client, "/accounts/login/", "planner-wang", f"guess-{n}").status_code == 200
        assert _sign_in(client, "/accounts/login/", "planner-wang", PASSWORD).status_code == 302
        client.post("/accounts/logout/")

    assert _signed_in_as(client) is None and AccessAttempt.objects.count() == 0


def test_the_lock_out_ends_after_the_cool_off_time():
    person("planner-wang", "planner")
    client = Client()
    for n in range(5):
        _sign_in(client, "/accounts/login/", "planner-wang", f"guess-{n}")
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - datetime.timedelta(minutes=15, seconds=1))

    response = _sign_in(client, "/accounts/login/", "planner-wang", PASSWORD)

    assert (response.status_code, _signed_in_as(client)) == (302, "planner-wang")


def test_an_admin_lifts_a_lock_out_in_the_admin_and_it_is_audited():
    person("planner-wang", "planner")
    for n in range(5):
        _sign_in(Client(), "/accounts/login/", "planner-wang", f"guess-{n}")
    admin = Client()
    admin.force_login(get_user_model().objects.create_superuser("root", password="root-pass-1"))
    attempt = AccessAttempt.objects.get(username="planner-wang")

    listing = admin.get("/admin/axes/accessattempt/")
    lifted = admin.post("/admin/axes/accessattempt/", {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"})
    planner = Client()
    response = _sign_in(planner, "/accounts/login/", "planner-wang", PASSWORD)

    assert listing.status_code == 200 and b"planner-wang" in listing.content
    assert lifted.status_code == 302 and AccessAttempt.objects.count() == 0
    assert (response.status_code, _signed_in_as(planner)) == (302, "planner-wang")
    event = Event.objects.get(object_type="sign_in_lockout")
    assert (event.object_key, event.action, event.actor.username) == ("planner-wang", "delete", "root")
    assert event.before["failures_since_start"] == 5 and "guess" not in str(event.before)


def test_axes_reset_username_lifts_a_lock_out_from_the_command_line():
    person("planner-wang", "planner")
    for n in range(5):
        _sign_in(Client(), "/accounts/login/", "planner-wang", f"guess-{n}")

    call_command("axes_reset_username", "planner-wang", stdout=None)
    client = Client()
    response = _sign_in(client, "/accounts/login/", "planner-wang", PASSWORD)

    assert (response.status_code, _signed_in_as(client)) == (302, "planner-wang")
