"""A station of WC-CUT (operation 10 of the plant's FRAME-100 routing) and a browser that holds its cookie."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.test import Client

from shopfloor.station.access import COOKIE
from shopfloor.station.services import station_create


def station_client(secret: str, language: str = "en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.cookies[COOKIE] = secret
    return client


@pytest.fixture
def station_pair(plant):
    """(station, secret of its cookie) for work center WC-CUT."""
    return station_create(work_center_code="WC-CUT")


@pytest.fixture
def station(station_pair):
    return station_pair[0]


@pytest.fixture
def tablet(station_pair) -> Client:
    return station_client(station_pair[1])


def post(client: Client, url: str, body: Any, **extra):
    return client.post(url, data=json.dumps(body), content_type="application/json", **extra)


def report_body(**fields: Any) -> dict[str, Any]:
    body = {"client_id": str(uuid.uuid4()), "work_order": "WO-1001", "operation": 10, "good_qty": "5", "operator_badge": "B-1001"}
    body.update(fields)
    return body
