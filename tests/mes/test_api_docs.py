"""The API documentation speaks of each resource in its own words: its own tag (described), its own summaries,
an example of every request body — and the examples are requests the API accepts."""

from __future__ import annotations

import json
import re

import pytest

from mes.api.docs import RESOURCE_WORDS, TRANSITION_WORDS
from mes.api.views import RESOURCES
from tests.conftest import persona

MASTER_DATA = list(RESOURCES)
GENERIC = re.compile(r"\bone of [a-z-]+|Upsert up to 1,000 [a-z]+-[a-z]+")  # and none shared (below)


@pytest.fixture
def schema(anonymous, db):
    return json.loads(anonymous.get("/api/schema/", {"format": "json"}).content)


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_each_resource_has_its_own_tag_with_a_description(schema):
    described = {tag["name"]: tag["description"] for tag in schema["tags"]}
    assert set(MASTER_DATA) <= set(described)
    for path, method, operation in operations(schema):
        resource = path.removeprefix("/api/v1/").split("/")[0]
        if resource in MASTER_DATA and path.count("/") == 4:  # /api/v1/<resource>/{key} and /bulk
            assert operation["tags"] == [resource], (method, path)
        assert operation["tags"][0] in described, (method, path)


def test_no_summary_is_generic_and_none_is_shared_by_two_operations(schema):
    summaries = [(operation["summary"], method, path) for path, method, operation in operations(schema)]
    assert [summary for summary in summaries if GENERIC.search(summary[0])] == []
    seen: dict[str, tuple] = {}
    for summary, method, path in summaries:
        assert summary not in seen, (summary, seen.get(summary), (method, path))
        seen[summary] = (method, path)
    by_path = {(method, path): summary for summary, method, path in summaries}
    assert by_path[("get", "/api/v1/employees/{key}")] == "Read an employee by their badge"
    assert by_path[("post", "/api/v1/work-orders/{key}/release")] == TRANSITION_WORDS["release"][0]


def test_every_write_endpoint_with_a_body_has_a_request_example(schema):
    """In the media type it takes: JSON for most, XML for the B2MML schedule."""
    missing = []
    for path, method, operation in operations(schema):
        content = operation.get("requestBody", {}).get("content", {})
        # JSON bodies have a JSON example; a file sent as the raw body (work instructions) one of its media types.
        if method in ("put", "post") and content and not any(media.get("examples") for media in content.values()):
            missing.append((method, path))
    assert missing == []


def test_the_master_data_examples_are_accepted_in_order(erp_client):
    for name, words in RESOURCE_WORDS.items():
        bulk = erp_client.post(f"/api/v1/{name}/bulk", {"records": words.bulk_example})
        assert bulk.status_code == 200, (name, bulk.json())
        single = erp_client.put(f"/api/v1/{name}/{words.example_key}", words.example)
        assert single.status_code in (200, 201), (name, single.json())
    order = erp_client.get("/api/v1/work-orders/WO-1001").json()
    assert (order["item"], order["quantity"], order["priority"]) == ("FG-1000", 100, 2)
    planner = persona("planner-docs", "planner")
    release = planner.post("/api/v1/work-orders/WO-1001/release", {"reason": TRANSITION_WORDS["release"][1]})
    body = release.json()
    assert body.get("status") == "released", body
