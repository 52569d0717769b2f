"""A supervisor in real Chromium queues a reconciliation; a worker does it; the page, asking again
on its own, shows the run finished with what kept it from checking the order, without a reload."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from erp_sync.models import ReconciliationRun
from tests.browser.conftest import person, sign_in
from tests.conftest import ORDER
from tests.erp_sync.queued import queued_tasks, reconciliations_run_by_a_worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_queued_run_appears_waiting_and_the_page_shows_it_finished_once_a_worker_did_it(page, released_order):
    queued_tasks()  # whatever earlier tests left
    person("supervisor-zhao", "supervisor")
    sign_in(page, "supervisor-zhao", "secret-pass-1")
    page.goto("/sync/reconciliation/")

    page.fill("input[name=work_order]", ORDER)
    page.get_by_role("button", name="Run now").click()

    run = ReconciliationRun.objects.get()
    row = page.locator(f"#run-{run.pk}")
    expect(page.get_by_text(f"A worker is checking {ORDER} now")).to_be_visible()
    expect(row).to_have_attribute("data-state", "queued")
    expect(row).to_contain_text("waiting for a worker")
    page.evaluate("window.sameDocument = true")  # gone if the page were loaded again

    assert reconciliations_run_by_a_worker() == [run.pk]

    expect(row).to_have_attribute("data-state", "finished", timeout=10_000)
    expect(row).to_contain_text(f"{ORDER}: no default ERP connection is configured.")
    assert page.evaluate("window.sameDocument") is True  # the table was asked for again, the page not reloaded
    expect(page.locator("#run-table[hx-trigger]")).to_have_count(0)  # finished: it stops asking
