"""Ingest benchmark: confirmations per second through the real stack, against a same-run baseline.

    .venv/bin/python bench/ingest.py [--seconds 20] [--clients 8]

What it does, on loopback only, stopping by itself:

1. Creates a fresh PostgreSQL database (default ``mes_bench`` on 127.0.0.1:5432, user
   postgres), migrates it, and seeds it through the product's services
   (``bench/setup_data.py``): 200 released work orders of 1,000,000 pieces with three
   operations each, an operator, and an operator-role API token.
2. Starts two gunicorn servers on the same database, each with 2 workers of the gthread
   class (4 threads each, keep-alive): the product (``mes.wsgi``), and the baseline — the same
   settings with ``bench/baseline_urls.py``, a bare Django view that inserts one row and one
   outbox row in one transaction. Both get ``CELERY_BROKER_URL=memory://`` (``--broker-url``)
   and a private ``MES_VAR_DIR``, so the bench touches no shared broker and nothing in var/.
3. Phase A (baseline, ``POST /baseline``) and phase B (``POST /api/v1/confirmations``, each a
   fresh ``client_id``, good_qty 1, spread over the orders), 8 clients each, after a warm-up.
   The measured seconds are cut into ``--rounds`` slices that alternate A, B, A, B …, so
   a burst of other work on the machine hits both sides of the ratio alike.
   Phase D, in the same alternation: the same confirmations on orders whose operation 10
   backflushes three components (two untracked, one from a big lot the report names), each
   report writing its three movements, the lot's and components' totals and a goods issue.
4. Phase C: ``POST /api/v1/confirmations/bulk`` with batches of 1,000 (2 clients).
5. Checks the database against what the clients saw (rows = successes, one outbox message
   per confirmation, gap-free outbox sequences, operation totals), prints throughput,
   p50/p99, where the CPU went, and the targets with PASS/FAIL; stops gunicorn and drops
   the database (``--keep-db`` keeps it). Exit status 0 only if every target passes.

Each client is a thread with its own ``http.client`` connection; a closed-loop client sends
its next request when the previous one is answered. The load generator shares the CPUs
with gunicorn and PostgreSQL (and with anything else running), so the figures are a floor.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

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
    postgres_backends,
    process_cpu_seconds,
    scalar,
    verdict,
    wait_for_quiet,
)

# Targets: the throughput and latency a plant at full speed needs.
TARGET_RATIO = 0.50
TARGET_P99_MS = 50.0
TARGET_BULK_PER_SECOND = 3000.0
TARGET_BACKFLUSH_RATIO = 0.50  # issue 12: confirmations that backflush 3 components, of the same baseline


# --- processes --------------------------------------------------------------------------


def django_env(args: argparse.Namespace, database_url: str, settings_module: str, var_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        MES_VAR_DIR=str(var_dir),  # a private var/, so nothing lands in the developer's
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE=settings_module,
        PYTHONPATH=str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""),
        DEBUG="0",
        LOG_LEVEL="WARNING",
        # Fixed, so the bench never writes var/secret_key; sessions are not used here.
        SECRET_KEY=env.get("SECRET_KEY") or "bench-" + "x" * 50,
    )
    # The ERP-sync kick after each commit goes to this broker. memory:// keeps the bench to
    # itself (no shared Redis or RabbitMQ fills with kicks nobody consumes) and still pays
    # the kombu publish in the request.
    env.pop("REDIS_URL", None)
    env["CELERY_BROKER_URL"] = args.broker_url
    return env



def profiler_start(args: argparse.Namespace, server: Server, label: str, seconds: float) -> subprocess.Popen | None:
    """py-spy on a gunicorn master and its workers (``--profile DIR``): on-CPU Python time only (``--gil``)."""
    if not args.profile:
        return None
    Path(args.profile).mkdir(parents=True, exist_ok=True)
    extension = {"raw": "txt", "flamegraph": "svg", "speedscope": "json"}[args.profile_format]
    output = Path(args.profile) / f"{label}.{extension}"
    command = [
        str(Path(PYTHON).parent / "py-spy"), "record", "--pid", str(server.process.pid), "--subprocesses",
        "--duration", str(max(1, round(seconds))), "--rate", "200", "--format", args.profile_format,
        "--output", str(output), "--nonblocking", "--gil",
    ]
    print(f"    profiling {label} into {output}", flush=True)
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# --- load -------------------------------------------------------------------------------


@dataclass
class Sample:
    status: int  # HTTP status, 0 for a transport error
    seconds: float
    items_ok: int = 0  # bulk: items answered 201
    items_bad: int = 0  # bulk: items answered anything else
    error: str = ""


@dataclass
class Run:
    samples: list[Sample] = field(default_factory=list)
    elapsed: float = 0.0

    def add(self, other: Run) -> None:
        self.samples += other.samples
        self.elapsed += other.elapsed


RequestMaker = Callable[[int, int], tuple[str, str, bytes]]  # (client, n) -> (method, path, body)


@dataclass
class Load:
    """One kind of request against one server."""

    server: Server
    clients: int
    make: RequestMaker
    headers: dict[str, str]
    ok_status: int
    bulk: bool = False


def drive(load: Load, seconds: float) -> Run:
    """Closed-loop load: ``load.clients`` threads, each on its own connection, until the deadline.

    Connections are kept alive unless the headers ask for ``Connection: close``.
    """
    per_client: list[list[Sample]] = [[] for _ in range(load.clients)]
    start_barrier = threading.Barrier(load.clients + 1)
    timing: dict[str, float] = {}
    counters = [0] * load.clients

    def client(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", load.server.port, timeout=60)
        samples = per_client[index]
        start_barrier.wait()
        deadline = timing["deadline"]
        while time.perf_counter() < deadline:
            method, path, body = load.make(index, counters[index])
            counters[index] += 1
            began = time.perf_counter()
            try:
                connection.request(method, path, body=body, headers=load.headers)
                response = connection.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as error:
                samples.append(Sample(0, time.perf_counter() - began, error=repr(error)))
                connection.close()
                continue
            sample = Sample(response.status, time.perf_counter() - began)
            if load.bulk and response.status == 200:
                for result in json.loads(data)["results"]:
                    if result["status"] == 201:
                        sample.items_ok += 1
                    else:
                        sample.items_bad += 1
                        sample.error = sample.error or json.dumps(result)[:300]
            elif response.status != load.ok_status:
                sample.error = data[:300].decode(errors="replace")
            samples.append(sample)
            if response.will_close:
                connection.close()  # http.client reconnects on the next request
        connection.close()

    threads = [threading.Thread(target=client, args=(index,), daemon=True) for index in range(load.clients)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    timing["deadline"] = began + seconds
    start_barrier.wait()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    run = Run(elapsed=time.perf_counter() - began)
    for samples in per_client:
        run.samples.extend(samples)
    return run


# --- where the CPU went -----------------------------------------------------------------
# Besides throughput, each phase records the CPU seconds per request of the gunicorn workers
# and of the PostgreSQL backends on the bench database: the figures least moved by whatever
# else runs on the machine.


@dataclass
class CpuSnapshot:
    workers: dict[int, float]
    backends: dict[int, float]
    machine: tuple[int, int]
    driver: float
    wall: float


def cpu_snapshot(server: Server, database_url: str, database: str) -> CpuSnapshot:
    times = os.times()
    return CpuSnapshot(
        workers={pid: process_cpu_seconds(pid) for pid in child_pids(server.process.pid)},
        backends={pid: process_cpu_seconds(pid) for pid in postgres_backends(database_url, database)},
        machine=machine_ticks(),
        driver=times.user + times.system,
        wall=time.monotonic(),
    )


@dataclass
class CpuUse:
    workers: dict[int, float] = field(default_factory=dict)  # CPU seconds per gunicorn worker
    postgres_seconds: float = 0.0
    driver_seconds: float = 0.0
    machine_busy_ticks: int = 0
    machine_total_ticks: int = 0
    wall: float = 0.0

    def add(self, before: CpuSnapshot, after: CpuSnapshot) -> None:
        for pid, seconds in after.workers.items():
            self.workers[pid] = self.workers.get(pid, 0.0) + seconds - before.workers.get(pid, 0.0)
        self.postgres_seconds += sum(seconds - before.backends.get(pid, 0.0) for pid, seconds in after.backends.items())
        self.driver_seconds += after.driver - before.driver
        self.machine_busy_ticks += after.machine[0] - before.machine[0]
        self.machine_total_ticks += after.machine[1] - before.machine[1]
        self.wall += after.wall - before.wall

    @property
    def server_seconds(self) -> float:
        return sum(self.workers.values())

    @property
    def worker_split(self) -> str:
        total = self.server_seconds or 1.0
        return "/".join(f"{used / total:.0%}" for used in sorted(self.workers.values(), reverse=True))

    @property
    def machine_busy(self) -> float:
        return self.machine_busy_ticks / max(self.machine_total_ticks, 1)

    @property
    def others_seconds(self) -> float:
        """CPU the rest of the machine used meanwhile (other jobs, the kernel, the idle server)."""
        ours = self.server_seconds + self.postgres_seconds + self.driver_seconds
        return max(self.machine_busy_ticks / CLOCK_TICKS - ours, 0.0)


@dataclass
class Phase:
    key: str
    label: str
    load: Load
    warmup: Run = field(default_factory=Run)
    run: Run = field(default_factory=Run)
    cpu: CpuUse = field(default_factory=CpuUse)
    problems: list[str] = field(default_factory=list)
    slices: list[Run] = field(default_factory=list)  # each measured slice, to tell a slow minute from a slow product

    def measure(self, seconds: float, database_url: str, database: str) -> None:
        before = cpu_snapshot(self.load.server, database_url, database)
        run = drive(self.load, seconds)
        after = cpu_snapshot(self.load.server, database_url, database)
        self.run.add(run)
        self.slices.append(run)
        self.cpu.add(before, after)

    def successes(self) -> int:
        """Everything the server accepted, warm-up included (what the database must hold)."""
        return sum(_successes(run, self.load) for run in (self.warmup, self.run))

    @property
    def units(self) -> int:
        return _successes(self.run, self.load)

    @property
    def per_second(self) -> float:
        return self.units / self.run.elapsed if self.run.elapsed else 0.0

    def latency_ms(self, fraction: float) -> float:
        return percentile([sample.seconds * 1000 for sample in self.run.samples], fraction)

    def failures(self) -> list[str]:
        counted: dict[str, int] = {}
        for sample in self.warmup.samples + self.run.samples:
            if sample.status != self.load.ok_status or sample.items_bad:
                key = f"HTTP {sample.status or 'transport error'}: {sample.error[:200]}"
                counted[key] = counted.get(key, 0) + 1
        return [f"{count} × {key}" for key, count in sorted(counted.items(), key=lambda item: -item[1])[:5]]


def _successes(run: Run, load: Load) -> int:
    if load.bulk:
        return sum(sample.items_ok for sample in run.samples)
    return sum(1 for sample in run.samples if sample.status == load.ok_status)



# --- checks -----------------------------------------------------------------------------


def check_baseline(database_url: str, expected: int) -> list[str]:
    problems = []
    rows = scalar(database_url, "SELECT count(*) FROM bench_baseline_row")
    outbox = scalar(database_url, "SELECT count(*) FROM erp_sync_outboxmessage WHERE partition_key LIKE 'bench-%%'")
    if rows != expected:
        problems.append(f"baseline rows {rows} != successes {expected}")
    if outbox != expected:
        problems.append(f"baseline outbox rows {outbox} != successes {expected}")
    return problems


def check_confirmations(database_url: str, expected_total: int, operation: int) -> list[str]:
    """Rows = successes; one outbox message each, gap-free per order; totals = sum of confirmations."""
    problems = []
    confirmations = scalar(
        database_url,
        "SELECT count(*) FROM mes_confirmation c JOIN mes_workorder o ON o.id = c.work_order_id WHERE o.number LIKE 'BENCH-%%'",
    )
    messages = scalar(database_url, "SELECT count(*) FROM erp_sync_outboxmessage WHERE partition_key LIKE 'BENCH-%%'")
    good_total = scalar(
        database_url,
        "SELECT coalesce(sum(op.good_qty), 0) FROM mes_workorderoperation op JOIN mes_workorder o ON o.id = op.work_order_id"
        " WHERE op.sequence = %s AND o.number LIKE 'BENCH-%%'",
        (operation,),
    )
    gapped = scalar(
        database_url,
        "SELECT count(*) FROM (SELECT partition_key FROM erp_sync_outboxmessage WHERE partition_key LIKE 'BENCH-%%'"
        " GROUP BY partition_key HAVING max(sequence) <> count(*) OR min(sequence) <> 1) AS gapped",
    )
    if confirmations != expected_total:
        problems.append(f"confirmation rows {confirmations} != successes {expected_total}")
    if messages != expected_total:
        problems.append(f"outbox messages {messages} != successes {expected_total}")
    if int(good_total) != expected_total:
        problems.append(f"operation good_qty total {good_total} != successes {expected_total}")
    if gapped:
        problems.append(f"{gapped} work orders have gaps in their outbox sequence")
    return problems


def check_backflush(database_url: str, expected: int) -> list[str]:
    """Each backflushing confirmation: two messages (its own, a goods issue), three movements, and the
    lots and components holding what the movements took."""
    problems = []
    where = "JOIN mes_workorder o ON o.id = {alias}.work_order_id WHERE o.number LIKE 'BENCHBF-%%'"
    confirmations = scalar(database_url, "SELECT count(*) FROM mes_confirmation c " + where.format(alias="c"))
    movements = scalar(database_url, "SELECT count(*) FROM mes_materialmovement m " + where.format(alias="m"))
    messages = scalar(database_url, "SELECT count(*) FROM erp_sync_outboxmessage WHERE partition_key LIKE 'BENCHBF-%%'")
    component_total = scalar(database_url, "SELECT coalesce(sum(w.issued_qty), 0) FROM mes_workordercomponent w " + where.format(alias="w"))
    lot_total = scalar(database_url, "SELECT coalesce(sum(issued_qty), 0) FROM mes_lot WHERE code LIKE 'RESIN-BENCHBF-%%'")
    if confirmations != expected:
        problems.append(f"backflush confirmation rows {confirmations} != successes {expected}")
    if movements != 3 * expected:
        problems.append(f"movements {movements} != 3 × successes {expected}")
    if messages != 2 * expected:
        problems.append(f"outbox messages {messages} != 2 × successes {expected}")
    if float(component_total) != expected * (0.25 + 4 + 2) or float(lot_total) != expected * 0.25:
        problems.append(f"issued totals: components {component_total}, resin lots {lot_total} for {expected} reports")
    return problems


# --- report -----------------------------------------------------------------------------



def report(args: argparse.Namespace, info: dict[str, str], started: datetime.datetime, phases: list[Phase],
           busy_before: float, server_errors: list[str], host_line: str) -> bool:
    by_key = {phase.key: phase for phase in phases}
    server_kind = f"{args.workers} workers, {args.worker_class}" + (f" × {args.threads} threads" if args.worker_class == "gthread" else "")
    print()
    print(f"Ingest benchmark, {started:%Y-%m-%d %H:%M} UTC, revision {info['revision']}")
    print(f"machine: nproc {info['nproc']}, {info['cpu']}, {info['memory']} RAM; Python {info['python']}, "
          f"Django {info['django']}, gunicorn {info['gunicorn']}, PostgreSQL {info['postgresql']} "
          f"(synchronous_commit={info['synchronous_commit']})")
    print(f"server: gunicorn {server_kind}, 127.0.0.1; load: closed-loop clients on the same machine; "
          f"{args.warmup:g} s warm-up + {args.seconds:g} s per phase (A/B alternating in {args.rounds} rounds)")
    print(f"Celery broker: {args.broker_url}; "
          f"other load: machine {busy_before:.0%} busy just before the run (bench idle)")
    print(host_line)
    print()
    print(f"{'phase':<36}{'requests':>9}{'ok':>9}{'per second':>12}{'p50 ms':>9}{'p99 ms':>9}")
    for phase in phases:
        print(f"{phase.label:<36}{len(phase.run.samples):>9}{sum(1 for s in phase.run.samples if s.status == phase.load.ok_status):>9}"
              f"{phase.per_second:>12.1f}{phase.latency_ms(0.50):>9.1f}{phase.latency_ms(0.99):>9.1f}")
    if "bulk" in by_key:
        bulk = by_key["bulk"]
        print(f"  (bulk: 'per second' is confirmations/s, {bulk.units} confirmations; latency is per 1,000-item request)")
    sliced = [phase for phase in phases if len(phase.slices) > 1]
    if sliced:
        print("by slice, in the order run (requests/s, p99 ms): a tail from one slow slice is the machine's, one in every slice the product's")
        for phase in sliced:
            cells = [
                f"{sum(1 for s in run.samples if s.status == phase.load.ok_status) / max(run.elapsed, 1e-9):.0f}/s "
                f"{percentile([s.seconds * 1000 for s in run.samples], 0.99):.1f}"
                for run in phase.slices
            ]
            print(f"  {phase.label:<34}" + "  ".join(f"{cell:>14}" for cell in cells))
    print()
    print(f"{'where the CPU went':<36}{'gunicorn':>9}{'postgres':>9}{'workers':>12}{'loadgen':>9}{'others':>9}{'machine':>9}")
    print(f"{'':<36}{'ms/unit':>9}{'ms/unit':>9}{'split':>12}{'CPU %':>9}{'CPU %':>9}{'busy %':>9}")
    for phase in phases:
        cpu, units, wall = phase.cpu, max(phase.units, 1), max(phase.cpu.wall, 1e-9)
        print(f"{phase.label:<36}{1000 * cpu.server_seconds / units:>9.2f}{1000 * cpu.postgres_seconds / units:>9.2f}"
              f"{cpu.worker_split:>12}{100 * cpu.driver_seconds / wall:>9.0f}{100 * cpu.others_seconds / wall:>9.0f}"
              f"{100 * cpu.machine_busy:>9.0f}")
    print("  (unit: a request; for bulk, a confirmation. CPU % is of one CPU: loadgen = this script, others = everything")
    print("   else on the machine meanwhile; machine busy % is of all CPUs)")
    print()
    correct = True
    for phase in phases:
        problems = phase.failures() + phase.problems
        if problems:
            correct = False
            print(f"CORRECTNESS FAIL, {phase.label}:")
            for problem in problems:
                print(f"  - {problem}")
        else:
            print(f"correct, {phase.label}: every response {phase.load.ok_status}"
                  + (" with every item 201" if phase.load.bulk else "")
                  + f", database rows = {phase.successes()} successes (warm-up included)")
    if server_errors:
        correct = False
        print(f"CORRECTNESS FAIL: {len(server_errors)} error lines in the gunicorn logs, first: {server_errors[0][:200]}")
    print()
    passed = correct
    if "baseline" in by_key and "single" in by_key:
        baseline, single = by_key["baseline"], by_key["single"]
        ratio = single.per_second / baseline.per_second if baseline.per_second else 0.0
        passed &= ratio >= TARGET_RATIO
        print(f"target  confirmation throughput ≥ {TARGET_RATIO:.0%} of baseline: {ratio:.1%} "
              f"({single.per_second:.1f} / {baseline.per_second:.1f} req/s)  {verdict(ratio >= TARGET_RATIO)}")
    if "baseline" in by_key and "backflush" in by_key:
        baseline, backflush = by_key["baseline"], by_key["backflush"]
        ratio = backflush.per_second / baseline.per_second if baseline.per_second else 0.0
        passed &= ratio >= TARGET_BACKFLUSH_RATIO
        print(f"target  backflushing confirmations (3 components) ≥ {TARGET_BACKFLUSH_RATIO:.0%} of baseline: {ratio:.1%} "
              f"({backflush.per_second:.1f} / {baseline.per_second:.1f} req/s)  {verdict(ratio >= TARGET_BACKFLUSH_RATIO)}")
    if "single" in by_key:
        p99 = by_key["single"].latency_ms(0.99)
        passed &= p99 <= TARGET_P99_MS
        print(f"target  confirmation p99 ≤ {TARGET_P99_MS:g} ms: {p99:.1f} ms  {verdict(p99 <= TARGET_P99_MS)}")
    if "bulk" in by_key:
        rate = by_key["bulk"].per_second
        passed &= rate >= TARGET_BULK_PER_SECOND
        print(f"target  bulk ≥ {TARGET_BULK_PER_SECOND:,.0f} confirmations/s: {rate:,.0f}/s  {verdict(rate >= TARGET_BULK_PER_SECOND)}")
    print(f"overall: {verdict(passed)}" + ("" if correct else " (correctness)"))
    return passed


# --- main -------------------------------------------------------------------------------


def confirmation_record(work_order: str, seed: dict) -> dict:
    return {
        "client_id": str(uuid.uuid4()),
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


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per phase (default 20)")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured warm-up seconds per phase (default 3)")
    parser.add_argument("--rounds", type=int, default=4, help="alternating A/B slices the measured seconds are cut into (default 4)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients for phases A and B (default 8)")
    parser.add_argument("--bulk-clients", type=int, default=2, help="concurrent clients for phase C (default 2)")
    parser.add_argument("--bulk-size", type=int, default=1000, help="confirmations per bulk request (default 1000)")
    parser.add_argument("--orders", type=int, default=200, help="released work orders to seed (default 200)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server (default 2)")
    parser.add_argument("--worker-class", default="gthread", choices=["sync", "gthread"], help="gunicorn worker class (default gthread)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker (default 4)")
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432", help="PostgreSQL server URL, without database")
    parser.add_argument("--database", default="mes_bench", help="database to create and drop (default mes_bench)")
    parser.add_argument(
        "--phases", default="baseline,single,bulk,backflush", help="comma-separated subset of baseline,single,bulk,backflush"
    )
    parser.add_argument("--product-settings", default="mes.settings", help="settings module for phases B and C (to try a change)")
    parser.add_argument("--profile", metavar="DIR", help="record phases B, D and C with py-spy into DIR (slows the server)")
    parser.add_argument("--profile-format", default="raw", choices=["raw", "flamegraph", "speedscope"], help="py-spy output format")
    parser.add_argument("--quiet-wait", type=float, default=60.0, help="seconds to wait for other jobs to quieten down (default 60)")
    parser.add_argument("--quiet-below", type=float, default=0.25, help="machine busy share counted as quiet (default 0.25)")
    parser.add_argument("--broker-url", default="memory://", help="CELERY_BROKER_URL for the servers (default memory://)")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    parser.add_argument(
        "--server-times", action="store_true",
        help="also log each request's time in gunicorn (access log) and print the server-side p50/p99 per phase, "
        "to tell the server's latency from the client's (warm-up included; the paths carry ?phase=)",
    )
    parser.add_argument(
        "--inspection-every", type=int, default=0,
        help="give the benched operation an inspection plan of one every_n characteristic with this n (issue 13; 0: none)",
    )
    args = parser.parse_args()
    if args.profile and not (Path(PYTHON).parent / "py-spy").exists():
        parser.error(f"--profile needs py-spy beside this Python: {Path(PYTHON).parent / 'pip'} install py-spy")
    args.phase_set = {name.strip() for name in args.phases.split(",") if name.strip()}
    unknown = args.phase_set - {"baseline", "single", "bulk", "backflush"}
    if unknown:
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    return args


ACCESS_FORMAT = "%(q)s %(s)s %(D)s"


def access_log_args(args: argparse.Namespace, log_dir: Path, label: str) -> list[str]:
    if not args.server_times:
        return []
    return ["--access-logfile", str(log_dir / f"access-{label}.log"), "--access-logformat", ACCESS_FORMAT]


def server_times_report(log_dir: Path, phases: list[Phase]) -> None:
    """Server-side time of each phase's requests (gunicorn's own ``%(D)s``, warm-up included) against the client's."""
    times: dict[str, list[float]] = {}
    for log in log_dir.glob("access-*.log"):
        for line in log.read_text(errors="replace").splitlines():
            query, _status, micros = (line.split(" ") + ["", "", ""])[:3]
            if query.startswith("phase=") and micros.isdigit():
                times.setdefault(query.removeprefix("phase="), []).append(int(micros) / 1000)
    print("server-side time (gunicorn, warm-up included) against the client's:")
    for phase in phases:
        own = times.get(phase.key, [])
        if own:
            print(f"  {phase.label:<34} server p50 {percentile(own, 0.5):6.1f} ms  p99 {percentile(own, 0.99):6.1f} ms"
                  f"   client p50 {phase.latency_ms(0.5):6.1f} ms  p99 {phase.latency_ms(0.99):6.1f} ms  ({len(own)} requests)")


