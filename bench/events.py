"""Event stream benchmark: N events published through the product's publisher to RabbitMQ with
publisher confirms, against a same-run baseline of raw py-amqp publishing with confirms.

    flock /tmp/mes-bench.lock .venv/bin/python bench/events.py [--events 20000] [--batch 1000]

What it does, on loopback only, stopping by itself:

1. Creates a fresh PostgreSQL database (default ``mes_bench_events`` on 127.0.0.1:5432, user
   postgres) and migrates it; adds an event destination to the machine's RabbitMQ
   (``amqp://guest:guest@127.0.0.1:5672/%2F``, an exchange of its own, ``bench.events.<random>``)
   through the service ``event_destination add`` uses, and binds a temporary queue to it so the
   broker routes and stores every message (persistent, delivery mode 2), as it would for a consumer.
2. Appends ``--events`` events over 100 work orders with ``erp_sync.outbox.stream_add_many`` (in
   transactions of 1,000, as the gateway's batches write them; not timed), each with a
   confirmation-sized payload.
3. Timed: ``erp_sync.event_stream.destination_publish`` until the destination has them all: the
   numbering of positions, the batch reads, CloudEvents encoding, publishing on a channel in confirm
   mode, waiting for every ``basic.ack`` and moving the destination's position, batch by batch.
4. Baseline, same run, same broker, same exchange and queue: the same number of pre-encoded
   CloudEvents bodies published with raw py-amqp, in batches of the same size on a confirm-mode
   channel, each batch waited for (what the publisher does without the database); and, for
   reference, the first 2,000 with ``Connection(confirm_publish=True)`` (a round trip per message).
5. Checks the queue holds every event exactly as many times as published, prints events/s of each,
   the product's share of the baseline, the target (≥ 2,000 events/s) with PASS/FAIL and the
   machine; deletes the exchange and the queue and drops the database (``--keep-db`` keeps it).

RabbitMQ, PostgreSQL and this process share the machine's CPUs (and whatever else runs on it), so
the figures are a floor.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: bench/ is on the path, the project root is not

from bench.common import (
    in_process_arguments,
    in_process_cleanup,
    in_process_database,
    in_process_footer,
    verdict,
    wait_for_quiet,
)

TARGET_EVENTS_PER_SECOND = 2000.0
BROKER = "127.0.0.1:5672"
ORDERS = 100


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000, help="events to publish (default 20000)")
    parser.add_argument("--batch", type=int, default=1000, help="events per batch (MES_EVENT_BATCH_SIZE; default 1000)")
    in_process_arguments(parser, database="mes_bench_events")
    return parser.parse_args()


def payload(number: str, index: int) -> dict:
    """About what a confirmation's outbox message carries."""
    return {
        "type": "confirmation", "work_order": number, "operation": 10, "work_center": "WC-CUT", "station": "ST-1",
        "good_qty": "1.000", "scrap_qty": "0.000", "rework_qty": "0.000", "unit": "PCS", "final": False,
        "operator_badge": "B-1001", "confirmed_at": "2030-01-01T08:00:00+08:00", "client_id": str(uuid.uuid4()),
        "labor_minutes": "3.00", "machine_minutes": "0.00", "sequence": index, "goods_movements": [],
    }


def append_events(count: int) -> None:
    from django.db import transaction

    from erp_sync.outbox import NewEvent, stream_add_many

    for start in range(0, count, 1000):
        with transaction.atomic():
            stream_add_many(events=[
                NewEvent(kind="confirmation", subject=f"BWO-{index % ORDERS:04d}", key=uuid.uuid4(), data=payload(f"BWO-{index % ORDERS:04d}", index))
                for index in range(start, min(count, start + 1000))
            ])


def queue_depth(channel, queue: str) -> int:
    _name, messages, _consumers = channel.queue_declare(queue, passive=True)
    return messages


def baseline(exchange: str, queue_channel, queue: str, bodies: list[tuple[str, bytes]], batch: int) -> tuple[float, float]:
    """(events/s with batched confirms, events/s with a confirm per message) through raw py-amqp."""
    import amqp

    from erp_sync.event_stream import CONTENT_TYPE

    connection = amqp.Connection(host=BROKER, userid="guest", password="guest")
    connection.connect()
    channel = connection.channel()
    channel.confirm_select()
    pending: set[int] = set()

    def acked(tag: int, multiple: bool) -> None:
        if multiple:
            pending.difference_update({t for t in pending if t <= tag})
        else:
            pending.discard(tag)

    channel.events["basic_ack"].add(acked)
    sent = 0
    began = time.perf_counter()
    for start in range(0, len(bodies), batch):
        for key, body in bodies[start:start + batch]:
            sent += 1
            pending.add(sent)
            channel.basic_publish(amqp.Message(body, content_type=CONTENT_TYPE, content_encoding="utf-8", delivery_mode=2), exchange=exchange, routing_key=key)
        while pending:
            connection.drain_events(timeout=30)
    batched = len(bodies) / (time.perf_counter() - began)
    connection.close()

    single = amqp.Connection(host=BROKER, userid="guest", password="guest", confirm_publish=True)
    single.connect()
    channel = single.channel()
    few = bodies[:2000]
    began = time.perf_counter()
    for key, body in few:
        channel.basic_publish(amqp.Message(body, content_type=CONTENT_TYPE, content_encoding="utf-8", delivery_mode=2), exchange=exchange, routing_key=key)
    one_by_one = len(few) / (time.perf_counter() - began)
    single.close()
    return batched, one_by_one


