"""Inbound receipts record the pushes of callers the API authenticated, never anonymous ones."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from erp_sync.models import InboundReceipt
from tests.browser.conftest import person

pytestmark = pytest.mark.django_db

ITEM_BODY = {"name": "Shaft", "unit": "PCS"}


@pytest.mark.parametrize("authorization", [None, "Token not-a-token", "Basic ZXJwOmVycA=="])
def test_a_push_without_valid_credentials_is_refused_and_leaves_no_receipt(plant, authorization):
    caller = APIClient()
    if authorization:
        caller.credentials(HTTP_AUTHORIZATION=authorization)

    put = caller.put("/api/v1/items/SHAFT-1", ITEM_BODY, format="json")
    bulk = caller.post("/api/v1/items/bulk", {"records": [{"code": "SHAFT-2", **ITEM_BODY}]}, format="json")

    assert (put.status_code, bulk.status_code) == (401, 401)
    assert InboundReceipt.objects.count() == 0


def test_a_push_by_token_is_recorded_with_its_user(plant, erp_client):
    response = erp_client.put("/api/v1/items/SHAFT-1", ITEM_BODY)

    assert response.status_code == 201
    assert list(InboundReceipt.objects.values_list("user__username", "method", "path", "status_code")) == [
        ("erp", "PUT", "/api/v1/items/SHAFT-1", 201)
    ]


def test_a_push_in_a_signed_in_session_is_recorded_only_when_the_api_accepted_the_session(plant):
    user = person("integrator-he", "integration")
    forged = APIClient(enforce_csrf_checks=True)  # the session cookie, sent by another site's form: no CSRF token
    forged.force_login(user)
    signed_in = APIClient()
    signed_in.force_login(user)

    refused = forged.put("/api/v1/items/SHAFT-1", ITEM_BODY, format="json")
    accepted = signed_in.put("/api/v1/items/SHAFT-1", ITEM_BODY, format="json")

    assert (refused.status_code, accepted.status_code) == (403, 201)
    assert list(InboundReceipt.objects.values_list("user__username", "status_code")) == [("integrator-he", 201)]
