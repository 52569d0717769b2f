"""ERP sync benchmark: confirmation → simulated SAP latency at a steady rate, and the drain after an outage.

    .venv/bin/python bench/sync.py [--seconds 60] [--rate 100] [--outage-messages 50000]

What it does, on loopback only, stopping by itself (and on Ctrl-C) everything it started:

1. Creates a fresh PostgreSQL database (default ``mes_bench_sync`` on 127.0.0.1:5432), migrates
   it and seeds it through the product's services (``bench/setup_data.py``: 500 released work
   orders, an operator and an operator-role API token). Flushes a Redis database of its own
   (default ``redis://127.0.0.1:6379/11``) and uses it as ``REDIS_URL`` — the scale-out mode:
   Redis is the Celery broker. Every process gets a private ``MES_VAR_DIR``.
2. Starts the SAP simulator (``erp_sync/simulator``) with ``latency_ms=50`` on every request and a
   ledger file, adds the default ERP connection to it (``manage.py erp_connection add``), then a
   real Celery worker (``celery -A mes worker -Q erp --concurrency 2``: two pool processes), one
   ``celery beat`` (the ``erp_sync.sweep`` schedule) and gunicorn serving the API (2 gthread workers
   × 4 threads, as in ``bench/ingest.py``).
3. Phase A, latency: an open-loop client sends ``POST /api/v1/confirmations`` at a steady
   ``--rate`` per second (each request has its scheduled time; 64 threads with keep-alive
   connections), one good piece each, spread at random over the orders, for ``--warmup`` s
   unmeasured and then ``--seconds`` s. Once every message is acknowledged (or
   ``--settle-timeout`` passes) it reads each message's ``created_at`` and ``acknowledged_at``
   from the outbox and reports p50/p95/p99/max of ``acknowledged_at − created_at`` (recorded →
   acknowledged, from the database) and of ``acknowledged_at − the moment the client sent the
   POST``. Unacknowledged messages count as infinitely late.
4. Phase B, outage drain: the simulator is taken down (fault ``down``: its ERP port closed),
   ``--outage-messages`` confirmations over the 500 orders are posted through
   ``POST /api/v1/confirmations/bulk``, 1,000 per request, 2 gateway clients; the workers keep
   trying and backing off meanwhile. Then the simulator comes back and the script polls the
   outbox until every message is acknowledged (or ``--drain-timeout``). Drain rate = messages /
   (last ``acknowledged_at`` − the moment the ERP came back); the rate from the first to the last
   acknowledgment is shown too, so the wait for retries that were backing off is visible apart.
5. Checks the simulator's ledger against the outbox for both phases: exactly one posting per
   message (nothing missing, nothing doubled, nothing unknown), each order's postings in the
   order of its outbox sequence, and the quantities per order.
6. Prints the figures, where the CPU went, the targets with PASS/FAIL and the machine; stops
   gunicorn, the Celery worker and beat and the simulator, flushes the Redis database and drops
   the PostgreSQL database (``--keep-db`` keeps it). Exit status 0 only if every target passes.

The load generator, the web server, the workers, the simulator and PostgreSQL share the CPUs of
one machine (and whatever else runs on it), so the figures are a floor.
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import datetime
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: bench/ is on the path, the project root is not

from bench.common import (
    CLOCK_TICKS,
    PYTHON,
    HostWatch,
    Server,
    child_pids,
    database_create,
    database_drop,
    gunicorn_start,
    gunicorn_stop,
    machine_info,
    machine_ticks,
    percentile,
    process_cpu_seconds,
    product_env,
    scalar,
    verdict,
    wait_for_quiet,
)

# Targets: how fast the ERP hears of a confirmation, and how fast a backlog drains.
TARGET_P99_SECONDS = 1.0
TARGET_DRAIN_PER_SECOND = 500.0

SAP_CONNECTION = "bench-sap"


# --- processes --------------------------------------------------------------------------


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM if the bench itself dies, even by SIGKILL."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def sync_env(args: argparse.Namespace, database_url: str, var_dir: Path) -> dict[str, str]:
    env = product_env(
        database_url,
        var_dir,
        # Scale-out mode: Redis is the broker for the kick after each commit and for beat.
        REDIS_URL=args.redis_url,
        ERP_SYNC_SWEEP_SECONDS=str(args.sweep_seconds),
    )
    env.pop("CELERY_BROKER_URL", None)  # an explicit broker would win over REDIS_URL
    return env


@dataclass
class Background:
    """A long-running child in its own process group (Celery worker or beat)."""

    label: str
    process: subprocess.Popen
    log_path: Path
    grace_seconds: float

    def stop(self) -> None:
        """SIGTERM (Celery's warm shutdown), then SIGKILL of the whole group, pool children included."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=self.grace_seconds)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def lines(self, *marks: str) -> list[str]:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if any(mark in line for mark in marks)]

    def error_lines(self) -> list[str]:
        # Celery writes "[time: ERROR/ForkPoolWorker-1] …"; Django's format "time ERROR logger …".
        return self.lines("ERROR/", "CRITICAL/", " ERROR ", " CRITICAL ")

    def warning_lines(self) -> list[str]:
        return self.lines("WARNING/", " WARNING ")


def log_summary(lines: list[str]) -> list[str]:
    """Log lines grouped by what they say (times, ids and numbers taken out), most frequent first."""
    counted: collections.Counter[str] = collections.Counter()
    for line in lines:
        text = re.sub(r"^\[[^\]]*?: ", "[", line)
        text = re.sub(r"^\d{4}-\d\d-\d\d[ T][\d:,.]+ ", "", text)
        text = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "…", text)
        text = re.sub(r"ForkPoolWorker-\d+", "ForkPoolWorker-N", text)
        text = re.sub(r"\b\d+\b", "N", text)
        counted[text[:220]] += 1
    return [f"{count} × {text}" for text, count in counted.most_common()]