def main() -> int:
    args = parse_args()
    started = datetime.datetime.now(datetime.UTC)
    database_url = f"{args.server}/{args.database}"
    consumer = None
    exchange = f"bench.events.{uuid.uuid4().hex[:8]}"
    try:
        in_process_database(args)
        os.environ.update(DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="mes.settings", DEBUG="0", LOG_LEVEL="WARNING",
                          SECRET_KEY=os.environ.get("SECRET_KEY") or "bench-" + "x" * 50, MES_EVENT_BATCH_SIZE=str(args.batch),
                          MES_EVENT_TIMEOUT_SECONDS="30")
        os.environ.pop("REDIS_URL", None)
        import django

        django.setup()
        import amqp

        from erp_sync.event_destinations import event_destination_upsert
        from erp_sync.event_stream import destination_publish, messages_for
        from erp_sync.models import EventDestination, StreamEvent

        destination, _created = event_destination_upsert(name="bench", url=f"amqp://guest:guest@{BROKER}/%2F", exchange=exchange)
        consumer = amqp.Connection(host=BROKER, userid="guest", password="guest")
        consumer.connect()
        channel = consumer.channel()
        channel.exchange_declare(exchange, "topic", durable=True, auto_delete=False)  # as the publisher declares it
        queue, _count, _consumers = channel.queue_declare(f"{exchange}.queue", durable=False, auto_delete=False)
        channel.queue_bind(queue, exchange, routing_key="#")

        print(f"[setup] appending {args.events} events over {ORDERS} orders …", flush=True)
        append_events(args.events)
        busy_before = wait_for_quiet(args)

        began = time.perf_counter()
        published = 0
        while published < args.events:
            done = destination_publish(name="bench", budget_seconds=600, batch_size=args.batch, force=True)
            if not done:
                raise SystemExit(f"the publisher stopped: {EventDestination.objects.get(name='bench').last_error}")
            published += done
        product_seconds = time.perf_counter() - began
        product_rate = published / product_seconds
        in_queue = queue_depth(channel, queue)

        rows = list(StreamEvent.objects.order_by("position").values_list("key", "kind", "subject", "created_at", "data"))
        bodies = messages_for(destination, rows)
        channel.queue_purge(queue)
        batched_rate, single_rate = baseline(exchange, channel, queue, bodies, args.batch)

        passed = product_rate >= TARGET_EVENTS_PER_SECOND and in_queue == args.events
        print()
        print(f"Event stream, {args.events} events in batches of {args.batch}, RabbitMQ {BROKER} (persistent, publisher confirms); "
              f"started {started:%Y-%m-%d %H:%M} UTC")
        print(f"  product (destination_publish: number, read, encode, publish, confirms, position): "
              f"{product_rate:,.0f} events/s ({product_seconds:.2f} s); the queue got {in_queue}")
        print(f"  baseline, raw py-amqp, same batches on a confirm-mode channel: {batched_rate:,.0f} events/s "
              f"(the product at {product_rate / batched_rate:.0%} of it)")
        print(f"  reference, raw py-amqp with confirm_publish=True (a round trip per message, 2,000): {single_rate:,.0f} events/s")
        print(f"  target ≥ {TARGET_EVENTS_PER_SECOND:,.0f} events/s with confirms: {verdict(product_rate >= TARGET_EVENTS_PER_SECOND)}; "
              f"every event in the queue: {verdict(in_queue == args.events)}")
        return in_process_footer(database_url=database_url, busy_before=busy_before, passed=passed)
    finally:
        if consumer is not None:
            try:
                channel = consumer.channel()
                channel.queue_delete(f"{exchange}.queue")
                channel.exchange_delete(exchange)
                consumer.close()
            except Exception:  # noqa: BLE001 — the broker went away; nothing left to tidy
                pass
        in_process_cleanup(args=args, database_url=database_url)


if __name__ == "__main__":
    sys.exit(main())
