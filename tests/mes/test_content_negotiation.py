"""The quick content negotiation picks what DRF's own would, and is the one the API uses."""

from __future__ import annotations

import pytest
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer, TemplateHTMLRenderer
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.test import APIRequestFactory

from common.api.negotiation import QuickContentNegotiation

ACCEPTS = [
    None, "*/*", "application/json", "text/html", "text/html,application/xhtml+xml,*/*;q=0.8",
    "application/json; indent=4", "application/json;q=0.5, text/html", "application/*", "", "image/png",
]
RENDERER_LISTS = [
    [JSONRenderer(), BrowsableAPIRenderer()],
    [BrowsableAPIRenderer(), JSONRenderer()],
    [TemplateHTMLRenderer(), JSONRenderer()],
    [JSONRenderer()],
]


def _outcome(negotiation, accept, renderers, path):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get(path, **headers))
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers)
    except Exception as error:  # DRF refuses with NotAcceptable: the quick one must refuse alike
        return type(error).__name__
    return type(renderer).__name__, media_type


@pytest.mark.parametrize("path", ["/api/v1/items", "/api/v1/items?format=api", "/api/v1/items?format=json"])
@pytest.mark.parametrize("accept", ACCEPTS)
def test_the_quick_negotiation_picks_what_drf_picks(accept, path):
    for renderers in RENDERER_LISTS:
        assert _outcome(QuickContentNegotiation(), accept, renderers, path) == _outcome(DefaultContentNegotiation(), accept, renderers, path)


def test_the_api_negotiates_with_the_quick_one_and_browsers_still_get_the_browsable_api(client, db):
    assert api_settings.DEFAULT_CONTENT_NEGOTIATION_CLASS is QuickContentNegotiation

    machine = client.get("/api/v1/trace?code=X")
    browser = client.get("/api/v1/trace?code=X", HTTP_ACCEPT="text/html")

    assert machine["Content-Type"] == "application/json" and machine.status_code in (401, 403)
    assert browser["Content-Type"].startswith("text/html") and browser.status_code in (401, 403)