def background_start(label: str, command: list[str], env: dict[str, str], log_dir: Path, grace_seconds: float) -> Background:
    log_path = log_dir / f"{label}.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command, env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_die_with_parent,  # noqa: PLW1509 (started before any thread)
        )
    return Background(label, process, log_path, grace_seconds)


def celery_worker_start(args: argparse.Namespace, env: dict[str, str], log_dir: Path, index: int) -> Background:
    command = [
        PYTHON, "-m", "celery", "-A", "mes", "worker",
        "--queues", "erp", "--concurrency", str(args.concurrency),
        "--hostname", f"bench-sync-{index}@%h",
        "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
    ]
    # A task runs at most 30 s (dispatch budget); the database is dropped afterwards anyway.
    return background_start(f"celery-worker-{index}", command, env, log_dir, grace_seconds=10)


def celery_beat_start(env: dict[str, str], log_dir: Path, var_dir: Path) -> Background:
    command = [
        PYTHON, "-m", "celery", "-A", "mes", "beat",
        "--loglevel", "WARNING", "--schedule", str(var_dir / "celerybeat-schedule"),
    ]
    return background_start("celery-beat", command, env, log_dir, grace_seconds=5)


def manage(env: dict[str, str], *arguments: str, capture: bool = False) -> str:
    done = subprocess.run([PYTHON, "manage.py", *arguments], cwd=ROOT, env=env, check=True, capture_output=capture, text=True)
    return done.stdout if capture else ""


def redis_flush(redis_url: str) -> int:
    """Empty the bench's own Redis database; answer how many keys it held."""
    client = redis.Redis.from_url(redis_url)
    try:
        keys = client.dbsize()
        client.flushdb()
        return keys
    finally:
        client.close()


# --- HTTP -------------------------------------------------------------------------------


class Api:
    """The MES API as a client sees it, one keep-alive connection per thread."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"Content-Type": "application/json", "Authorization": f"Token {token}"}
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        return connection

    def call(self, method: str, path: str, body: object | None = None, *, close: bool = False) -> tuple[int, object]:
        """One request. A kept-alive connection the server closed meanwhile is retried once on a new
        one: safe for every call here, since a confirmation's client_id makes a resend answer the original."""
        headers = {**self.headers, **({"Connection": "close"} if close else {})}
        data = json.dumps(body).encode() if body is not None else None
        for attempt in (1, 2):
            reused = getattr(self._local, "connection", None) is not None
            connection = self._connection()
            try:
                connection.request(method, path, body=data, headers=headers)
                response = connection.getresponse()
                raw = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                connection.close()
                self._local.connection = None
                if not reused or attempt == 2:
                    raise
            except (OSError, http.client.HTTPException):
                connection.close()
                self._local.connection = None
                raise
        if response.will_close or close:
            connection.close()
            self._local.connection = None
        try:
            return response.status, json.loads(raw) if raw else None
        except ValueError:
            return response.status, raw[:300].decode(errors="replace")


def confirmation_record(work_order: str, seed: dict, client_id: str | None = None) -> dict:
    return {
        "client_id": client_id or str(uuid.uuid4()),
        "work_order": work_order,
        "operation": seed["operation"],
        "good_qty": 1,
        "scrap_qty": 0,
        "rework_qty": 0,
        "reason_code": "",
        "operator_badge": seed["operator_badge"],
        "station": "BENCH-ST-1",
        "labor_minutes": 1,
        "machine_minutes": 1,
        "final": False,
    }


# --- CPU --------------------------------------------------------------------------------


def _tree(pid: int) -> list[int]:
    pids, queue = [], [pid]
    while queue:
        current = queue.pop()
        pids.append(current)
        queue += child_pids(current)
    return pids


def tree_cpu_seconds(pid: int) -> float:
    """CPU of a process and all its descendants, including those that have exited and been reaped.

    Celery replaces a pool process that hits the hard time limit; its CPU then lives on only in
    the parent's ``cutime``/``cstime``.
    """
    total = 0.0
    for member in _tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(value) for value in fields[11:15]) / CLOCK_TICKS  # utime, stime, cutime, cstime
    return total


def postgres_server_seconds(postmaster_pid: int | None) -> float:
    """CPU of the whole PostgreSQL server, backends that have exited included.

    Server-wide (every database, so other jobs' queries too): the bench's workers open and close
    connections, and an exited backend's CPU survives only in the postmaster's ``cutime``.
    """
    return tree_cpu_seconds(postmaster_pid) if postmaster_pid is not None else 0.0


def postmaster_pid() -> int | None:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if "(postgres)" in text and text.rsplit(")", 1)[1].split()[1] == "1":
            return int(stat.parent.name)
    for stat in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = stat.read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"/postgres") and b"-D" in argv:
            return int(stat.parent.name)
    return None


@dataclass
class Processes:
    """What the bench started, by role, for CPU accounting and for stopping."""

    web: Server | None = None
    workers: list[Background] = field(default_factory=list)
    beat: Background | None = None
    simulator_pid: int | None = None
    postmaster: int | None = None

    def cpu(self) -> dict[str, float]:
        times = os.times()
        roles = {
            "gunicorn": tree_cpu_seconds(self.web.process.pid) if self.web else 0.0,
            "celery workers": sum(tree_cpu_seconds(worker.process.pid) for worker in self.workers),
            "celery beat": tree_cpu_seconds(self.beat.process.pid) if self.beat else 0.0,
            "simulator": process_cpu_seconds(self.simulator_pid) if self.simulator_pid else 0.0,
            "postgres (server)": postgres_server_seconds(self.postmaster),
            "load generator": times.user + times.system,
        }
        busy, total = machine_ticks()
        roles["_busy"], roles["_total"] = float(busy), float(total)
        return roles


