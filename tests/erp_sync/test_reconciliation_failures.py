"""What the reconciliation page says when the ERP could not be asked: what failed, in the reader's
language (unreachable, timed out, refused with the ERP's own message), never a raw exception. An
order number the MES does not know is refused before anything runs."""

from __future__ import annotations

import html
import socket
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from erp_sync.connectors.base import FailureKind, Outcome, PostResult
from erp_sync.models import ErpConnection, ReconciliationRun
from erp_sync.reconciliation import _failure_reason, failure_text
from erp_sync.services import erp_connection_upsert
from simulators.erp import start_simulator
from simulators.erp.sap import SERVICE_PATH
from tests.conftest import ORDER
from tests.erp_sync.queued import RUN_TABLE_POLL, queued_tasks, reconciliations_run_by_a_worker
from tests.helpers import confirm, signed_in

URL = "/sync/reconciliation/"

pytestmark = pytest.mark.django_db(transaction=True)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _connect(url: str, *, user: str = "MES_INTEGRATION", password: str = "mes-demo-password", timeout: int = 5) -> None:
    erp_connection_upsert(
        name="plant-sap", kind="sap", base_url=url, username=user, password=password, timeout_seconds=timeout, is_default=True
    )


def _run_now(client, language: str) -> str:
    """Queue a check of WO-1001 from the page, let the worker do it; the table of runs the page then polls, in ``language``."""
    queued = client.post(URL, {"action": "run", "work_order": ORDER}, HTTP_ACCEPT_LANGUAGE=language)
    assert queued.status_code == 302
    assert len(reconciliations_run_by_a_worker()) == 1
    response = client.get(URL, HTTP_ACCEPT_LANGUAGE=language, **RUN_TABLE_POLL)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


@pytest.fixture
def supervisor(client, released_order):
    queued_tasks()  # whatever earlier tests left
    confirm(ORDER, 10, good_qty=1)
    return signed_in(client, "supervisor")


def test_an_unreachable_erp_is_said_so_in_english_and_chinese(supervisor):
    port = _closed_port()
    _connect(f"http://127.0.0.1:{port}{SERVICE_PATH}")

    english = _run_now(supervisor, "en")
    chinese = _run_now(supervisor, "zh-hans")

    said = f"WO-1001: the ERP of connection plant-sap could not be reached (nothing answers at 127.0.0.1:{port})."
    assert english.count(said) == 1  # in the run's row of the table of latest runs
    assert f"WO-1001：连接 plant-sap 的 ERP 无法访问（127.0.0.1:{port} 上没有应答）。" in chinese
    for page in (english, chinese):
        assert "HTTPConnectionPool" not in page and "Max retries" not in page and "Errno" not in page
    run = ReconciliationRun.objects.order_by("id").first()
    assert run.failures[0]["reason"] == "unreachable" and "HTTPConnectionPool" in run.failures[0]["error"]  # kept for the API


@pytest.mark.subprocess
def test_an_erp_slower_than_the_timeout_is_said_to_have_not_answered(supervisor):
    with start_simulator("sap") as sap:
        _connect(sap.service_url, timeout=1)
        sap.control.set_faults(latency_ms=2500)

        english = _run_now(supervisor, "en")
        chinese = _run_now(supervisor, "zh-hans")

    assert "WO-1001: the ERP of connection plant-sap did not answer within 1 s." in english
    assert "WO-1001：连接 plant-sap 的 ERP 在 1 秒内没有应答。" in chinese
    assert "ReadTimeout" not in english + chinese


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        (FailureKind.UNREACHABLE, "could not be reached (nothing answers at erp.example:8443)."),
        (FailureKind.TIMEOUT, "did not answer within 7 s."),
        (FailureKind.AMBIGUOUS, "did not answer within 7 s."),
        (FailureKind.REFUSED, "answered something that could not be read."),
        (FailureKind.REJECTED, "could not be asked: Timeout: connection refused: unreadable"),
    ],
)
def test_what_kept_the_erp_from_answering_is_told_by_the_kind_of_failure_not_by_its_wording(kind, said):
    connection = ErpConnection(name="plant-sap", base_url="https://erp.example:8443/sap", timeout_seconds=7)
    # Words that would once have been taken for a time-out, a refused connection and an unreadable answer at once.
    result = PostResult(Outcome.RETRYABLE, error="Timeout: connection refused: unreadable", failure_kind=kind)

    reason = _failure_reason(result, connection)

    with translation.override("en"):
        text = failure_text({"work_order": ORDER, "connection": "plant-sap", "error": result.error, **reason})
    assert text == f"WO-1001: the ERP of connection plant-sap {said}"


@pytest.mark.parametrize(
    ("path", "user", "status", "message"),
    [
        ("/sap/opu/odata/sap/NO_SUCH_SRV", "MES_INTEGRATION", 404, "No service found for namespace '/SAP/', name 'API_PROD_ORDER_CONFIRMATION_2_SRV' (/IWFND/MED/170)"),
        (SERVICE_PATH, "SOMEONE_ELSE", 401, "Logon Error Message Logon failed"),
    ],
    ids=["wrong-service", "wrong-user"],
)
@pytest.mark.subprocess
def test_an_erp_that_refuses_is_quoted_with_its_status_and_message(supervisor, path, user, status, message):
    with start_simulator("sap") as sap:
        _connect(sap.base_url + path, user=user)

        english = _run_now(supervisor, "en")
        chinese = _run_now(supervisor, "zh-hans")

    assert f"WO-1001: the ERP of connection plant-sap refused the request (HTTP {status}): {message}" in english
    assert f"WO-1001：连接 plant-sap 的 ERP 拒绝了请求（HTTP {status}）：{message}" in chinese
    assert "<title>" not in english  # the gateway's HTML page as its text, not as markup


@pytest.mark.parametrize("number", ["WO-9999", "W" * 500])
def test_an_order_the_mes_does_not_know_is_refused_and_nothing_runs(supervisor, number):
    _connect(f"http://127.0.0.1:{_closed_port()}{SERVICE_PATH}")

    english = supervisor.post(URL, {"action": "run", "work_order": number}, follow=True, HTTP_ACCEPT_LANGUAGE="en")
    chinese = supervisor.post(URL, {"action": "run", "work_order": number}, follow=True, HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert f"Work order {number[:64]} does not exist." in english.content.decode()
    assert f"工单 {number[:64]} 不存在" in chinese.content.decode()
    assert not ReconciliationRun.objects.exists()


def test_the_command_refuses_an_unknown_order_too():
    with translation.override("en"), pytest.raises(CommandError, match="Work order WO-9999 does not exist.") as refused:
        call_command("reconcile", "--order", "WO-9999", stdout=StringIO(), stderr=StringIO())

    assert refused.value.returncode == 2
    assert not ReconciliationRun.objects.exists()
