"""Board benchmark: render time of the progress board with 1,000 active orders and 100,000
confirmations, its query count, and the same rows fetched as JSON from the API.

    flock /tmp/mes-bench.lock .venv/bin/python bench/board.py [--rounds 3] [--renders 10]

What it does, on loopback only, stopping by itself:

1. Creates a fresh PostgreSQL database (default ``mes_bench_board`` on 127.0.0.1:5432, user
   postgres), migrates it and seeds it (``bench/board_data.py``): 1,000 active orders
   (released, in progress, paused) and 1,000 closed ones on two lines of three work centers,
   three operations each, 100,000 confirmations with their outbox messages (a few orders with a
   dead, retrying or queued message), twelve machines with their state. The bulk rows are
   written with COPY; the operations' totals are then set from their confirmations.
2. Counts the board's queries in-process (Django's test client): every line (1,000 orders)
   against one line (500 orders). The count must be the same.
3. Starts gunicorn (``--workers`` × gthread ``--threads``, keep-alive) with an access log
   that records each request's server time (gunicorn's ``%(D)s``, microseconds).
4. One client, one keep-alive connection, requests one after another, in ``--rounds``
   rounds, each: ``--renders`` full board pages (``GET /board/`` as a signed-in supervisor,
   banner included), ``--renders`` wall-screen polls (``GET /board/?wall=1`` with
   ``HX-Request``: the partial, the session renewed), then the baseline: every active order as
   JSON (``GET /api/v1/work-orders/{number}``, token auth), one after another.
5. Prints server-time p50/p95/max per kind, the size of the answers, the time a client needs
   to read the same 1,000 orders from the API, the query counts, the target with PASS/FAIL,
   and the machine load; stops gunicorn and drops the database (``--keep-db`` keeps it).
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: bench/ is on the path, the project root is not

from bench.common import (
    PYTHON,
    HostWatch,
    Server,
    child_pids,
    database_create,
    database_drop,
    gunicorn_start,
    gunicorn_stop,
    machine_info,
    percentile,
    process_cpu_seconds,
    verdict,
    wait_for_quiet,
)
from bench.ingest import django_env

TARGET_P95_MS = 150.0
ACCESS_FORMAT = "%(m)s %(U)s %(q)s %(s)s %(D)s %(B)s"


@dataclass
class Kind:
    label: str
    client_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    bytes: list[int] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    cpu_seconds: float = 0.0  # of the gunicorn workers, over this kind's requests

    def cpu_ms_per_request(self) -> float:
        return 1000 * self.cpu_seconds / max(len(self.client_ms), 1)

    def add(self, status: int, seconds: float, size: int) -> None:
        self.client_ms.append(seconds * 1000)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.bytes.append(size)


def fetch(connection: http.client.HTTPConnection, path: str, headers: dict[str, str], kind: Kind) -> None:
    began = time.perf_counter()
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    kind.add(response.status, time.perf_counter() - began, len(body))


def workers_cpu(server: Server) -> float:
    return sum(process_cpu_seconds(pid) for pid in child_pids(server.process.pid))


def batch(server: Server, kind: Kind, requests) -> None:
    """Send ``requests`` (path, headers, connection) one after another, adding the workers' CPU to ``kind``."""
    before = workers_cpu(server)
    for connection, path, headers in requests:
        fetch(connection, path, headers, kind)
    kind.cpu_seconds += workers_cpu(server) - before


def server_times(log_path: Path) -> dict[tuple[str, str], list[float]]:
    """(path, query string) → server milliseconds, from gunicorn's access log."""
    times: dict[tuple[str, str], list[float]] = {}
    for line in log_path.read_text(errors="replace").splitlines():
        parts = line.split(" ")
        if len(parts) != 6 or parts[0] != "GET":
            continue
        _method, path, query, _status, micros, _size = parts
        times.setdefault((path, query if query != "-" else ""), []).append(int(micros) / 1000)
    return times


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1000, help="active orders (default 1000)")
    parser.add_argument("--confirmations", type=int, default=100_000, help="confirmations over the active orders (default 100000)")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (default 3)")
    parser.add_argument("--renders", type=int, default=10, help="board pages and polls per round (default 10 each)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--worker-class", default="gthread", choices=["sync", "gthread"])
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker (default 4)")
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432", help="PostgreSQL server URL, without database")
    parser.add_argument("--database", default="mes_bench_board", help="database to create and drop (default mes_bench_board)")
    parser.add_argument("--broker-url", default="memory://", help="CELERY_BROKER_URL for the server (default memory://)")
    parser.add_argument("--quiet-wait", type=float, default=60.0, help="seconds to wait for other jobs to quieten down (default 60)")
    parser.add_argument("--quiet-below", type=float, default=0.25, help="machine busy share counted as quiet (default 0.25)")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    return parser.parse_args()


