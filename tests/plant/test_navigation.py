"""The menu offers each person only the pages their role may open (the capability table decides both)."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from common.roles import may
from tests.browser.conftest import person

pytestmark = pytest.mark.django_db

MENU = {"/planning/": "planning.view", "/board/": "board.view", "/oee/": "oee.view", "/sync/": "erp_sync.view",
        "/api/docs/": "api.read", "/admin/": "admin.site", "/unassigned-production/": "station.manage",
        "/trace/": "trace.view"}


@pytest.mark.parametrize("role", ["operator", "planner", "supervisor", "quality", "admin"])
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
