"""Helpers the benchmarks share: a throw-away database, gunicorn, CPU accounting, machine facts.

Used by ``bench/ingest.py`` and ``bench/sync.py``. Everything binds to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import http.client
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


# --- database ---------------------------------------------------------------------------


def admin_connection(server_url: str) -> psycopg.Connection:
    return psycopg.connect(f"{server_url}/postgres", autocommit=True)


def database_create(server_url: str, name: str) -> None:
    with admin_connection(server_url) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def database_drop(server_url: str, name: str) -> None:
    with admin_connection(server_url) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate(database_url: str) -> None:
    """Migrate a benchmark's fresh database in a child process (as ``manage.py migrate`` would be run)."""
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "mes.settings", "DEBUG": "0", "LOG_LEVEL": "WARNING",
           "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-" + "x" * 50}
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=600)


def scalar(database_url: str, sql: str, params: tuple = ()) -> object:
    with psycopg.connect(database_url) as connection:
        return connection.execute(sql, params).fetchone()[0]


# --- processes --------------------------------------------------------------------------


def product_env(database_url: str, var_dir: Path, **settings: str) -> dict[str, str]:
    """The environment for the product's processes on the bench database: a private var/, no debug, ``settings`` on top."""
    env = dict(os.environ)
    env.update(
        MES_VAR_DIR=str(var_dir),  # a private var/, so nothing lands in the developer's
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="mes.settings",
        PYTHONPATH=str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""),
        PYTHONUNBUFFERED="1",
        DEBUG="0",
        LOG_LEVEL="WARNING",
        SECRET_KEY=env.get("SECRET_KEY") or "bench-" + "x" * 50,  # fixed: the bench never writes var/secret_key
    )
    env.update(settings)
    return env



def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def error_lines(self) -> list[str]:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if any(mark in line for mark in ("Traceback", " ERROR ", "[ERROR]", "[CRITICAL]"))]


def gunicorn_start(
    args: argparse.Namespace, env: dict[str, str], log_dir: Path, label: str, extra_args: list[str] | None = None
) -> Server:
    """``extra_args`` go to gunicorn as they are (e.g. an access log with request times)."""
    port = free_port()
    log_path = log_dir / f"gunicorn-{label}.log"
    command = [
        PYTHON, "-m", "gunicorn", "mes.wsgi:application",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(args.workers),
        "--worker-class", args.worker_class,
        "--chdir", str(ROOT),
        "--error-logfile", str(log_path),
        "--log-level", "warning",
        "--timeout", "60",
        "--keep-alive", "30",
    ]
    if args.worker_class == "gthread":
        command += ["--threads", str(args.threads)]
    command += extra_args or []
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(process, port, log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn ({label}) exited with {process.returncode}:\n{server.log_tail()}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/health")
            response = connection.getresponse()
            response.read()
            connection.close()
            if response.status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    gunicorn_stop(server)
    raise RuntimeError(f"gunicorn ({label}) not ready after 30 s:\n{server.log_tail()}")


def gunicorn_stop(server: Server | None) -> None:
    """Graceful stop of the master (it stops its workers), then a hard kill of its process group."""
    if server is None or server.process.poll() is not None:
        return
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=5)


# --- CPU --------------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def child_pids(pid: int) -> list[int]:
    pids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            pids += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            pass
    return pids


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def machine_busy_now(seconds: float = 1.0) -> float:
    """Share of all CPUs busy over a short sample (taken while the bench itself is idle)."""
    before = machine_ticks()
    time.sleep(seconds)
    after = machine_ticks()
    return (after[0] - before[0]) / max(after[1] - before[1], 1)


def reference_loop_ms() -> float:
    """The machine's single-core speed now: the best of three runs of a fixed pure-Python loop, in ms."""
    best = math.inf
    for _ in range(3):
        began = time.perf_counter()
        total = 0
        for number in range(1_000_000):
            total += number * number
        best = min(best, time.perf_counter() - began)
    return best * 1000


def _steal_ticks() -> tuple[int, int]:
    """(steal, total) jiffies of all CPUs since boot: steal is time the hypervisor gave our CPUs to others."""
    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (values[7] if len(values) > 7 else 0), sum(values)