def _stop_on_signal(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGINT, _stop_on_signal)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    database_url = f"{args.server}/{args.database}"
    log_dir = Path(tempfile.mkdtemp(prefix="mes-bench-board-"))
    var_dir = log_dir / "var"
    access_log = log_dir / "access.log"
    started = datetime.datetime.now(datetime.UTC)
    server: Server | None = None
    keep_logs = True
    kinds = {"page": Kind("board page, GET /board/"), "poll": Kind("wall poll, GET /board/?wall=1 (partial)"),
             "api": Kind("API, GET /api/v1/work-orders/{n}")}
    api_passes: list[float] = []
    try:
        print(f"[setup] database {args.database}: create, migrate, seed {args.orders} active orders, "
              f"{args.confirmations:,} confirmations …", flush=True)
        database_create(args.server, args.database)
        env = django_env(args, database_url, "mes.settings", var_dir)
        subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        seed_began = time.monotonic()
        seeded = subprocess.run(
            [PYTHON, "-m", "bench.board_data", "--orders", str(args.orders), "--confirmations", str(args.confirmations)],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True,
        )
        seed = json.loads(seeded.stdout.strip().splitlines()[-1])
        print(f"[setup] seeded in {time.monotonic() - seed_began:.1f} s", flush=True)
        info = machine_info(database_url)
        server = gunicorn_start(args, env, log_dir, "board", extra_args=[
            "--access-logfile", str(access_log), "--access-logformat", ACCESS_FORMAT,
        ])
        busy_before = wait_for_quiet(args)
        host = HostWatch()
        with open("/proc/loadavg") as loadavg:
            load_before = " ".join(loadavg.read().split()[:3])
        session = {"Cookie": f"sessionid={seed['session']}", "Accept-Language": "en"}
        poll = {**session, "HX-Request": "true"}
        api = {"Authorization": f"Token {seed['token']}", "Accept-Language": "en"}
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        warm = Kind("warm-up")
        # Warm-up requests carry warm=1, so that the access log tells them from the measured ones.
        for path, headers in (("/board/?warm=1", session), ("/board/?wall=1&warm=1", poll),
                              (f"/api/v1/work-orders/{seed['active'][0]}?warm=1", api)):
            for _ in range(2):
                fetch(connection, path, headers, warm)
        for round_number in range(1, args.rounds + 1):
            print(f"[round {round_number}/{args.rounds}] {args.renders} pages, {args.renders} polls, "
                  f"{len(seed['active'])} API reads …", flush=True)
            batch(server, kinds["page"], ((connection, "/board/", session) for _ in range(args.renders)))
            batch(server, kinds["poll"], ((connection, "/board/?wall=1", poll) for _ in range(args.renders)))
            began = time.perf_counter()
            batch(server, kinds["api"], ((connection, f"/api/v1/work-orders/{number}", api) for number in seed["active"]))
            api_passes.append(time.perf_counter() - began)
        connection.close()
        with open("/proc/loadavg") as loadavg:
            load_after = " ".join(loadavg.read().split()[:3])
        host_line = host.summary()
        time.sleep(0.5)  # let gunicorn flush its access log
        gunicorn_stop(server)
        times = server_times(access_log)
        kinds["page"].server_ms = times.get(("/board/", ""), [])
        kinds["poll"].server_ms = times.get(("/board/", "wall=1"), [])
        kinds["api"].server_ms = [ms for (path, query), values in times.items()
                                  if path.startswith("/api/v1/work-orders/") and not query for ms in values]
        server_errors = server.error_lines()
        keep_logs = bool(server_errors)
    finally:
        gunicorn_stop(server)
        shutil.rmtree(var_dir if keep_logs else log_dir, ignore_errors=True)
        if keep_logs:
            print(f"[cleanup] gunicorn logs kept in {log_dir}", file=sys.stderr)
        if not args.keep_db:
            try:
                database_drop(args.server, args.database)
            except psycopg.Error as error:
                print(f"[cleanup] could not drop {args.database}: {error}", file=sys.stderr)

    return 0 if report(args, info, started, seed, kinds, api_passes, busy_before, (load_before, load_after), server_errors, host_line) else 1


