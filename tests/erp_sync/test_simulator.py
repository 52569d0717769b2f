"""The ERP simulator, exercised as a real process over real HTTP on loopback.

One simulator process per flavour serves the whole module; each test starts from
``control.reset()`` (no documents, no ledger, no faults). No test touches the database.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
import xmlrpc.client

import pytest
import requests

from simulators.erp import SimulatorProcess, start_simulator
from tests.erp_sync.builders import simulator_fixtures

SAP_POST_HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}


# -- fixtures ----------------------------------------------------------------------------


sap_process, sap = simulator_fixtures("sap")
erpnext_process, erpnext = simulator_fixtures("erpnext")
odoo_process, odoo = simulator_fixtures("odoo")


def sap_session(simulator: SimulatorProcess) -> requests.Session:
    session = requests.Session()
    session.auth = (simulator.credentials["user"], simulator.credentials["password"])
    session.headers["Accept"] = "application/json"
    return session


def sap_fetch_token(session: requests.Session, simulator: SimulatorProcess) -> str:
    response = session.get(
        simulator.service_url + "/ProdnOrdConf2?$top=1", headers={"X-CSRF-Token": "Fetch"}, timeout=5
    )
    assert response.status_code == 200
    return response.headers["X-CSRF-Token"]


def sap_confirmation(
    key: str, *, order: str = "1004157", operation: str = "0030", yield_qty: str = "300", final: bool = False
) -> dict:
    return {
        "OrderID": order,
        "Sequence": "0",
        "OrderOperation": operation,
        "ConfirmationUnit": "EA",
        "ConfirmationYieldQuantity": yield_qty,
        "ConfirmationScrapQuantity": "5",
        "ConfirmationReworkQuantity": "0",
        "IsFinalConfirmation": final,
        "FinalConfirmationType": "X" if final else "",
        "OpWorkQuantityUnit1": "HR",
        "OpConfirmedWorkQuantity1": "0.500",
        "ExternalSystemConfirmation": key,
        "EnteredByExternalUser": "MES",
    }


def sap_post(
    session: requests.Session, simulator: SimulatorProcess, token: str, body: dict, **kwargs
) -> requests.Response:
    return session.post(
        simulator.service_url + "/ProdnOrdConf2",
        json=body,
        headers={**SAP_POST_HEADERS, "X-CSRF-Token": token},
        timeout=kwargs.pop("timeout", 5),
        **kwargs,
    )


def erpnext_headers(simulator: SimulatorProcess) -> dict[str, str]:
    return {"Authorization": f"token {simulator.credentials['token']}", "Accept": "application/json"}


def job_card(
    key: str, *, work_order: str = "WO-7", operation: str = "0010", sequence_id: int = 1, completed_qty: float = 10
) -> dict:
    return {
        "work_order": work_order,
        "operation": operation,
        "sequence_id": sequence_id,
        "for_quantity": completed_qty,
        "time_logs": [
            {"from_time": "2025-03-01 08:00:00", "to_time": "2025-03-01 09:00:00", "completed_qty": completed_qty}
        ],
        "mes_confirmation_id": key,
        "docstatus": 1,
    }


def odoo_call(
    simulator: SimulatorProcess, model: str, method: str, body: dict, *, key: str | None = None
) -> requests.Response:
    headers = {"Authorization": f"bearer {key or simulator.credentials['token']}", "X-Odoo-Database": "mes"}
    return requests.post(f"{simulator.base_url}/json/2/{model}/{method}", json=body, headers=headers, timeout=5)


def odoo_workorder_id(simulator: SimulatorProcess, order: str, operation: str) -> int:
    response = odoo_call(
        simulator,
        "mrp.workorder",
        "search_read",
        {
            "domain": [["production_id.name", "=", order], ["x_mes_operation", "=", operation]],
            "fields": ["id", "name", "state"],
        },
    )
    assert response.status_code == 200
    [workorder] = response.json()
    return workorder["id"]


# -- SAP ---------------------------------------------------------------------------------


def test_sap_posts_a_confirmation_finds_it_by_our_key_and_cancels_it(sap: SimulatorProcess) -> None:
    session = sap_session(sap)
    token = sap_fetch_token(session, sap)
    key = str(uuid.uuid4())

    created = sap_post(session, sap, token, sap_confirmation(key))

    assert created.status_code == 201
    record = created.json()["d"]
    assert record["ConfirmationYieldQuantity"] == "300.000"
    assert record["ConfirmationScrapQuantity"] == "5.000"
    assert record["ConfirmationCount"] == "1"
    assert record["ExternalSystemConfirmation"] == key
    assert record["IsReversed"] is False and record["IsReversal"] is False
    group = record["ConfirmationGroup"]
    assert created.headers["Location"].endswith(f"ProdnOrdConf2(ConfirmationGroup='{group}',ConfirmationCount='1')")

    found = session.get(
        sap.service_url + "/ProdnOrdConf2",
        params={
            "$filter": f"ExternalSystemConfirmation eq guid'{key}'",
            "$select": "ConfirmationGroup,ConfirmationCount,IsReversed",
        },
        timeout=5,
    )
    assert found.status_code == 200
    assert [
        (row["ConfirmationGroup"], row["ConfirmationCount"], row["IsReversed"]) for row in found.json()["d"]["results"]
    ] == [(group, "1", False)]
    by_order = session.get(
        sap.service_url + "/ProdnOrdConf2",
        params={"$filter": "OrderID eq '1004157' and OrderOperation eq '0030'"},
        timeout=5,
    )
    assert [row["ExternalSystemConfirmation"] for row in by_order.json()["d"]["results"]] == [key]

    cancelled = session.post(
        sap.service_url + f"/CancelProdnOrdConf?ConfirmationGroup='{group}'&ConfirmationCount='1'",
        headers={**SAP_POST_HEADERS, "X-CSRF-Token": token},
        timeout=5,
    )

    assert cancelled.status_code == 200
    reversal = cancelled.json()["d"]
    assert (reversal["ConfirmationGroup"], reversal["ConfirmationCount"], reversal["IsReversal"]) == (group, "2", True)
    original = session.get(
        sap.service_url + f"/ProdnOrdConf2(ConfirmationGroup='{group}',ConfirmationCount='1')", timeout=5
    )
    assert original.json()["d"]["IsReversed"] is True
    ledger = sap.control.ledger()
    assert [
        (
            e["action"],
            e["key"],
            e["order"],
            e["operation"],
            e["yield_qty"],
            e["scrap_qty"],
            e["document"],
            e["cancels"],
            e["cancels_key"],
        )
        for e in ledger
    ] == [
        ("post", key, "1004157", "0030", "300", "5", f"{group}/1", None, None),
        ("cancel", None, "1004157", "0030", "300", "5", f"{group}/2", f"{group}/1", key),
    ]


def test_sap_refuses_a_write_without_a_valid_csrf_token_until_the_client_fetches_again(sap: SimulatorProcess) -> None:
    session = sap_session(sap)

    without_token = sap_post(session, sap, "", sap_confirmation(str(uuid.uuid4())))

    assert without_token.status_code == 403
    assert without_token.headers["X-CSRF-Token"] == "Required"
    token = sap_fetch_token(session, sap)
    assert any(cookie.name == "sap-XSRF_S4H_100" for cookie in session.cookies)
    assert sap_post(session, sap, token, sap_confirmation(str(uuid.uuid4()))).status_code == 201
    # the token is worthless without the cookie it came with
    stranger = sap_session(sap)
    assert sap_post(stranger, sap, token, sap_confirmation(str(uuid.uuid4()))).headers["X-CSRF-Token"] == "Required"

    sap.control.invalidate_sessions()
    expired = sap_post(session, sap, token, sap_confirmation(str(uuid.uuid4())))

    assert expired.status_code == 403
    assert expired.headers["X-CSRF-Token"] == "Required"
    assert sap_post(session, sap, sap_fetch_token(session, sap), sap_confirmation(str(uuid.uuid4()))).status_code == 201
    assert len(sap.control.ledger()) == 2


def test_sap_csrf_token_expires_after_its_configured_uses(sap: SimulatorProcess) -> None:
    sap.control.set_config(csrf_max_uses=1)
    try:
        session = sap_session(sap)
        token = sap_fetch_token(session, sap)

        first = sap_post(session, sap, token, sap_confirmation(str(uuid.uuid4())))
        second = sap_post(session, sap, token, sap_confirmation(str(uuid.uuid4())))

        assert (first.status_code, second.status_code, second.headers.get("X-CSRF-Token")) == (201, 403, "Required")
    finally:
        sap.control.set_config(csrf_max_uses=0)


def test_sap_requires_basic_authentication(sap: SimulatorProcess) -> None:
    response = requests.get(sap.service_url + "/ProdnOrdConf2", auth=("MES_INTEGRATION", "wrong"), timeout=5)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic realm=")


def test_sap_books_a_resend_twice_because_it_does_not_deduplicate_by_default(sap: SimulatorProcess) -> None:
    session = sap_session(sap)
    token = sap_fetch_token(session, sap)
    key = str(uuid.uuid4())

    first = sap_post(session, sap, token, sap_confirmation(key))
    second = sap_post(session, sap, token, sap_confirmation(key))

    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json()["d"]["ConfirmationCount"] == "2"
    assert [entry["key"] for entry in sap.control.ledger()] == [key, key]

    sap.control.set_config(dedupe="reject")
    try:
        third = sap_post(session, sap, token, sap_confirmation(key))
    finally:
        sap.control.set_config(dedupe="off")
    assert third.status_code == 400
    assert len(sap.control.ledger()) == 2


def test_sap_refuses_a_confirmation_after_the_final_one_until_that_is_cancelled(sap: SimulatorProcess) -> None:
    session = sap_session(sap)
    token = sap_fetch_token(session, sap)
    final = sap_post(session, sap, token, sap_confirmation(str(uuid.uuid4()), final=True)).json()["d"]

    late = sap_post(session, sap, token, sap_confirmation(str(uuid.uuid4())))

    assert late.status_code == 400
    error = late.json()["error"]
    assert error["message"]["lang"] == "en"
    assert "finally confirmed" in error["message"]["value"]
    assert error["code"]
    assert len(sap.control.ledger()) == 1
    session.post(
        sap.service_url + f"/CancelProdnOrdConf?ConfirmationGroup='{final['ConfirmationGroup']}'"
        f"&ConfirmationCount='{final['ConfirmationCount']}'",
        headers={**SAP_POST_HEADERS, "X-CSRF-Token": token},
        timeout=5,
    ).raise_for_status()
    assert sap_post(session, sap, token, sap_confirmation(str(uuid.uuid4()))).status_code == 201


def test_sap_rejects_quantities_sent_as_json_numbers(sap: SimulatorProcess) -> None:
    session = sap_session(sap)
    token = sap_fetch_token(session, sap)

    response = sap_post(session, sap, token, {**sap_confirmation(str(uuid.uuid4())), "ConfirmationYieldQuantity": 300})

    assert response.status_code == 400
    assert "Edm.Decimal" in response.json()["error"]["message"]["value"]
    assert sap.control.ledger() == []


def test_sap_answers_423_while_the_order_is_locked(sap: SimulatorProcess) -> None:
    session = sap_session(sap)
    token = sap_fetch_token(session, sap)
    sap.control.set_faults(locked=True)

    locked = sap_post(session, sap, token, sap_confirmation(str(uuid.uuid4())))

    assert locked.status_code == 423
    assert locked.json()["error"]["message"]["value"]
    assert sap.control.ledger() == []
    sap.control.set_faults(locked=False, locked_orders=["1004157"])
    assert sap_post(session, sap, token, sap_confirmation(str(uuid.uuid4()))).status_code == 423
    assert sap_post(session, sap, token, sap_confirmation(str(uuid.uuid4()), order="1004158")).status_code == 201


# -- ERPNext -----------------------------------------------------------------------------


def test_erpnext_posts_a_job_card_finds_it_by_our_key_and_cancels_it(erpnext: SimulatorProcess) -> None:
    headers = erpnext_headers(erpnext)
    key = str(uuid.uuid4())

    created = requests.post(f"{erpnext.base_url}/api/resource/Job Card", json=job_card(key), headers=headers, timeout=5)

    assert created.status_code == 200
    document = created.json()["data"]
    assert (document["docstatus"], document["total_completed_qty"], document["mes_confirmation_id"]) == (1, 10.0, key)
    name = document["name"]

    found = requests.get(
        f"{erpnext.base_url}/api/resource/Job Card",
        headers=headers,
        timeout=5,
        params={
            "filters": json.dumps([["mes_confirmation_id", "=", key]]),
            "fields": json.dumps(["name", "docstatus", "total_completed_qty"]),
        },
    )
    assert found.json() == {"data": [{"name": name, "docstatus": 1, "total_completed_qty": 10.0}]}

    cancelled = requests.post(
        f"{erpnext.base_url}/api/method/frappe.client.cancel",
        json={"doctype": "Job Card", "name": name},
        headers=headers,
        timeout=5,
    )

    assert cancelled.status_code == 200
    again = requests.get(f"{erpnext.base_url}/api/resource/Job Card/{name}", headers=headers, timeout=5)
    assert again.json()["data"]["docstatus"] == 2
    work_order = requests.get(f"{erpnext.base_url}/api/resource/Work Order/WO-7", headers=headers, timeout=5).json()[
        "data"
    ]
    assert [(row["operation"], row["completed_qty"]) for row in work_order["operations"]] == [("0010", 0.0)]
    assert [
        (e["action"], e["key"], e["order"], e["operation"], e["yield_qty"], e["document"], e["cancels_key"])
        for e in erpnext.control.ledger()
    ] == [
        ("post", key, "WO-7", "0010", "10", f"Job Card/{name}", None),
        ("cancel", None, "WO-7", "0010", "10", f"Job Card/{name}#cancelled", key),
    ]


def test_erpnext_answers_409_duplicate_entry_for_a_repeated_mes_confirmation_id(erpnext: SimulatorProcess) -> None:
    headers = erpnext_headers(erpnext)
    key = str(uuid.uuid4())
    first = requests.post(f"{erpnext.base_url}/api/resource/Job Card", json=job_card(key), headers=headers, timeout=5)

    repeat = requests.post(f"{erpnext.base_url}/api/resource/Job Card", json=job_card(key), headers=headers, timeout=5)

    assert repeat.status_code == 409
    body = repeat.json()
    assert body["exc_type"] == "DuplicateEntryError"
    assert first.json()["data"]["name"] in body["exception"]
    messages = [json.loads(message)["message"] for message in json.loads(body["_server_messages"])]
    assert messages == [f"Job Card {first.json()['data']['name']} already exists"]
    assert len(erpnext.control.ledger()) == 1


def test_erpnext_answers_417_operation_sequence_error_when_a_later_operation_gets_ahead(
    erpnext: SimulatorProcess,
) -> None:
    headers = erpnext_headers(erpnext)
    url = f"{erpnext.base_url}/api/resource/Job Card"
    assert requests.post(url, json=job_card(str(uuid.uuid4()), completed_qty=5), headers=headers, timeout=5).ok

    ahead = requests.post(
        url,
        json=job_card(str(uuid.uuid4()), operation="0020", sequence_id=2, completed_qty=8),
        headers=headers,
        timeout=5,
    )

    assert ahead.status_code == 417
    body = ahead.json()
    assert body["exc_type"] == "OperationSequenceError"
    assert (
        "complete the operation 0010 before the operation 0020"
        in json.loads(json.loads(body["_server_messages"])[0])["message"]
    )
    assert len(erpnext.control.ledger()) == 1
    behind = requests.post(
        url,
        json=job_card(str(uuid.uuid4()), operation="0020", sequence_id=2, completed_qty=5),
        headers=headers,
        timeout=5,
    )
    assert behind.status_code == 200


def test_erpnext_answers_417_validation_errors_and_401_for_a_wrong_token(erpnext: SimulatorProcess) -> None:
    headers = erpnext_headers(erpnext)
    url = f"{erpnext.base_url}/api/resource/Job Card"

    missing = requests.post(url, json={"operation": "0010", "docstatus": 1}, headers=headers, timeout=5)
    stopped_order = dict(job_card(str(uuid.uuid4()), work_order="WO-9"))
    erpnext.control.set_faults(rejected_orders=["WO-9"])
    stopped = requests.post(url, json=stopped_order, headers=headers, timeout=5)
    wrong_token = requests.post(
        url, json=job_card(str(uuid.uuid4())), timeout=5, headers={"Authorization": "token mes-demo-key:wrong"}
    )

    assert (missing.status_code, missing.json()["exc_type"]) == (417, "MandatoryError")
    assert (stopped.status_code, stopped.json()["exc_type"]) == (417, "ValidationError")
    assert (wrong_token.status_code, wrong_token.json()["exc_type"]) == (401, "AuthenticationError")
    assert erpnext.control.ledger() == []


# -- Odoo --------------------------------------------------------------------------------


def test_odoo_json2_posts_a_time_line_finds_it_by_our_key_and_removes_it(odoo: SimulatorProcess) -> None:
    workorder_id = odoo_workorder_id(odoo, "WO-1", "0010")
    key = str(uuid.uuid4())

    created = odoo_call(
        odoo,
        "mrp.workcenter.productivity",
        "create",
        {
            "vals_list": [
                {
                    "workorder_id": workorder_id,
                    "duration": 42.5,
                    "x_mes_confirmation_id": key,
                    "x_mes_qty_produced": 12,
                    "x_mes_qty_scrap": 1,
                }
            ]
        },
    )

    assert created.status_code == 200
    [line_id] = created.json()
    found = odoo_call(
        odoo,
        "mrp.workcenter.productivity",
        "search_read",
        {
            "domain": [["x_mes_confirmation_id", "=", key]],
            "fields": ["id", "workorder_id", "x_mes_qty_produced"],
        },
    )
    assert found.json() == [
        {"id": line_id, "workorder_id": [workorder_id, "WO-1 - Operation 0010"], "x_mes_qty_produced": 12.0}
    ]
    workorder = odoo_call(
        odoo, "mrp.workorder", "read", {"ids": [workorder_id], "fields": ["qty_produced", "duration", "state"]}
    )
    assert workorder.json() == [{"id": workorder_id, "qty_produced": 12.0, "duration": 42.5, "state": "progress"}]

    removed = odoo_call(odoo, "mrp.workcenter.productivity", "unlink", {"ids": [line_id]})

    assert (removed.status_code, removed.json()) == (200, True)
    assert [
        (e["action"], e["key"], e["order"], e["operation"], e["yield_qty"], e["scrap_qty"], e["cancels_key"])
        for e in odoo.control.ledger()
    ] == [
        ("post", key, "WO-1", "0010", "12", "1", None),
        ("cancel", None, "WO-1", "0010", "12", "1", key),
    ]


def test_odoo_json2_finishes_work_and_mark_done_asks_for_a_backorder_decision(odoo: SimulatorProcess) -> None:
    created = odoo_call(
        odoo,
        "mrp.production",
        "create",
        {
            "vals_list": [
                {
                    "name": "WO-2",
                    "product_qty": 100,
                    "workorder_ids": [[0, 0, {"x_mes_operation": "0010"}]],
                }
            ]
        },
    )
    [production_id] = created.json()
    workorder_id = odoo_workorder_id(odoo, "WO-2", "0010")
    assert odoo_call(odoo, "mrp.workorder", "button_finish", {"ids": [workorder_id]}).json() is True
    assert (
        odoo_call(odoo, "mrp.production", "write", {"ids": [production_id], "vals": {"qty_producing": 95}}).json()
        is True
    )

    wizard = odoo_call(odoo, "mrp.production", "button_mark_done", {"ids": [production_id]})
    done = odoo_call(
        odoo, "mrp.production", "button_mark_done", {"ids": [production_id], "context": {"skip_backorder": True}}
    )

    assert wizard.json()["res_model"] == "mrp.production.backorder"
    assert done.json() is True
    production = odoo_call(
        odoo, "mrp.production", "read", {"ids": [production_id], "fields": ["state", "qty_produced"]}
    )
    assert production.json() == [{"id": production_id, "state": "done", "qty_produced": 95.0}]
    assert [entry["action"] for entry in odoo.control.ledger()] == ["finish", "update", "mark_done"]


def test_odoo_json2_answers_401_for_a_bad_key_and_a_user_error_for_a_repeated_key(odoo: SimulatorProcess) -> None:
    unauthorized = odoo_call(odoo, "mrp.workorder", "search_read", {"domain": []}, key="wrong")

    assert unauthorized.status_code == 401
    assert (unauthorized.json()["name"], unauthorized.json()["message"]) == (
        "werkzeug.exceptions.Unauthorized",
        "Invalid apikey",
    )

    workorder_id = odoo_workorder_id(odoo, "WO-3", "0010")
    line = {"workorder_id": workorder_id, "x_mes_confirmation_id": "k-1", "x_mes_qty_produced": 1}
    assert odoo_call(odoo, "mrp.workcenter.productivity", "create", {"vals_list": [line]}).status_code == 200

    repeated = odoo_call(odoo, "mrp.workcenter.productivity", "create", {"vals_list": [line]})

    assert repeated.status_code == 422
    assert repeated.json()["name"] == "odoo.exceptions.ValidationError"
    assert "unique" in repeated.json()["message"]
    assert len(odoo.control.ledger()) == 1


def test_odoo_xmlrpc_authenticates_and_executes_kw(odoo: SimulatorProcess) -> None:
    common = xmlrpc.client.ServerProxy(f"{odoo.base_url}/xmlrpc/2/common")
    models = xmlrpc.client.ServerProxy(f"{odoo.base_url}/xmlrpc/2/object")
    api_key = odoo.credentials["token"]

    assert common.authenticate("mes", odoo.credentials["user"], "wrong", {}) is False
    uid = common.authenticate("mes", odoo.credentials["user"], api_key, {})
    [workorder] = models.execute_kw(
        "mes",
        uid,
        api_key,
        "mrp.workorder",
        "search_read",
        [[["production_id.name", "=", "WO-4"], ["x_mes_operation", "=", "0020"]]],
        {"fields": ["id"]},
    )
    [line_id] = models.execute_kw(
        "mes",
        uid,
        api_key,
        "mrp.workcenter.productivity",
        "create",
        [[{"workorder_id": workorder["id"], "x_mes_confirmation_id": "k-2", "x_mes_qty_produced": 3}]],
    )

    with pytest.raises(xmlrpc.client.Fault) as repeated:
        models.execute_kw(
            "mes",
            uid,
            api_key,
            "mrp.workcenter.productivity",
            "create",
            [[{"workorder_id": workorder["id"], "x_mes_confirmation_id": "k-2"}]],
        )
    with pytest.raises(xmlrpc.client.Fault) as denied:
        models.execute_kw("mes", uid, "wrong", "mrp.workorder", "search", [[]])

    assert isinstance(line_id, int)
    assert repeated.value.faultCode == 2
    assert denied.value.faultCode == 3
    assert [(e["action"], e["key"], e["order"], e["operation"]) for e in odoo.control.ledger()] == [
        ("post", "k-2", "WO-4", "0020")
    ]


# -- faults ------------------------------------------------------------------------------


def test_down_refuses_connections_until_brought_back_on_the_same_port(erpnext: SimulatorProcess) -> None:
    headers = erpnext_headers(erpnext)
    session = requests.Session()
    assert session.get(f"{erpnext.base_url}/api/method/frappe.auth.get_logged_user", headers=headers, timeout=5).ok

    erpnext.control.set_faults(down=True)

    with pytest.raises(requests.ConnectionError):
        session.get(f"{erpnext.base_url}/api/method/frappe.auth.get_logged_user", headers=headers, timeout=5)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", erpnext.port), timeout=2)
    assert erpnext.control.health()["erp_listening"] is False

    erpnext.control.set_faults(down=False)

    assert session.get(f"{erpnext.base_url}/api/method/frappe.auth.get_logged_user", headers=headers, timeout=5).ok
    assert erpnext.control.health()["erp_port"] == erpnext.port


def test_error_rate_one_answers_every_request_with_a_5xx_and_commits_nothing(erpnext: SimulatorProcess) -> None:
    erpnext.control.set_faults(error_rate=1)

    statuses = {
        requests.post(
            f"{erpnext.base_url}/api/resource/Job Card",
            json=job_card(str(uuid.uuid4())),
            headers=erpnext_headers(erpnext),
            timeout=5,
        ).status_code
        for _ in range(10)
    }

    assert statuses and all(500 <= status < 600 for status in statuses)
    assert erpnext.control.ledger() == []


def test_drop_after_commit_leaves_the_client_without_an_answer_but_the_posting_in_the_ledger(
    sap: SimulatorProcess,
) -> None:
    session = sap_session(sap)
    token = sap_fetch_token(session, sap)
    key = str(uuid.uuid4())
    sap.control.set_faults(drop_after_commit_rate=1)

    with pytest.raises(requests.ConnectionError):
        sap_post(session, sap, token, sap_confirmation(key))

    [entry] = sap.control.ledger()
    assert (entry["action"], entry["key"], entry["response_dropped"]) == ("post", key, True)
    sap.control.set_faults(drop_after_commit_rate=0)
    found = session.get(
        sap.service_url + "/ProdnOrdConf2", params={"$filter": f"ExternalSystemConfirmation eq guid'{key}'"}, timeout=5
    )
    assert [row["ExternalSystemConfirmation"] for row in found.json()["d"]["results"]] == [key]


def test_latency_beyond_the_client_timeout_still_commits_afterwards(odoo: SimulatorProcess) -> None:
    workorder_id = odoo_workorder_id(odoo, "WO-5", "0010")
    odoo.control.set_faults(latency_ms=700)

    with pytest.raises(requests.Timeout):
        requests.post(
            f"{odoo.base_url}/json/2/mrp.workcenter.productivity/create",
            json={"vals_list": [{"workorder_id": workorder_id, "x_mes_confirmation_id": "slow-1"}]},
            headers={"Authorization": f"bearer {odoo.credentials['token']}"},
            timeout=0.1,
        )

    assert odoo.control.ledger() == []  # the client gave up before the ERP got to it
    deadline = time.monotonic() + 5
    while not odoo.control.ledger() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [entry["key"] for entry in odoo.control.ledger()] == ["slow-1"]


def test_control_api_rejects_unknown_faults(erpnext: SimulatorProcess) -> None:
    response = requests.post(erpnext.control.url + "/faults", json={"explode": True}, timeout=5)

    assert response.status_code == 400
    assert "explode" in response.json()["error"]
    assert erpnext.control.faults()["error_rate"] == 0


@pytest.mark.slow
@pytest.mark.subprocess
def test_ledger_file_survives_sigkill_and_the_ledger_is_printed_on_sigterm(tmp_path) -> None:
    ledger_path = tmp_path / "ledger.jsonl"
    simulator = start_simulator("erpnext", ledger_path=ledger_path)
    try:
        key = str(uuid.uuid4())
        response = requests.post(
            f"{simulator.base_url}/api/resource/Job Card",
            json=job_card(key),
            headers=erpnext_headers(simulator),
            timeout=5,
        )
        assert response.ok
    finally:
        simulator.kill()

    [entry] = [json.loads(line) for line in ledger_path.read_text().splitlines()]
    assert (entry["action"], entry["key"], entry["order"]) == ("post", key, "WO-7")

    with start_simulator("erpnext") as printing:
        requests.post(
            f"{printing.base_url}/api/resource/Job Card",
            json=job_card(key),
            headers=erpnext_headers(printing),
            timeout=5,
        ).raise_for_status()
        text_ledger = printing.control.ledger_text()
        printed = printing.stop()

    assert "ERP simulator ledger (erpnext): 1 entry" in printed
    assert key in printed
    assert key in text_ledger
