"""Inbound receipts record the pushes of callers the API authenticated, never anonymous ones."""

from __future__ import annotations

import hashlib
from typing import ClassVar

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory, force_authenticate

from common.api.base import InboundWriteView
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


class _NewPushView(InboundWriteView):
    """An inbound write added later, under an address no list names."""

    capabilities: ClassVar[dict[str, str]] = {"POST": "master_data.write"}

    def post(self, request):
        return Response({"results": [{"status": 201}, {"status": 200}, {"status": 201}]})


def test_a_new_view_on_the_inbound_write_base_is_audited_because_of_what_it_is(plant):
    erp = get_user_model().objects.create_user(username="erp-new")
    erp.groups.add(Group.objects.get(name="integration"))
    request = APIRequestFactory().post("/api/v1/not-a-listed-address/X", {"records": []}, format="json")
    force_authenticate(request, user=erp)

    response = _NewPushView.as_view()(request)

    assert response.status_code == 200
    receipt = InboundReceipt.objects.get()
    assert (receipt.user, receipt.method, receipt.path, receipt.status_code) == (erp, "POST", "/api/v1/not-a-listed-address/X", 200)
    assert receipt.result == {"results": {"201": 2, "200": 1}}
    assert receipt.payload_sha256 == hashlib.sha256(b'{"records":[]}').hexdigest()


def test_reading_through_the_inbound_write_base_leaves_no_receipt(plant, erp_client):
    response = erp_client.get("/api/v1/items/SHAFT-1")

    assert response.status_code == 404
    assert not InboundReceipt.objects.exists()
