"""Who a request came from behind a reverse proxy (MES_TRUSTED_PROXIES): the one client address that
token allow-lists, /metrics, sign-in lock-outs and inbound receipts all decide by."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from common.client_ip import client_ip
from erp_sync.models import InboundReceipt
from mes.services.accounts import api_token_create
from tests.helpers import snapshot

ITEM_BODY = {"name": "Shaft", "unit": "PCS"}
PROXY = "10.0.0.2"


def _request(remote_addr: str, forwarded_for: str | None = None):
    headers = {"REMOTE_ADDR": remote_addr}
    if forwarded_for is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return RequestFactory().get("/", **headers)


@pytest.mark.parametrize(
    ("remote_addr", "forwarded_for", "client"),
    [
        ("203.0.113.9", None, "203.0.113.9"),
        ("203.0.113.9", "10.9.9.9", "203.0.113.9"),  # not from a trusted proxy: its header means nothing
        (PROXY, None, PROXY),
        (PROXY, "198.51.100.7", "198.51.100.7"),
        (PROXY, "127.0.0.1, 198.51.100.7", "198.51.100.7"),  # what the client wrote itself is ignored
        (PROXY, "198.51.100.7, 10.0.0.3", "198.51.100.7"),  # two proxies of ours
        (PROXY, "10.0.0.4, 10.0.0.3", "10.0.0.4"),  # a client inside the proxies' own network
        (PROXY, "not-an-address, 10.0.0.3", "10.0.0.3"),  # the last address a proxy of ours vouched for
        (PROXY, "198.51.100.7:51234", "198.51.100.7"),
        (PROXY, "[2001:db8::7]:51234", "2001:db8::7"),
        ("::ffff:10.0.0.2", "::ffff:198.51.100.7", "198.51.100.7"),
    ],
)
def test_the_client_is_the_right_most_address_that_is_not_a_trusted_proxy(settings, remote_addr, forwarded_for, client):
    settings.MES_TRUSTED_PROXIES = ["10.0.0.0/24"]

    assert client_ip(_request(remote_addr, forwarded_for)) == client


def test_without_trusted_proxies_x_forwarded_for_is_ignored(settings):
    settings.MES_TRUSTED_PROXIES = []

    assert client_ip(_request(PROXY, "198.51.100.7")) == PROXY


@pytest.fixture
def behind_proxy(settings):
    settings.MES_TRUSTED_PROXIES = [PROXY]
    return {"REMOTE_ADDR": PROXY}


@pytest.fixture
def fenced_erp(planned_order, anonymous):
    token = api_token_create(username="erp", role="integration", allowed_networks=["10.1.0.0/16"])
    anonymous.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return anonymous


def test_a_fenced_token_is_accepted_from_its_network_through_the_proxy(fenced_erp, behind_proxy):
    response = fenced_erp.put("/api/v1/items/SHAFT-1", ITEM_BODY, HTTP_X_FORWARDED_FOR="10.1.2.3", **behind_proxy)

    assert response.status_code == 201


def test_a_fenced_token_is_refused_from_elsewhere_through_the_proxy(fenced_erp, behind_proxy):
    before = snapshot()

    response = fenced_erp.put("/api/v1/items/SHAFT-1", ITEM_BODY, HTTP_X_FORWARDED_FOR="10.1.2.3, 203.0.113.9", **behind_proxy)

    assert (response.status_code, response.json()["error"]["message"]) == (401, "This token may not be used from 203.0.113.9.")
    assert snapshot() == before


def test_metrics_behind_the_proxy_are_refused_to_a_client_outside_metrics_allow_from(db, client, behind_proxy, settings):
    settings.METRICS_ALLOW_FROM = ["10.5.0.0/16", PROXY]  # even the proxy's own address lets nobody through

    outside = client.get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.9", **behind_proxy)
    inside = client.get("/metrics", HTTP_X_FORWARDED_FOR="10.5.1.1", **behind_proxy)

    assert outside.status_code == 403
    assert inside.status_code == 200


def test_an_inbound_receipt_records_the_client_behind_the_proxy(planned_order, erp_client, behind_proxy):
    erp_client.put("/api/v1/items/SHAFT-1", ITEM_BODY, HTTP_X_FORWARDED_FOR="10.1.2.3", **behind_proxy)

    assert list(InboundReceipt.objects.values_list("remote_addr", flat=True)) == ["10.1.2.3"]