class HostWatch:
    """What the host did to a run: the reference loop before and after it, and the hypervisor's steal meanwhile.

    On a shared virtual machine the same code ran 1.75× slower from one half hour to the next
    (docs/benchmarks.md): a bench prints this beside its figures so that a slow hour is told from a
    slow product. Start it just before measuring."""

    def __init__(self) -> None:
        self.loop_before = reference_loop_ms()
        self.start = _steal_ticks()

    def summary(self) -> str:
        end = _steal_ticks()
        steal = (end[0] - self.start[0]) / max(end[1] - self.start[1], 1)
        return (
            f"host: reference loop {self.loop_before:.0f} ms before the run, {reference_loop_ms():.0f} ms after (a million "
            f"multiply-adds in Python, best of 3: lower is faster); hypervisor steal {steal:.0%} of CPU time during it"
        )


def wait_for_quiet(args: argparse.Namespace) -> float:
    """Wait (at most ``--quiet-wait`` s) until other jobs leave the machine mostly idle; answer how busy it was."""
    deadline = time.monotonic() + args.quiet_wait
    busy = machine_busy_now()
    while busy > args.quiet_below and time.monotonic() < deadline:
        print(f"[setup] machine {busy:.0%} busy with other work; waiting for < {args.quiet_below:.0%} …", flush=True)
        time.sleep(2)
        busy = machine_busy_now()
    return busy


def postgres_backends(database_url: str, database: str) -> list[int]:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (database,)
        ).fetchall()
    return [row[0] for row in rows]


# --- figures ----------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, math.ceil(round(fraction * len(ordered), 6)))
    return ordered[min(rank, len(ordered)) - 1]


# --- machine ----------------------------------------------------------------------------


def machine_info(database_url: str) -> dict[str, str]:
    import django
    import gunicorn

    cpu_model = memory = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
            break
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        nproc = str(os.cpu_count())
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "mes", "erp_sync", "shopfloor"], cwd=ROOT,
                               capture_output=True, text=True, check=False).stdout.strip()
        revision = commit + (" + uncommitted changes in mes/erp_sync/shopfloor" if dirty else "")
    except OSError:
        revision = "unknown"
    return {
        "nproc": nproc,
        "cpu": cpu_model,
        "memory": memory,
        "python": platform.python_version(),
        "django": django.get_version(),
        "gunicorn": gunicorn.__version__,
        "postgresql": str(scalar(database_url, "SHOW server_version")),
        "synchronous_commit": str(scalar(database_url, "SHOW synchronous_commit")),
        "revision": revision,
    }


def verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"

def in_process_footer(*, database_url: str, busy_before: float, passed: bool, host: HostWatch | None = None) -> int:
    """The closing lines of a bench that runs in this process: the machine's load and make, the verdict; its exit status."""
    print(f"  other work on the machine: {busy_before:.0%} busy before measuring, {machine_busy_now():.0%} after; "
          f"load average {os.getloadavg()[0]:.1f}")
    if host is not None:
        print(f"  {host.summary()}")
    info = machine_info(database_url)
    print(f"  machine: {info['nproc']} cores, {info['cpu']}, {info['memory']}; PostgreSQL {info['postgresql']}; "
          f"Python {info['python']}, Django {info['django']}; revision {info['revision']}")
    print(f"  overall: {verdict(passed)}")
    return 0 if passed else 1


def in_process_cleanup(*, args: Any, database_url: str) -> None:
    """Close this process's connections to the bench database, then drop it (unless ``--keep-db``)."""
    if "django.db" in sys.modules and os.environ.get("DATABASE_URL") == database_url:
        from django.db import connections

        connections.close_all()
    if not args.keep_db:
        database_drop(args.server, args.database)


def in_process_arguments(parser: argparse.ArgumentParser, *, database: str) -> None:
    """The options of a bench that runs in this process on a database of its own: server, database, keep it, quiet."""
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432", help="PostgreSQL server URL, without database")
    parser.add_argument("--database", default=database, help=f"database to create and drop (default {database})")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--quiet-wait", type=float, default=60.0, help="seconds to wait for other jobs to quieten down (default 60)")
    parser.add_argument("--quiet-below", type=float, default=0.25, help="machine busy share counted as quiet (default 0.25)")


def in_process_database(args: argparse.Namespace) -> str:
    """Create the bench's database and migrate it; its URL."""
    database_url = f"{args.server}/{args.database}"
    print(f"[setup] creating {args.database} and migrating …", flush=True)
    database_create(args.server, args.database)
    migrate(database_url)
    return database_url