def report(args, info, started, seed, kinds: dict[str, Kind], api_passes: list[float], busy_before: float,
           load: tuple[str, str], server_errors: list[str], host_line: str) -> bool:
    server_kind = f"{args.workers} workers, {args.worker_class}" + (f" × {args.threads} threads" if args.worker_class == "gthread" else "")
    print()
    print(f"Board benchmark, {started:%Y-%m-%d %H:%M} UTC, revision {info['revision']}")
    print(f"machine: nproc {info['nproc']}, {info['cpu']}, {info['memory']} RAM; Python {info['python']}, "
          f"Django {info['django']}, gunicorn {info['gunicorn']}, PostgreSQL {info['postgresql']}")
    print(f"load average before/after: {load[0]} / {load[1]}; machine {busy_before:.0%} busy just before the run")
    print(host_line)
    print(f"server: gunicorn {server_kind}, 127.0.0.1; one client, one keep-alive connection, requests one after another")
    print(f"data: {len(seed['active']):,} active orders (+ closed ones), {seed['confirmations']:,} confirmations with their outbox messages")
    print()
    print(f"{'request':<44}{'n':>6}{'server p50':>12}{'p95':>9}{'max':>9}{'client p95':>12}{'CPU/req':>9}{'KiB':>8}")
    for kind in kinds.values():
        print(f"{kind.label:<44}{len(kind.server_ms):>6}{percentile(kind.server_ms, 0.5):>12.1f}{percentile(kind.server_ms, 0.95):>9.1f}"
              f"{max(kind.server_ms, default=float('nan')):>9.1f}{percentile(kind.client_ms, 0.95):>12.1f}"
              f"{kind.cpu_ms_per_request():>9.1f}{(sum(kind.bytes) / max(len(kind.bytes), 1)) / 1024:>8.1f}")
    print("  (ms; server = gunicorn's own request time, client = as seen on loopback, CPU/req = gunicorn workers' CPU,")
    print("   which other jobs on the machine move least)")
    api_total = sum(api_passes) / max(len(api_passes), 1)
    print(f"baseline: the same {len(seed['active']):,} orders as JSON, one GET each: {api_total * 1000:,.0f} ms per pass "
          f"(mean of {len(api_passes)}), against one board page at p95 {percentile(kinds['page'].server_ms, 0.95):.1f} ms")
    queries = seed["queries"]
    print("queries per board render (in-process): " + ", ".join(
        f"{label}: {entry['queries']} for {entry['orders']} order rows ({entry['shared']} with the predictions shared)"
        for label, entry in queries.items()))
    print("in-process render, the first in a minute (working out every active order's predicted finish) / the next: " + ", ".join(
        f"{label}: {entry['queries_ms']:.0f} / {entry['shared_ms']:.0f} ms" for label, entry in queries.items()))
    print()
    correct = True
    for kind in kinds.values():
        bad = {status: count for status, count in kind.statuses.items() if status != 200}
        if bad or len(kind.server_ms) != len(kind.client_ms):
            correct = False
            print(f"CORRECTNESS FAIL, {kind.label}: statuses {kind.statuses}, {len(kind.server_ms)} logged of {len(kind.client_ms)}")
    if server_errors:
        correct = False
        print(f"CORRECTNESS FAIL: {len(server_errors)} error lines in the gunicorn log, first: {server_errors[0][:200]}")
    counts = {entry["queries"] for entry in queries.values()}
    constant = len(counts) == 1 and len({entry["shared"] for entry in queries.values()}) == 1
    p95 = max(percentile(kinds["page"].server_ms, 0.95), percentile(kinds["poll"].server_ms, 0.95))
    print(f"target  board p95 server time ≤ {TARGET_P95_MS:g} ms (page and poll): {p95:.1f} ms  {verdict(p95 <= TARGET_P95_MS)}")
    print(f"target  query count independent of the number of orders: {sorted(counts)}  {verdict(constant)}")
    passed = correct and constant and p95 <= TARGET_P95_MS
    print(f"overall: {verdict(passed)}" + ("" if correct else " (correctness)"))
    return passed


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: server stopped, database dropped", file=sys.stderr)
        sys.exit(130)
