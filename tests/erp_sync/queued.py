"""The tests' ERP worker: what a page queued on the in-memory broker, taken off and run as a worker would."""

from __future__ import annotations

from erp_sync import tasks
from mes.celery import app as celery_app

#: What HTMX sends when the table of runs asks again.
RUN_TABLE_POLL = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "run-table"}


def queued_tasks() -> list[tuple[str, dict]]:
    """Take every task off the in-memory broker's ``erp`` queue: (name, keyword arguments)."""
    found = []
    with celery_app.connection_for_read() as connection:
        queue = connection.SimpleQueue("erp")
        while True:
            try:
                message = queue.get(block=False)
            except queue.Empty:
                break
            found.append((message.headers["task"], message.payload[1]))
            message.ack()
        queue.close()
    return found


def reconciliations_run_by_a_worker() -> list[int]:
    """Run each reconciliation waiting in the queue, as the worker does; the run ids. Wake-ups of the sender are dropped."""
    runs = []
    for name, kwargs in queued_tasks():
        if name == "erp_sync.reconcile":
            tasks.reconcile.apply(kwargs=kwargs, throw=True)
            runs.append(kwargs["run_id"])
    return runs
