"""Work instructions through the API: PUT the file as the raw body (type sniffed from its first bytes, size limit),
list, read, delete; planners and admins write, everyone who reads the API reads; the station finds them by item and
sequence, for released orders too, and serves them to its own tablet only."""

from __future__ import annotations

import hashlib

import os

import pytest
from django.test import Client

from mes.models import Event, OperationDocument
from mes.services.master_data import routing_upsert
from tests.conftest import ITEM, persona
from shopfloor.station.services import station_create
from tests.station.conftest import station_client

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 24
URL = f"/api/v1/routings/{ITEM}/operations/10/documents"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def put(client, name: str, content: bytes, content_type: str = "application/pdf"):
    return client.generic("PUT", f"{URL}/{name}", data=content, content_type=content_type)


def test_a_planner_attaches_a_pdf_and_everyone_reads_it(plant, planner):
    answer = put(planner, "cutting-guide.pdf", PDF)
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body == {
        "item": ITEM, "sequence": 10, "name": "cutting-guide.pdf", "content_type": "application/pdf", "size": len(PDF),
        "sha256": hashlib.sha256(PDF).hexdigest(), "uploaded_at": body["uploaded_at"], "uploaded_by": "planner-wang",
    }
    assert put(planner, "cutting-guide.pdf", PDF).status_code == 200  # the same bytes again: unchanged
    assert Event.objects.filter(object_type="work_instruction", action="create").count() == 1

    reader = persona("reader", "operator")
    listed = reader.get(URL)
    assert listed.status_code == 200
    assert [document["name"] for document in listed.json()["documents"]] == ["cutting-guide.pdf"]
    one = reader.get(f"{URL}/cutting-guide.pdf")
    assert one.status_code == 200
    assert one["Content-Type"] == "application/pdf"
    assert b"".join(one.streaming_content) == PDF