def _stop_on_signal(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    args = parse_args()
    # Ctrl-C or a kill still stops both gunicorns and drops the database (the finally below).
    signal.signal(signal.SIGINT, _stop_on_signal)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    database_url = f"{args.server}/{args.database}"
    log_dir = Path(tempfile.mkdtemp(prefix="mes-bench-"))
    var_dir = log_dir / "var"
    started = datetime.datetime.now(datetime.UTC)
    servers: list[Server] = []
    phases: list[Phase] = []
    keep_logs = True  # unless the run ends cleanly
    try:
        print(f"[setup] database {args.database}: create, migrate, seed …", flush=True)
        database_create(args.server, args.database)
        product_env = django_env(args, database_url, args.product_settings, var_dir)
        baseline_env = django_env(args, database_url, "bench.baseline_settings", var_dir)
        subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=product_env, check=True)
        seeded = subprocess.run(
            [PYTHON, "-m", "bench.setup_data", "--orders", str(args.orders), "--inspection-every", str(args.inspection_every)],
            cwd=ROOT, env=product_env, check=True, capture_output=True, text=True,
        )
        seed = json.loads(seeded.stdout.strip().splitlines()[-1])
        orders: list[str] = seed["work_orders"]
        info = machine_info(database_url)
        json_headers = {"Content-Type": "application/json"}
        api_headers = {**json_headers, "Authorization": f"Token {seed['token']}"}

        def tagged(path: str, phase: str) -> str:
            return f"{path}?phase={phase}" if args.server_times else path

        def make_baseline(client: int, n: int) -> tuple[str, str, bytes]:
            record = confirmation_record(orders[(n * args.clients + client) % len(orders)], seed)
            return "POST", tagged("/baseline", "baseline"), json.dumps(record).encode()

        randoms = [random.Random(client) for client in range(args.clients)]

        def make_single(client: int, n: int) -> tuple[str, str, bytes]:
            record = confirmation_record(randoms[client].choice(orders), seed)
            return "POST", tagged("/api/v1/confirmations", "single"), json.dumps(record).encode()

        backflush_orders: list[str] = seed["backflush_orders"]

        def make_backflush(client: int, n: int) -> tuple[str, str, bytes]:
            work_order = randoms[client].choice(backflush_orders)
            record = confirmation_record(work_order, seed) | {"lots": [{"item": seed["backflush_lot_item"], "lot": f"RESIN-{work_order}"}]}
            return "POST", tagged("/api/v1/confirmations", "backflush"), json.dumps(record).encode()

        # Each bulk client is a gateway for its own share of the orders (a line of its own).
        shares = [orders[client :: args.bulk_clients] for client in range(args.bulk_clients)]

        def make_bulk(client: int, n: int) -> tuple[str, str, bytes]:
            share = shares[client]
            records = [confirmation_record(share[(n * args.bulk_size + i) % len(share)], seed) for i in range(args.bulk_size)]
            return "POST", "/api/v1/confirmations/bulk", json.dumps({"confirmations": records}).encode()

        product = baseline = None
        if "baseline" in args.phase_set:
            baseline = gunicorn_start(args, baseline_env, log_dir, "baseline", access_log_args(args, log_dir, "baseline"))
            servers.append(baseline)
            phases.append(Phase("baseline", f"A baseline ({args.clients} clients)", Load(baseline, args.clients, make_baseline, json_headers, 201)))
        if args.phase_set & {"single", "bulk", "backflush"}:
            product = gunicorn_start(args, product_env, log_dir, "mes", access_log_args(args, log_dir, "mes"))
            servers.append(product)
        if "single" in args.phase_set:
            phases.append(Phase("single", f"B confirmations ({args.clients} clients)", Load(product, args.clients, make_single, api_headers, 201)))
        if "backflush" in args.phase_set:
            phases.append(
                Phase("backflush", f"D backflush ×3 ({args.clients} clients)", Load(product, args.clients, make_backflush, api_headers, 201))
            )
        kind = f"{args.workers} × {args.worker_class}" + (f" ({args.threads} threads)" if args.worker_class == "gthread" else "")
        print(f"[setup] {len(orders)} released orders; gunicorn {kind} per server; logs in {log_dir}", flush=True)
        busy_before = wait_for_quiet(args)
        host = HostWatch()

        # A and B: warm both up, then alternate measured slices.
        interleaved = [phase for phase in phases if phase.key in {"baseline", "single", "backflush"}]
        for phase in interleaved:
            print(f"[{phase.label}] warm-up {args.warmup:g} s …", flush=True)
            phase.warmup.add(drive(phase.load, args.warmup))
        profiler = (
            profiler_start(args, product, "confirmations", args.seconds * len(interleaved)) if args.phase_set & {"single", "backflush"} else None
        )
        slice_seconds = args.seconds / max(args.rounds, 1)
        for round_number in range(1, max(args.rounds, 1) + 1):
            for phase in interleaved:
                print(f"[{phase.label}] round {round_number}/{args.rounds}: {slice_seconds:g} s …", flush=True)
                phase.measure(slice_seconds, database_url, args.database)
        if profiler is not None:
            profiler.wait(timeout=60)
        for phase in interleaved:
            if phase.key == "baseline":
                phase.problems += check_baseline(database_url, phase.successes())
            elif phase.key == "backflush":
                phase.problems += check_backflush(database_url, phase.successes())
            else:
                phase.problems += check_confirmations(database_url, phase.successes(), seed["operation"])
        if baseline is not None:
            gunicorn_stop(baseline)

        if "bulk" in args.phase_set:
            # A new connection per batch, as a gateway posting every few seconds would: a gthread
            # worker keeps a keep-alive connection for good, and two long-lived connections often
            # land on one worker, which then does all the work while the other idles.
            bulk = Phase(
                "bulk",
                f"C bulk ×{args.bulk_size} ({args.bulk_clients} clients)",
                Load(product, args.bulk_clients, make_bulk, {**api_headers, "Connection": "close"}, 200, bulk=True),
            )
            phases.append(bulk)
            print(f"[{bulk.label}] warm-up {args.warmup:g} s, then {args.seconds:g} s …", flush=True)
            bulk.warmup.add(drive(bulk.load, args.warmup))
            profiler = profiler_start(args, product, "bulk", args.seconds)
            bulk.measure(args.seconds, database_url, args.database)
            if profiler is not None:
                profiler.wait(timeout=60)
            single_successes = sum(phase.successes() for phase in phases if phase.key == "single")
            bulk.problems += check_confirmations(database_url, single_successes + bulk.successes(), seed["operation"])
        host_line = host.summary()
        for server in servers:
            gunicorn_stop(server)
        server_errors = [line for server in servers for line in server.error_lines()]
        keep_logs = bool(server_errors)
        if args.server_times:
            server_times_report(log_dir, phases)
    finally:
        for server in servers:
            gunicorn_stop(server)
        shutil.rmtree(var_dir if keep_logs else log_dir, ignore_errors=True)
        if keep_logs:
            print(f"[cleanup] gunicorn logs kept in {log_dir}", file=sys.stderr)
        if not args.keep_db:
            try:
                database_drop(args.server, args.database)
            except psycopg.Error as error:
                print(f"[cleanup] could not drop {args.database}: {error}", file=sys.stderr)

    return 0 if report(args, info, started, phases, busy_before, server_errors, host_line) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: servers stopped, database dropped", file=sys.stderr)
        sys.exit(130)