@dataclass
class CpuUse:
    seconds: dict[str, float]
    busy_share: float
    wall: float

    @staticmethod
    def between(before: dict[str, float], after: dict[str, float], wall: float) -> CpuUse:
        seconds = {key: after[key] - before[key] for key in before if not key.startswith("_")}
        busy = (after["_busy"] - before["_busy"]) / max(after["_total"] - before["_total"], 1)
        return CpuUse(seconds, busy, wall)

    @property
    def others(self) -> float:
        """CPU the rest of the machine used meanwhile (other jobs, the kernel, processes not counted)."""
        return max(self.busy_share * os.cpu_count() * self.wall - sum(self.seconds.values()), 0.0)


def database_stats(database_url: str, database: str) -> dict[str, float]:
    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT xact_commit, sessions, active_time FROM pg_stat_database WHERE datname = %s", (database,)
        ).fetchone()
    return {"commits": float(row[0]), "sessions": float(row[1]), "active_ms": float(row[2])}


def stats_between(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {key: after[key] - before[key] for key in before}


# --- phase A: latency at a steady rate ----------------------------------------------------


@dataclass
class Sent:
    client_id: str
    scheduled: float  # time.time() the request was due
    sent: float  # time.time() just before the request went out
    answered: float = 0.0
    status: int = 0
    error: str = ""
    measured: bool = True


def paced_load(api: Api, orders: list[str], seed: dict, rate: float, seconds: float, *, threads: int, measured: bool,
               rng: random.Random) -> list[Sent]:
    """Open loop: request ``i`` is due at ``start + i / rate``, whatever happened to earlier ones.

    Thread ``k`` sends the requests ``i ≡ k (mod threads)``; a slow answer delays only that
    thread's next request, which then goes out late (its lateness is recorded).
    """
    total = round(rate * seconds)
    plan = [(str(uuid.uuid4()), rng.choice(orders)) for _ in range(total)]
    results: list[Sent | None] = [None] * total
    start = time.time() + 0.2

    def sender(first: int) -> None:
        for index in range(first, total, threads):
            due = start + index / rate
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
            client_id, order = plan[index]
            sent = Sent(client_id, due, time.time(), measured=measured)
            try:
                status, body = api.call("POST", "/api/v1/confirmations", confirmation_record(order, seed, client_id))
                sent.status = status
                if status != 201:
                    sent.error = json.dumps(body)[:300]
            except (OSError, http.client.HTTPException) as error:
                sent.error = repr(error)
            sent.answered = time.time()
            results[index] = sent

    workers = [threading.Thread(target=sender, args=(k,), daemon=True) for k in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=seconds + 300)
    return [sent for sent in results if sent is not None]


def outbox_times(database_url: str, client_ids: list[str]) -> dict[str, tuple[float, float | None]]:
    """client_id → (created_at, acknowledged_at) of its outbox message, as epoch seconds."""
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT c.client_id::text, extract(epoch FROM o.created_at)::float8, extract(epoch FROM o.acknowledged_at)::float8"
            " FROM mes_confirmation c JOIN erp_sync_outboxmessage o ON o.source_uuid = c.uuid"
            " WHERE c.client_id = ANY(%s::uuid[])",
            (client_ids,),
        ).fetchall()
    return {row[0]: (row[1], row[2]) for row in rows}


def wait_acknowledged(database_url: str, after_id: int, expected: int, timeout: float, label: str) -> int:
    """Poll until ``expected`` messages with id > ``after_id`` are acknowledged; answer how many were."""
    deadline = time.monotonic() + timeout
    acknowledged = 0
    while time.monotonic() < deadline:
        acknowledged = int(scalar(database_url, "SELECT count(*) FROM erp_sync_outboxmessage WHERE id > %s AND state = 'acknowledged'", (after_id,)))
        if acknowledged >= expected:
            return acknowledged
        time.sleep(0.5)
    print(f"[{label}] {acknowledged:,} of {expected:,} acknowledged after {timeout:g} s; going on", flush=True)
    return acknowledged


@dataclass
class LatencyResult:
    sent: list[Sent]
    measured: list[Sent]
    recorded_to_ack: list[float]  # seconds, inf when not acknowledged
    post_to_ack: list[float]
    post_response: list[float]
    acknowledged: int
    cpu: CpuUse
    db: dict[str, float]
    achieved_rate: float
    send_lateness_max: float
    health: dict | None
    problems: list[str]


def run_latency(args: argparse.Namespace, api: Api, orders: list[str], seed: dict, database_url: str,
                processes: Processes) -> LatencyResult:
    rng = random.Random(11)
    first_id = int(scalar(database_url, "SELECT coalesce(max(id), 0) FROM erp_sync_outboxmessage"))
    print(f"[A latency] warm-up {args.warmup:g} s at {args.rate:g}/s …", flush=True)
    warm = paced_load(api, orders, seed, args.rate, args.warmup, threads=args.client_threads, measured=False, rng=rng) if args.warmup > 0 else []
    print(f"[A latency] measuring {args.seconds:g} s at {args.rate:g}/s over {len(orders)} orders …", flush=True)
    cpu_before, db_before, wall_before = processes.cpu(), database_stats(database_url, args.database), time.monotonic()
    measured = paced_load(api, orders, seed, args.rate, args.seconds, threads=args.client_threads, measured=True, rng=rng)
    accepted = sum(1 for sent in warm + measured if sent.status == 201)
    print(f"[A latency] {len(measured):,} sent; waiting until all {accepted:,} are acknowledged …", flush=True)
    acknowledged_all = wait_acknowledged(database_url, first_id, accepted, args.settle_timeout, "A latency")
    cpu = CpuUse.between(cpu_before, processes.cpu(), time.monotonic() - wall_before)
    db = stats_between(db_before, database_stats(database_url, args.database))
    status, health = api.call("GET", "/api/v1/sync/health")
    times = outbox_times(database_url, [sent.client_id for sent in measured if sent.status == 201])
    recorded_to_ack, post_to_ack, acknowledged = [], [], 0
    for sent in measured:
        created, acked = times.get(sent.client_id, (None, None))
        if acked is None:
            recorded_to_ack.append(float("inf"))
            post_to_ack.append(float("inf"))
            continue
        acknowledged += 1
        recorded_to_ack.append(acked - created)
        post_to_ack.append(acked - sent.sent)
    problems = []
    failures = collections.Counter(f"HTTP {sent.status or 'transport error'}: {sent.error[:150]}" for sent in warm + measured if sent.status != 201)
    problems += [f"{count} × {key}" for key, count in failures.most_common(5)]
    if acknowledged_all < accepted:
        problems.append(f"{accepted - acknowledged_all} accepted confirmations not acknowledged after {args.settle_timeout:g} s")
    span = max(sent.sent for sent in measured) - min(sent.sent for sent in measured) if len(measured) > 1 else 0.0
    return LatencyResult(
        sent=warm + measured,
        measured=measured,
        recorded_to_ack=recorded_to_ack,
        post_to_ack=post_to_ack,
        post_response=[sent.answered - sent.sent for sent in measured if sent.status == 201],
        acknowledged=acknowledged,
        cpu=cpu,
        db=db,
        achieved_rate=(len(measured) - 1) / span if span else 0.0,
        send_lateness_max=max((sent.sent - sent.scheduled for sent in measured), default=0.0),
        health=health if status == 200 else None,
        problems=problems,
    )


