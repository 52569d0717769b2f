"""The menu offers each person only the pages their role may open (the capability table decides both)."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from common.roles import may
from tests.browser.conftest import person

pytestmark = pytest.mark.django_db

MENU = {"/planning/": "planning.view", "/board/": "board.view", "/oee/": "oee.view", "/sync/": "erp_sync.view",
        "/api/docs/": "api.read", "/admin/": "admin.site", "/unassigned-production/": "unassigned_production.resolve",
        "/station/setup/": "station.manage",
        "/trace/": "trace.view",
        "/andon/": "board.view"}


@pytest.mark.parametrize("role", ["operator", "planner", "supervisor", "quality", "integration", "admin"])
def test_the_menu_lists_exactly_the_pages_the_role_may_open(role):
    user = person(f"{role}-menu", role)
    client = Client()
    client.force_login(user)

    home = client.get("/").content.decode()
    header = home.split("</header>")[0]
    linked = {path for path in MENU if re.search(rf'href="{re.escape(path)}"', header)}
    on_the_page = {path for path in MENU if re.search(rf'href="{re.escape(path)}[?"]', home)}

    assert linked == {path for path, capability in MENU.items() if may(user, capability)}
    assert on_the_page == linked  # the home page's own list offers nothing the menu withholds
    for path in linked:
        assert client.get(path).status_code == 200, path


def test_a_visitor_signed_out_sees_no_menu_of_pages():
    header = Client().get("/accounts/login/").content.decode().split("</header>")[0]

    assert not any(f'href="{path}"' in header for path in MENU)


@pytest.mark.parametrize(("role", "administers"), [
    ("operator", False), ("planner", False), ("supervisor", False), ("quality", False), ("integration", False), ("admin", True),
])
def test_administration_is_in_the_menu_only_for_who_can_use_the_admin(role, administers):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(person(f"{role}-admin-menu", role))

    header = client.get("/").content.decode().split("</header>")[0]
    admin = client.get("/admin/")

    assert ('href="/admin/">Administration</a>' in header) is administers
    assert (admin.status_code == 200) is administers  # the others would be sent to the admin's sign-in


def test_a_superuser_who_is_not_staff_is_not_offered_the_administration(django_user_model):
    root = django_user_model.objects.create_user("root-not-staff", password="pw-123456", is_superuser=True, is_staff=False)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(root)

    header = client.get("/").content.decode().split("</header>")[0]

    assert 'href="/admin/"' not in header and 'href="/planning/"' in header
    assert client.get("/admin/").status_code == 302