def test_a_replaced_document_gets_new_bytes_and_the_old_file_goes(plant, planner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        put(planner, "guide", PDF)
    first = OperationDocument.objects.get()
    old_path = first.file.path
    with django_capture_on_commit_callbacks(execute=True):
        answer = put(planner, "guide", PNG, "image/png")
    assert answer.status_code == 200
    document = OperationDocument.objects.get()
    assert (document.content_type, document.size) == ("image/png", len(PNG))
    assert document.file.read() == PNG
    assert not os.path.exists(old_path)


@pytest.mark.parametrize(
    ("content", "content_type", "code"),
    [
        (b"MZ\x90\x00 an executable", "application/pdf", "unsupported_document_type"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml", "unsupported_document_type"),
        (PNG, "application/pdf", "document_type_mismatch"),
        (b"", "application/pdf", "empty_document"),
    ],
)
def test_content_is_checked_by_its_first_bytes_not_by_the_header(plant, planner, content, content_type, code):
    answer = put(planner, "guide.pdf", content, content_type)
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == code
    assert OperationDocument.objects.count() == 0


def test_webp_and_octet_stream_are_recognised(plant, planner):
    answer = put(planner, "photo.webp", WEBP, "application/octet-stream")
    assert answer.status_code == 201
    assert answer.json()["content_type"] == "image/webp"


def test_too_large_is_refused_with_413(plant, planner, settings):
    settings.MES_WORK_INSTRUCTION_MAX_BYTES = 1024
    answer = put(planner, "big.pdf", PDF + b"0" * 2000)
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "document_too_large"
    assert OperationDocument.objects.count() == 0


def test_bad_names_and_unknown_operations_are_refused(plant, planner):
    assert put(planner, ".hidden", PDF).json()["error"]["code"] == "invalid_document_name"
    answer = planner.generic("PUT", f"/api/v1/routings/{ITEM}/operations/99/documents/guide.pdf", data=PDF, content_type="application/pdf")
    assert (answer.status_code, answer.json()["error"]["code"]) == (404, "unknown_routing_operation")
    answer = planner.generic("PUT", "/api/v1/routings/NOPE/operations/10/documents/guide.pdf", data=PDF, content_type="application/pdf")
    assert answer.json()["error"]["code"] == "unknown_item"
    assert planner.get(f"{URL}/missing.pdf").json()["error"]["code"] == "unknown_document"


@pytest.mark.parametrize(("role", "allowed"), [("planner", True), ("admin", True), ("operator", False), ("supervisor", False), ("integration", False)])
def test_planners_and_admins_write(plant, role, allowed):
    client = persona(f"user-{role}", role)
    assert (put(client, "guide.pdf", PDF).status_code == 201) is allowed
    assert client.get(URL).status_code == 200


def test_delete_removes_row_and_file(plant, planner, django_capture_on_commit_callbacks):
    put(planner, "guide.pdf", PDF)
    path = OperationDocument.objects.get().file.path
    with django_capture_on_commit_callbacks(execute=True):
        assert planner.delete(f"{URL}/guide.pdf").status_code == 204
    assert OperationDocument.objects.count() == 0
    assert not os.path.exists(path)
    assert Event.objects.filter(object_type="work_instruction", action="delete").count() == 1


def test_documents_survive_a_routing_update_and_reach_released_orders_at_the_station(released_order, planner):
    put(planner, "guide.png", PNG, "image/png")
    routing_upsert(item_code=ITEM, operations=[
        {"sequence": 10, "name": "Cut again", "work_center": "WC-CUT"}, {"sequence": 20, "name": "Weld", "work_center": "WC-WELD"},
    ])
    tablet = station_client(station_create(work_center_code="WC-CUT")[1])
    operation = tablet.get("/station/api/operation", {"work_order": "WO-1001", "operation": 10}).json()
    (instruction,) = operation["instructions"]
    assert (instruction["name"], instruction["is_image"], instruction["content_type"]) == ("guide.png", True, "image/png")
    served = tablet.get(instruction["url"])
    assert served.status_code == 200
    assert b"".join(served.streaming_content) == PNG
    # Another browser, neither a station nor signed in, gets nothing.
    assert Client().get(instruction["url"]).status_code == 403
    page = tablet.get("/station/")
    assert instruction["url"].encode() in page.content  # the queue names it, for the service worker to keep


def test_the_admin_uploads_through_the_same_checks(plant, admin_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    url = "/admin/mes/operationdocument/add/"
    fake = SimpleUploadedFile("guide.pdf", b"<html>not a pdf</html>", content_type="application/pdf")
    refused = admin_client.post(url, {"item": plant["item"].pk, "sequence": 10, "name": "guide.pdf", "upload": fake}, HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 200
    assert "is not a PDF, PNG, JPEG or WebP file" in refused.content.decode()
    assert OperationDocument.objects.count() == 0

    real = SimpleUploadedFile("guide.pdf", PDF, content_type="application/pdf")
    added = admin_client.post(url, {"item": plant["item"].pk, "sequence": 10, "name": "guide.pdf", "upload": real})
    assert added.status_code == 302, added.content.decode()[:2000]
    document = OperationDocument.objects.get()
    assert (document.content_type, document.size, document.uploaded_by) == ("application/pdf", len(PDF), "admin")
    assert Event.objects.filter(object_type="work_instruction", action="create").count() == 1
    assert admin_client.get("/admin/mes/operationdocument/").status_code == 200


def test_a_file_lost_from_storage_answers_404_not_500(released_order, planner):
    put(planner, "guide.pdf", PDF)
    document = OperationDocument.objects.get()
    os.remove(document.file.path)
    answer = planner.get(f"{URL}/guide.pdf")
    assert (answer.status_code, answer.json()["error"]["code"]) == (404, "document_file_missing")
    tablet = station_client(station_create(work_center_code="WC-CUT")[1])
    assert tablet.get(f"/station/instructions/{document.pk}").status_code == 404