# --- phase B: outage and drain ------------------------------------------------------------


@dataclass
class DrainResult:
    messages: int
    enqueue_seconds: float
    outage_health: dict | None
    delivered_during_outage: int
    back_at: float
    first_ack: float | None
    last_ack: float | None
    acknowledged: int
    timeline: list[tuple[float, int]]  # (seconds since back, acknowledged)
    states: dict[str, int]
    cpu: CpuUse
    db: dict[str, float]
    attempts: dict[str, int]
    problems: list[str]

    @property
    def complete(self) -> bool:
        return self.acknowledged == self.messages

    @property
    def drain_seconds(self) -> float:
        return (self.last_ack - self.back_at) if self.last_ack else float("inf")

    @property
    def rate(self) -> float:
        """Messages per second from the ERP's return to the last acknowledgment (0 if not all were)."""
        return self.messages / self.drain_seconds if self.complete and self.drain_seconds > 0 else 0.0

    @property
    def sending_rate(self) -> float:
        if not self.first_ack or not self.last_ack or self.last_ack <= self.first_ack:
            return 0.0
        return self.acknowledged / (self.last_ack - self.first_ack)

    def peak_rate(self, window: float = 10.0) -> float:
        best = 0.0
        for index, (at, count) in enumerate(self.timeline):
            for later_at, later_count in self.timeline[index + 1:]:
                if later_at - at >= window:
                    best = max(best, (later_count - count) / (later_at - at))
                    break
        return best


def state_counts(database_url: str, after_id: int) -> dict[str, int]:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT state, count(*) FROM erp_sync_outboxmessage WHERE id > %s GROUP BY state", (after_id,)
        ).fetchall()
    return {state: count for state, count in rows}


