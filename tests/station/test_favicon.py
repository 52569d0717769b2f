"""The site's icon: linked from every page's head and from the station, and /favicon.ico answers for pages that link none."""

from __future__ import annotations

from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.test import Client


def test_the_favicon_is_linked_and_found(db, tablet):
    icon = static("mes/favicon.svg")
    assert finders.find("mes/favicon.svg")
    login_page = Client().get("/accounts/login/").content.decode()
    assert f'<link rel="icon" href="{icon}"' in login_page
    assert f'<link rel="icon" href="{icon}"' in tablet.get("/station/").content.decode()
    answer = Client().get("/favicon.ico")
    assert (answer.status_code, answer["Location"]) == (301, icon)