def run_drain(args: argparse.Namespace, api: Api, orders: list[str], seed: dict, database_url: str,
              processes: Processes, simulator, ledger_path: Path) -> DrainResult:
    first_id = int(scalar(database_url, "SELECT coalesce(max(id), 0) FROM erp_sync_outboxmessage"))
    ledger_before = ledger_count(ledger_path)
    simulator.control.set_faults(down=True)
    print(f"[B drain] ERP down; posting {args.outage_messages:,} confirmations over {len(orders)} orders "
          f"(bulk, {args.bulk_size:,} per request, {args.bulk_clients} clients) …", flush=True)
    # Each client is the gateway of its own share of the orders; every request spreads over its share.
    shares = [orders[client :: args.bulk_clients] for client in range(args.bulk_clients)]
    requests_total = -(-args.outage_messages // args.bulk_size)
    failures: collections.Counter[str] = collections.Counter()
    counter = iter(range(requests_total))
    counter_lock = threading.Lock()
    remaining = [args.outage_messages]

    def gateway(client: int) -> None:
        share = shares[client]
        position = 0
        while True:
            with counter_lock:
                if next(counter, None) is None:
                    return
                size = min(args.bulk_size, remaining[0])
                remaining[0] -= size
            records = []
            for _ in range(size):
                records.append(confirmation_record(share[position % len(share)], seed))
                position += 1
            try:
                status, body = api.call("POST", "/api/v1/confirmations/bulk", {"confirmations": records}, close=True)
            except (OSError, http.client.HTTPException) as error:
                failures[f"transport error: {error!r}"[:200]] += size
                continue
            if status != 200:
                failures[f"HTTP {status}: {json.dumps(body)[:150]}"] += size
                continue
            for result in body["results"]:
                if result["status"] != 201:
                    failures[f"item {result['status']}: {json.dumps(result)[:150]}"] += 1

    began = time.monotonic()
    threads = [threading.Thread(target=gateway, args=(client,), daemon=True) for client in range(args.bulk_clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    enqueue_seconds = time.monotonic() - began
    queued = int(scalar(database_url, "SELECT count(*) FROM erp_sync_outboxmessage WHERE id > %s", (first_id,)))
    print(f"[B drain] {queued:,} messages queued in {enqueue_seconds:.1f} s", flush=True)
    if args.outage_hold > 0:
        print(f"[B drain] holding the outage {args.outage_hold:g} s more …", flush=True)
        time.sleep(args.outage_hold)
    status, outage_health = api.call("GET", "/api/v1/sync/health")
    delivered_during_outage = ledger_count(ledger_path) - ledger_before

    cpu_before, db_before, wall_before = processes.cpu(), database_stats(database_url, args.database), time.monotonic()
    back_at = time.time()
    simulator.control.set_faults(down=False)
    print(f"[B drain] ERP back; draining {queued:,} messages (at most {args.drain_timeout:g} s) …", flush=True)
    timeline: list[tuple[float, int]] = [(0.0, 0)]
    deadline = time.monotonic() + args.drain_timeout
    last_print = time.monotonic()
    acknowledged = 0
    while time.monotonic() < deadline:
        time.sleep(1.0)
        states = state_counts(database_url, first_id)
        acknowledged = states.get("acknowledged", 0)
        timeline.append((time.time() - back_at, acknowledged))
        if time.monotonic() - last_print >= 10:
            last_print = time.monotonic()
            print(f"[B drain] {timeline[-1][0]:5.0f} s: " + ", ".join(f"{state} {count:,}" for state, count in sorted(states.items())), flush=True)
        if acknowledged >= queued or (states.get("dead", 0) and not any(states.get(s, 0) for s in ("queued", "sending", "retrying"))):
            break
    cpu = CpuUse.between(cpu_before, processes.cpu(), time.monotonic() - wall_before)
    db = stats_between(db_before, database_stats(database_url, args.database))
    states = state_counts(database_url, first_id)
    with psycopg.connect(database_url) as connection:
        first_ack, last_ack = connection.execute(
            "SELECT extract(epoch FROM min(acknowledged_at))::float8, extract(epoch FROM max(acknowledged_at))::float8"
            " FROM erp_sync_outboxmessage WHERE id > %s", (first_id,),
        ).fetchone()
        attempt_rows = connection.execute(
            "SELECT d.action || ' ' || d.outcome, count(*) FROM erp_sync_deliveryattempt d"
            " JOIN erp_sync_outboxmessage o ON o.id = d.message_id WHERE o.id > %s GROUP BY 1 ORDER BY 2 DESC", (first_id,),
        ).fetchall()
    problems = [f"{count} × {key}" for key, count in failures.most_common(5)]
    if queued != args.outage_messages:
        problems.append(f"{queued:,} messages queued, {args.outage_messages:,} posted")
    if acknowledged < queued:
        problems.append(f"only {acknowledged:,} of {queued:,} acknowledged after {args.drain_timeout:g} s (states: {states})")
    if delivered_during_outage:
        problems.append(f"the ledger grew by {delivered_during_outage} entries while the ERP was down")
    return DrainResult(
        messages=queued,
        enqueue_seconds=enqueue_seconds,
        outage_health=outage_health if status == 200 else None,
        delivered_during_outage=delivered_during_outage,
        back_at=back_at,
        first_ack=first_ack,
        last_ack=last_ack,
        acknowledged=acknowledged,
        timeline=timeline,
        states=states,
        cpu=cpu,
        db=db,
        attempts=dict(attempt_rows),
        problems=problems,
    )


# --- the ledger against the outbox ----------------------------------------------------------


def ledger_entries(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def ledger_count(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def check_ledger(database_url: str, path: Path) -> tuple[list[str], dict[str, int]]:
    """Exactly one posting per outbox message, per-order order kept, quantities equal."""
    entries = ledger_entries(path)
    with psycopg.connect(database_url) as connection:
        messages = connection.execute(
            "SELECT o.idempotency_key::text, o.partition_key, o.sequence, o.state, c.good_qty"
            " FROM erp_sync_outboxmessage o JOIN mes_confirmation c ON c.uuid = o.source_uuid"
            " ORDER BY o.partition_key, o.sequence"
        ).fetchall()
    problems: list[str] = []
    posts = [entry for entry in entries if entry.get("action") == "post"]
    others = collections.Counter(entry.get("action") for entry in entries if entry.get("action") != "post")
    if others:
        problems.append(f"ledger holds actions other than post: {dict(others)}")
    expected_keys = {key for key, *_ in messages}
    seen = collections.Counter(str(entry.get("key") or "").lower() for entry in posts)
    missing = expected_keys - set(seen)
    doubled = {key: count for key, count in seen.items() if count > 1}
    unknown = set(seen) - expected_keys
    if missing:
        problems.append(f"{len(missing)} messages not in the ERP's ledger (e.g. {sorted(missing)[:3]})")
    if doubled:
        problems.append(f"{len(doubled)} messages posted more than once (e.g. {list(doubled.items())[:3]})")
    if unknown:
        problems.append(f"{len(unknown)} ledger postings match no outbox message (e.g. {sorted(unknown)[:3]})")
    not_acknowledged = sum(1 for *_, state, _qty in messages if state != "acknowledged")
    if not_acknowledged:
        problems.append(f"{not_acknowledged} outbox messages not acknowledged")
    # Order per work order: the ledger's commit order must be the outbox sequence.
    expected_order: dict[str, list[str]] = collections.defaultdict(list)
    expected_qty: dict[str, Decimal] = collections.defaultdict(Decimal)
    for key, order, _sequence, _state, good in messages:
        expected_order[order].append(key)
        expected_qty[order] += Decimal(good)
    ledger_order: dict[str, list[str]] = collections.defaultdict(list)
    ledger_qty: dict[str, Decimal] = collections.defaultdict(Decimal)
    for entry in sorted(posts, key=lambda entry: entry["seq"]):
        ledger_order[str(entry.get("order"))].append(str(entry.get("key")).lower())
        ledger_qty[str(entry.get("order"))] += Decimal(str(entry.get("yield_qty") or 0))
    out_of_order = [order for order, keys in expected_order.items() if ledger_order.get(order) != keys]
    if out_of_order and not (missing or doubled):
        problems.append(f"{len(out_of_order)} work orders posted out of sequence (e.g. {out_of_order[:3]})")
    wrong_qty = [order for order in expected_qty if ledger_qty.get(order) != expected_qty[order]]
    if wrong_qty:
        problems.append(f"{len(wrong_qty)} work orders with other quantities in the ERP than in the MES (e.g. {wrong_qty[:3]})")
    facts = {"messages": len(messages), "ledger_postings": len(posts), "orders": len(expected_order),
             "orders_in_sequence": len(expected_order) - len(out_of_order)}
    return problems, facts


# --- report -----------------------------------------------------------------------------


def seconds_text(value: float) -> str:
    if value == float("inf"):
        return "∞"
    return f"{value * 1000:,.0f} ms" if value < 10 else f"{value:,.1f} s"


def cpu_lines(cpu: CpuUse, units: int, unit: str) -> list[str]:
    order = ["gunicorn", "celery workers", "celery beat", "simulator", "postgres (server)", "load generator"]
    parts = [f"{name} {1000 * cpu.seconds[name] / max(units, 1):.2f}" for name in order]
    busy_cores = cpu.busy_share * (os.cpu_count() or 1)
    return [
        f"    CPU ms per {unit}: " + ", ".join(parts),
        (
            f"    over {cpu.wall:.1f} s: machine {cpu.busy_share:.0%} busy ({busy_cores:.2f} of {os.cpu_count()} cores); "
            f"celery workers {cpu.seconds['celery workers'] / max(cpu.wall, 1e-9):.2f} cores, "
            f"everything else on the machine {cpu.others / max(cpu.wall, 1e-9):.2f} cores"
        ),
    ]


def report(args: argparse.Namespace, info: dict[str, str], started: datetime.datetime, busy_before: float,
           latency: LatencyResult | None, drain: DrainResult | None, ledger: tuple[list[str], dict[str, int]] | None,
           log_errors: list[str], worker_warnings: list[str], host_line: str = "") -> bool:
    print()
    print(f"ERP sync benchmark, {started:%Y-%m-%d %H:%M} UTC, revision {info['revision']}")
    print(f"machine: nproc {info['nproc']}, {info['cpu']}, {info['memory']} RAM; Python {info['python']}, "
          f"Django {info['django']}, gunicorn {info['gunicorn']}, Celery {info['celery']}, Redis {info['redis']}, "
          f"PostgreSQL {info['postgresql']} (synchronous_commit={info['synchronous_commit']})")
    print(f"set-up: gunicorn {args.workers} × {args.worker_class} ({args.threads} threads); "
          f"{args.celery_workers} Celery worker(s) -Q erp --concurrency {args.concurrency} (prefork) + 1 beat "
          f"(sweep every {args.sweep_seconds:g} s); broker {args.redis_url}; SAP simulator, latency {args.latency_ms:g} ms per request; "
          f"{args.orders} released orders; all on 127.0.0.1")
    print(f"other load: machine {busy_before:.0%} busy just before the run (bench idle)")
    if host_line:
        print(host_line)
    passed = True
    if latency is not None:
        print()
        print(f"A  latency at {args.rate:g} confirmations/s for {args.seconds:g} s (after {args.warmup:g} s warm-up), "
              f"POST /api/v1/confirmations, {args.client_threads} open-loop client threads")
        print(f"    sent {len(latency.measured):,} (achieved {latency.achieved_rate:.1f}/s, latest send {latency.send_lateness_max * 1000:.0f} ms "
              f"behind schedule); 201: {sum(1 for s in latency.measured if s.status == 201):,}; "
              f"acknowledged by the ERP: {latency.acknowledged:,}")
        print(f"    {'':<40}{'p50':>10}{'p95':>10}{'p99':>10}{'max':>10}")
        for label, values in (
            ("recorded → acknowledged (database)", latency.recorded_to_ack),
            ("POST sent → acknowledged (client)", latency.post_to_ack),
            ("POST answered (HTTP response time)", latency.post_response),
        ):
            print(f"    {label:<40}" + "".join(f"{seconds_text(percentile(values, q)):>10}" for q in (0.50, 0.95, 0.99)) + f"{seconds_text(max(values, default=float('nan'))):>10}")
        if latency.health:
            print(f"    GET /api/v1/sync/health afterwards: latency_ms {latency.health.get('latency_ms')}, "
                  f"sent_last_hour {latency.health.get('sent_last_hour')}, pending {latency.health.get('pending')}")
        units = max(len(latency.measured), 1)
        lines = cpu_lines(latency.cpu, units, "confirmation")
        lines[-1] += (f"; PostgreSQL {latency.db['commits'] / units:.1f} commits, {latency.db['sessions'] / units:.2f} new sessions, "
                      f"{latency.db['active_ms'] / units:.1f} ms statement time per confirmation")
        print("\n".join(lines))
        for problem in latency.problems:
            print(f"    PROBLEM: {problem}")
    if drain is not None:
        print()
        print(f"B  outage drain: {drain.messages:,} messages over {args.orders} orders queued while the ERP was down "
              f"(POST /api/v1/confirmations/bulk, {args.bulk_size:,} per request, {args.bulk_clients} clients: {drain.enqueue_seconds:.1f} s, "
              f"{drain.messages / max(drain.enqueue_seconds, 1e-9):,.0f}/s)")
        if drain.outage_health:
            health = drain.outage_health
            print(f"    during the outage: sync/health pending {health.get('pending'):,}, retrying {health.get('retrying')}, "
                  f"oldest_pending_seconds {health.get('oldest_pending_seconds')}, alert {health.get('alert', {}).get('active')}; "
                  f"ledger entries added while down: {drain.delivered_during_outage}")
        first = (drain.first_ack - drain.back_at) if drain.first_ack else float("nan")
        print(f"    ERP back → first acknowledgment {first:.1f} s → last {drain.drain_seconds:.1f} s; "
              f"acknowledged {drain.acknowledged:,} of {drain.messages:,}; states {drain.states}")
        print(f"    drain rate (ERP back → last acknowledgment): {drain.rate:,.0f} messages/s; "
              f"first → last acknowledgment: {drain.sending_rate:,.0f}/s; best 10 s: {drain.peak_rate():,.0f}/s")
        print("    delivery attempts: " + ", ".join(f"{key} {count:,}" for key, count in drain.attempts.items()))
        units = max(drain.acknowledged, 1)
        lines = cpu_lines(drain.cpu, units, "message")
        lines[-1] += (f"; PostgreSQL {drain.db['commits'] / units:.1f} commits, {drain.db['sessions'] / units:.2f} new sessions, "
                      f"{drain.db['active_ms'] / units:.1f} ms statement time per message")
        print("\n".join(lines))
        for problem in drain.problems:
            print(f"    PROBLEM: {problem}")
    correct = True
    print()
    if ledger is not None:
        problems, facts = ledger
        if problems:
            correct = False
            print("CORRECTNESS FAIL, simulator ledger against the outbox:")
            for problem in problems:
                print(f"  - {problem}")
        else:
            print(f"correct: the ERP's ledger holds exactly one posting per outbox message ({facts['ledger_postings']:,} postings = "
                  f"{facts['messages']:,} messages, all acknowledged), each of the {facts['orders']} orders in sequence, quantities equal")
    for phase in (latency, drain):
        if phase is not None and phase.problems:
            correct = False
    if log_errors:
        print(f"ERRORS in the logs of gunicorn, the Celery worker and beat ({len(log_errors)} lines):")
        for line in log_summary(log_errors)[:8]:
            print(f"  - {line}")
    if worker_warnings:
        print(f"warnings in the Celery worker logs ({len(worker_warnings)} lines):")
        for line in log_summary(worker_warnings)[:8]:
            print(f"  - {line}")
    print()
    passed = correct and not log_errors
    if latency is not None:
        p99 = percentile(latency.post_to_ack, 0.99)
        p99_db = percentile(latency.recorded_to_ack, 0.99)
        # The target is at the stated rate: a run whose client could not keep it up does not count.
        sustained = latency.achieved_rate >= 0.95 * args.rate
        ok = p99 <= TARGET_P99_SECONDS and p99_db <= TARGET_P99_SECONDS and sustained
        passed &= ok
        print(f"target  confirmation → ERP acknowledgment p99 ≤ {TARGET_P99_SECONDS:g} s at {args.rate:g}/s: "
              f"{seconds_text(p99)} from the POST, {seconds_text(p99_db)} from the outbox row"
              + ("" if sustained else f" (and only {latency.achieved_rate:.1f}/s were sent: the API fell behind)")
              + f"  {verdict(ok)}")
    if drain is not None:
        ok = drain.rate >= TARGET_DRAIN_PER_SECOND
        passed &= ok
        print(f"target  drain after an outage ≥ {TARGET_DRAIN_PER_SECOND:g} messages/s ({drain.messages:,} over {args.orders} orders): "
              f"{drain.rate:,.0f}/s  {verdict(ok)}")
    print(f"overall: {verdict(passed)}" + ("" if correct else " (correctness)") + (" (errors in the logs)" if log_errors else ""))
    return passed


# --- main -------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="measured seconds of phase A (default 60)")
    parser.add_argument("--rate", type=float, default=100.0, help="confirmations per second in phase A (default 100)")
    parser.add_argument("--warmup", type=float, default=5.0, help="unmeasured seconds at the rate before phase A (default 5)")
    parser.add_argument("--client-threads", type=int, default=64, help="open-loop sender threads in phase A (default 64)")
    parser.add_argument("--settle-timeout", type=float, default=120.0, help="seconds to wait for phase A's last acknowledgments (default 120)")
    parser.add_argument("--outage-messages", type=int, default=50_000, help="confirmations queued during the outage (default 50000)")
    parser.add_argument("--bulk-size", type=int, default=1000, help="confirmations per bulk request (default 1000)")
    parser.add_argument("--bulk-clients", type=int, default=2, help="concurrent bulk clients (default 2)")
    parser.add_argument("--outage-hold", type=float, default=0.0, help="seconds to keep the ERP down after queueing (default 0)")
    parser.add_argument("--drain-timeout", type=float, default=900.0, help="seconds to wait for the drain (default 900)")
    parser.add_argument("--orders", type=int, default=500, help="released work orders (default 500)")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="simulator latency per request (default 50)")
    parser.add_argument("--celery-workers", type=int, default=1, help="celery worker commands to start (default 1)")
    parser.add_argument("--concurrency", type=int, default=2, help="pool processes per celery worker (default 2)")
    parser.add_argument("--sweep-seconds", type=float, default=2.0, help="ERP_SYNC_SWEEP_SECONDS for beat (default 2, the product's)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--worker-class", default="gthread", choices=["sync", "gthread"], help="gunicorn worker class (default gthread)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker (default 4)")
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432", help="PostgreSQL server URL, without database")
    parser.add_argument("--database", default="mes_bench_sync", help="database to create and drop (default mes_bench_sync)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11", help="the bench's own Redis database, flushed at start and end")
    parser.add_argument("--phases", default="latency,drain", help="comma-separated subset of latency,drain")
    parser.add_argument("--profile", metavar="DIR", help="record the Celery workers with py-spy into DIR during each phase")
    parser.add_argument("--quiet-wait", type=float, default=60.0, help="seconds to wait for other jobs to quieten down (default 60)")
    parser.add_argument("--quiet-below", type=float, default=0.25, help="machine busy share counted as quiet (default 0.25)")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    args = parser.parse_args()
    args.phase_set = {name.strip() for name in args.phases.split(",") if name.strip()}
    unknown = args.phase_set - {"latency", "drain"}
    if unknown:
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    if not args.redis_url.startswith(("redis://127.0.0.1", "redis://localhost")):
        parser.error("--redis-url must be on loopback")
    return args


def profiler_start(args: argparse.Namespace, processes: Processes, label: str) -> list[subprocess.Popen]:
    """py-spy on each Celery worker and its pool processes, on-CPU Python only, until stopped."""
    if not args.profile:
        return []
    Path(args.profile).mkdir(parents=True, exist_ok=True)
    profilers = []
    for worker in processes.workers:
        output = Path(args.profile) / f"{label}-{worker.label}.txt"
        command = [str(Path(PYTHON).parent / "py-spy"), "record", "--pid", str(worker.process.pid), "--subprocesses",
                   "--rate", "100", "--format", "raw", "--output", str(output), "--nonblocking", "--gil"]
        print(f"    profiling {worker.label} into {output}", flush=True)
        profilers.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return profilers


def profiler_stop(profilers: list[subprocess.Popen]) -> None:
    for profiler in profilers:
        if profiler.poll() is None:
            profiler.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
    for profiler in profilers:
        try:
            profiler.wait(timeout=30)
        except subprocess.TimeoutExpired:
            profiler.kill()
            profiler.wait(timeout=5)


def _stop_on_signal(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    args = parse_args()
    # Ctrl-C or a kill still stops everything and drops the database (the finally below).
    signal.signal(signal.SIGINT, _stop_on_signal)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    database_url = f"{args.server}/{args.database}"
    log_dir = Path(tempfile.mkdtemp(prefix="mes-bench-sync-"))
    var_dir = log_dir / "var"
    var_dir.mkdir()
    ledger_path = log_dir / "erp-ledger.jsonl"
    started = datetime.datetime.now(datetime.UTC)
    processes = Processes(postmaster=postmaster_pid())
    simulator = None
    profilers: list[subprocess.Popen] = []
    latency = drain = None
    ledger = None
    log_errors: list[str] = []
    worker_warnings: list[str] = []
    keep_logs = True
    try:
        stale = redis_flush(args.redis_url)
        if stale:
            print(f"[setup] flushed {stale} stale keys from {args.redis_url}", flush=True)
        print(f"[setup] database {args.database}: create, migrate, seed {args.orders} orders …", flush=True)
        database_create(args.server, args.database)
        env = sync_env(args, database_url, var_dir)
        manage(env, "migrate", "--noinput", "-v", "0")
        seeded = subprocess.run([PYTHON, "-m", "bench.setup_data", "--orders", str(args.orders)],
                                cwd=ROOT, env=env, check=True, capture_output=True, text=True)
        seed = json.loads(seeded.stdout.strip().splitlines()[-1])
        orders: list[str] = seed["work_orders"]
        info = machine_info(database_url)
        import celery

        info["celery"] = celery.__version__
        server_info = redis.Redis.from_url(args.redis_url).info("server")
        info["redis"] = str(server_info.get("redis_version"))

        from simulators.erp.client import start_simulator

        simulator = start_simulator("sap", ledger_path=ledger_path, env=env)
        processes.simulator_pid = simulator.process.pid
        simulator.control.set_faults(latency_ms=args.latency_ms)
        credentials = simulator.credentials
        manage(env, "erp_connection", "add", SAP_CONNECTION, "--kind", "sap", "--url", simulator.service_url,
               "--user", credentials["user"], "--password", credentials["password"], "--default", capture=True)
        for index in range(args.celery_workers):
            processes.workers.append(celery_worker_start(args, env, log_dir, index))
        processes.beat = celery_beat_start(env, log_dir, var_dir)
        processes.web = gunicorn_start(args, env, log_dir, "mes")
        api = Api(processes.web.port, seed["token"])
        print(f"[setup] simulator on 127.0.0.1:{simulator.port} (control {simulator.control_port}), gunicorn on "
              f"127.0.0.1:{processes.web.port}, {args.celery_workers} Celery worker(s) + beat; logs in {log_dir}", flush=True)

        # Ready when one confirmation travels the whole way: API → outbox → kick → worker → ERP.
        first_id = int(scalar(database_url, "SELECT coalesce(max(id), 0) FROM erp_sync_outboxmessage"))
        status, body = api.call("POST", "/api/v1/confirmations", confirmation_record(orders[0], seed))
        if status != 201:
            raise RuntimeError(f"the first confirmation was refused: {status} {body}")
        if wait_acknowledged(database_url, first_id, 1, 60, "setup") < 1:
            raise RuntimeError(f"the first confirmation did not reach the simulated ERP within 60 s; logs in {log_dir}")
        busy_before = wait_for_quiet(args)
        host = HostWatch()

        if "latency" in args.phase_set:
            profilers = profiler_start(args, processes, "latency")
            latency = run_latency(args, api, orders, seed, database_url, processes)
            profiler_stop(profilers)
        if "drain" in args.phase_set:
            profilers = profiler_start(args, processes, "drain")
            drain = run_drain(args, api, orders, seed, database_url, processes, simulator, ledger_path)
            profiler_stop(profilers)
        print("[check] the ERP's ledger against the outbox …", flush=True)
        ledger = check_ledger(database_url, ledger_path)
        host_line = host.summary()
        log_errors = [line for worker in [*processes.workers, processes.beat] for line in worker.error_lines()]
        log_errors += processes.web.error_lines()
        worker_warnings = [line for worker in processes.workers for line in worker.warning_lines()]
        keep_logs = bool(log_errors or worker_warnings)
    finally:
        # Cleanup runs to the end: a second Ctrl-C must not leave processes or the database behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        profiler_stop(profilers)
        gunicorn_stop(processes.web)
        for background in [processes.beat, *processes.workers]:
            if background is not None:
                background.stop()
        if simulator is not None:
            simulator.stop()
        try:
            redis_flush(args.redis_url)
        except (redis.RedisError, OSError) as error:  # the bench must still drop its database
            print(f"[cleanup] could not flush {args.redis_url}: {error}", file=sys.stderr)
        if not args.keep_db:
            try:
                database_drop(args.server, args.database)
            except psycopg.Error as error:
                print(f"[cleanup] could not drop {args.database}: {error}", file=sys.stderr)
        shutil.rmtree(var_dir, ignore_errors=True)
        if keep_logs:
            print(f"[cleanup] logs kept in {log_dir}", file=sys.stderr)
        else:
            shutil.rmtree(log_dir, ignore_errors=True)

    return 0 if report(args, info, started, busy_before, latency, drain, ledger, log_errors, worker_warnings, host_line) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: everything stopped, database dropped", file=sys.stderr)
        sys.exit(130)
