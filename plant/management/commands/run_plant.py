"""Run the whole system in the foreground: every process it needs, kept running, stopped together.

A small supervisor: it starts each process in ``process_specs``, prefixes every line a process
prints with its name, and on Ctrl-C or SIGTERM stops them all (SIGTERM, then SIGKILL after a grace
period). A process that exits on its own is logged and started again after a back-off (1 s, 2 s,
4 s … doubling with each exit in the last minute, at most 30 s); the others, the web server above
all, go on as they were. Only a process that keeps exiting (5 times within 60 s) stops the plant,
with an error, so a plant that cannot run never goes unnoticed.

The processes: the device collector, a Celery worker on the ``erp`` queue, Celery beat (the sweep
schedule) and the web server; for the demo also the simulated SAP its connection points at and the
simulated machines. More join by appending a ``ProcessSpec`` to ``process_specs``.

Before starting them: the first administrator from MES_ADMIN_USERNAME/MES_ADMIN_PASSWORD
(``bootstrap_admin``), and for the demo the demo plant on an empty database (``seed_demo``).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import select
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import IO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

GRACE_SECONDS = 15
POLL_SECONDS = 0.2


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    argv: list[str]


@dataclass(frozen=True)
class RestartPolicy:
    """Back-off after an exit: ``first_delay`` doubled for each further exit within ``window``, at most
    ``max_delay``. ``limit`` exits within ``window`` stop the plant."""

    first_delay: float = 1.0
    max_delay: float = 30.0
    limit: int = 5
    window: float = 60.0


# The demo's simulated SAP listens here; seed_demo points the default ERP connection at it.
ERP_SIMULATOR_PORT = 8100
# The demo's simulated Kingdee K/3 Cloud (site /k3cloud/), for a connection switched to it by hand.
KINGDEE_SIMULATOR_PORT = 8102
# The demo's simulated Yonyou U8+ OpenAPI gateway, likewise.
U8_SIMULATOR_PORT = 8104
# The demo's webhook receiver: the andon ladder's chat robots and alerting endpoint (var/webhook-ledger.jsonl).
WEBHOOK_SINK_PORT = 8110


def _demo_cycle_times() -> tuple[float, ...]:
    # seed_demo imports this module's ports, so its routing is read when the specs are built.
    from plant.management.commands.seed_demo import demo_cycle_times

    return demo_cycle_times()


def process_specs(*, port: int, host: str = "127.0.0.1", demo: bool = True) -> list[ProcessSpec]:
    python = sys.executable
    manage = [python, str(settings.BASE_DIR / "manage.py")]
    celery = [python, "-m", "celery", "-A", "mes"]
    simulators = [
        ProcessSpec(
            "erp-sim",
            [
                *manage, "erp_simulator", "--flavor", "sap",
                "--port", str(ERP_SIMULATOR_PORT), "--control-port", str(ERP_SIMULATOR_PORT + 1),
                "--ledger", str(settings.VAR_DIR / "erp-simulator-ledger.jsonl"),
            ],
        ),
        ProcessSpec(
            "erp-sim-kingdee",
            [
                *manage, "erp_simulator", "--flavor", "kingdee",
                "--port", str(KINGDEE_SIMULATOR_PORT), "--control-port", str(KINGDEE_SIMULATOR_PORT + 1),
                "--ledger", str(settings.VAR_DIR / "erp-simulator-kingdee-ledger.jsonl"),
            ],
        ),
        ProcessSpec(
            "erp-sim-u8",
            [
                *manage, "erp_simulator", "--flavor", "u8",
                "--port", str(U8_SIMULATOR_PORT), "--control-port", str(U8_SIMULATOR_PORT + 1),
                "--ledger", str(settings.VAR_DIR / "erp-simulator-u8-ledger.jsonl"),
            ],
        ),
        ProcessSpec(
            "webhook-sink",
            [*manage, "webhook_sink", "--port", str(WEBHOOK_SINK_PORT), "--ledger", str(settings.VAR_DIR / "webhook-ledger.jsonl")],
        ),
        # Simulated machines (Modbus TCP 5020, OPC UA 4840) for the demo equipment, each a part at a
        # time no faster than the demo routing's ideal cycle at its work center.
        ProcessSpec("devices", [
            *manage, "device_simulator", "--modbus-port", "5020", "--opcua-port", "4840",
            "--cycle-time", ",".join(f"{seconds:g}" for seconds in _demo_cycle_times()),
        ]),
    ]
    return [
        *(simulators if demo else []),
        # Reads every mapped machine and confirms its counts on the operation running on it.
        ProcessSpec("collector", [*manage, "run_collector"]),
        # ERP delivery: a real worker on queue erp (through Redis, or a SQLite file under var/ without REDIS_URL).
        ProcessSpec("worker", [*celery, "worker", "--queues", "erp", "--concurrency", "2", "--loglevel", "INFO", "--without-gossip", "--without-mingle"]),
        ProcessSpec("beat", [*celery, "beat", "--loglevel", "INFO", "--schedule", str(settings.VAR_DIR / "celerybeat-schedule")]),
        ProcessSpec(
            "web",
            [
                python, "-m", "gunicorn", "mes.wsgi:application",
                "--bind", f"{host}:{port}",
                "--workers", "2",
                "--threads", "4",
                "--graceful-timeout", str(GRACE_SECONDS - 5),
                "--access-logfile", "-",
            ],
        ),
    ]


def demo_report_environment(*, host: str, port: int) -> dict[str, str]:
    """What the demo's worker needs to send the daily report after each shift to the webhook sink (one
    the environment names already is kept): its channel, and the site's address for the report's link."""
    environment = {}
    if not os.environ.get("MES_DAILY_REPORT_CHANNELS"):
        channel = {"type": "webhook", "url": f"http://127.0.0.1:{WEBHOOK_SINK_PORT}/daily-report", "secret": "demo-webhook-secret"}
        environment["MES_DAILY_REPORT_CHANNELS"] = json.dumps({"*": channel})
    if not os.environ.get("MES_PUBLIC_URL"):
        environment["MES_PUBLIC_URL"] = f"http://{host}:{port}"
    return environment


def _die_with_parent() -> None:
    """Runs in the child before exec: on Linux, get SIGTERM if the supervisor itself is killed (even by SIGKILL).

    Safe here because the supervisor has a single thread (no lock can be held by another thread at the fork).
    """
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"status {code}"


@dataclass
class Child:
    spec: ProcessSpec
    process: subprocess.Popen | None = None
    exits: collections.deque = field(default_factory=collections.deque)  # monotonic times of recent exits
    restart_at: float | None = None
    pending: bytes = b""
    reaped: bool = False  # its group was killed once: its pid may belong to someone else by now


class Supervisor:
    """Runs the children in one thread: their output is read with a selector, never by threads, so
    starting a child again later (fork + exec) is safe."""

    def __init__(self, specs: list[ProcessSpec], out: IO[str], policy: RestartPolicy | None = None) -> None:
        self.children = [Child(spec) for spec in specs]
        self.out = out
        self.policy = policy or RestartPolicy()
        self.width = max(len(name) for name in ["plant", *(spec.name for spec in specs)])
        self.selector = selectors.DefaultSelector()
        self.stop_signal: int | None = None

    @property
    def processes(self) -> dict[str, subprocess.Popen]:
        return {child.spec.name: child.process for child in self.children if child.process is not None}

    def say(self, name: str, line: str) -> None:
        self.out.write(f"{name:<{self.width}} | {line}\n")
        self.out.flush()

    def start(self) -> None:
        for child in self.children:
            self._start(child)

    def _start(self, child: Child) -> None:
        environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
        child.process = subprocess.Popen(
            child.spec.argv,
            cwd=settings.BASE_DIR,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Own process group: the supervisor, not the terminal, decides when and how each stops.
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        child.restart_at = None
        child.reaped = False
        os.set_blocking(child.process.stdout.fileno(), False)
        self.selector.register(child.process.stdout, selectors.EVENT_READ, child)
        self.say("plant", f"started {child.spec.name} (pid {child.process.pid}): {' '.join(child.spec.argv)}")

    def on_signal(self, signum: int, _frame) -> None:
        if self.stop_signal is None:
            self.stop_signal = signum

    def pump(self, timeout: float) -> None:
        """Print what the children wrote, waiting at most ``timeout`` for something to arrive."""
        for key, _events in self.selector.select(timeout):
            self._read(key.data)

    def _read(self, child: Child) -> bool:
        """Print the complete lines ``child`` has written; False once its output has ended (then closed)."""
        stream = child.process.stdout
        try:
            chunk = os.read(stream.fileno(), 65536)
        except BlockingIOError:
            return True
        data = child.pending + chunk
        if chunk:
            *lines, child.pending = data.split(b"\n")
        else:
            lines, child.pending = ([data] if data else []), b""
        for raw in lines:
            self.say(child.spec.name, raw.decode("utf-8", errors="replace").rstrip("\r"))
        if not chunk:
            self.selector.unregister(stream)
            stream.close()
        return bool(chunk)

    def _reap(self, child: Child) -> None:
        """After ``child`` exited: end what it left running in its group and print the rest of its output."""
        if child.reaped:
            return
        child.reaped = True
        try:
            os.killpg(child.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        stream = child.process.stdout
        deadline = time.monotonic() + 2
        # Bounded: a grandchild that left the group could keep the pipe open for ever.
        while not stream.closed and time.monotonic() < deadline:
            ready = select.select([stream], [], [], max(deadline - time.monotonic(), 0))[0]
            if ready and not self._read(child):
                return
        if not stream.closed:
            self.selector.unregister(stream)
            stream.close()

    def watch(self) -> str | None:
        """Keep the children running until asked to stop (answer None) or one keeps exiting (answer why)."""
        while self.stop_signal is None:
            self.pump(POLL_SECONDS)
            now = time.monotonic()
            for child in self.children:
                if child.restart_at is not None:
                    if now >= child.restart_at and self.stop_signal is None:
                        self._start(child)
                    continue
                code = child.process.poll()
                if code is None:
                    continue
                self._reap(child)
                failure = self._exited(child, code, now)
                if failure:
                    return failure
        return None

    def _exited(self, child: Child, code: int, now: float) -> str | None:
        """Log the exit and plan the restart; answer why the plant must stop, if it must."""
        exits = child.exits
        exits.append(now)
        while exits and now - exits[0] > self.policy.window:
            exits.popleft()
        name, how = child.spec.name, describe_exit(code)
        if len(exits) >= self.policy.limit:
            return f"{name} exited {len(exits)} times within {self.policy.window:g} s (last with {how})"
        delay = min(self.policy.first_delay * 2 ** (len(exits) - 1), self.policy.max_delay)
        self.say("plant", f"{name} exited with {how}; starting it again in {delay:g} s ({len(exits)} exit(s) within {self.policy.window:g} s)")
        child.restart_at = now + delay
        return None

    def stop(self) -> None:
        """SIGTERM every process still running (last started first), SIGKILL what outlives the grace period."""
        running = [child for child in reversed(self.children) if child.process is not None and child.process.poll() is None]
        for child in running:
            self.say("plant", f"stopping {child.spec.name} (pid {child.process.pid})")
            child.process.terminate()
        deadline = time.monotonic() + GRACE_SECONDS
        # Go on printing meanwhile: a child blocked on writing to a full pipe could not exit.
        while any(child.process.poll() is None for child in running) and time.monotonic() < deadline:
            self.pump(0.1)
        for child in running:
            if child.process.poll() is None:
                self.say("plant", f"{child.spec.name} did not stop within {GRACE_SECONDS} s; killing it")
        for child in self.children:
            if child.process is None:
                continue
            # The whole group, so no grandchild (a gunicorn worker, a pool process) is left behind.
            self._reap(child)
            child.process.wait()
        self.selector.close()


class Command(BaseCommand):
    help = (
        "Start the web server and every background process in the foreground; a process that exits is "
        "started again; Ctrl-C stops them all."
    )
    # Skipped: `make run` has just run them (through migrate), and here they only delay the start.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000, help="Port of the web server (default 8000).")
        parser.add_argument("--host", default="127.0.0.1", help="Address the web server listens on (default 127.0.0.1).")
        parser.add_argument(
            "--demo",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="The demo: the demo plant on an empty database and the simulated ERP and machines. "
            "Default: MES_DEMO, which is on without DATABASE_URL and off with it.",
        )

    def handle(self, *args, port: int, host: str, demo: bool | None, **options):
        if not 1 <= port <= 65535:
            raise CommandError(f"--port must be between 1 and 65535; got {port}.")
        demo = settings.MES_DEMO if demo is None else demo
        call_command("bootstrap_admin", stdout=self.stdout, stderr=self.stderr)
        if demo:
            call_command("seed_demo", if_empty=True, base_url=f"http://{host}:{port}", stdout=self.stdout, stderr=self.stderr)
        elif not get_user_model().objects.filter(is_superuser=True).exists():
            self.stdout.write(
                "No administrator yet: create one with `python manage.py createsuperuser`, "
                "or set MES_ADMIN_USERNAME and MES_ADMIN_PASSWORD for the first start."
            )
        if demo:
            os.environ.update(demo_report_environment(host=host, port=port))
        supervisor = Supervisor(process_specs(port=port, host=host, demo=demo), sys.stdout)
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, supervisor.on_signal)
        failure = None
        try:
            supervisor.start()
            what = "the demo plant" if demo else "the plant"
            supervisor.say("plant", f"{what} is running on http://{host}:{port}/ (API docs /api/docs/, admin /admin/); Ctrl-C stops everything")
            failure = supervisor.watch()
        finally:
            if failure:
                supervisor.say("plant", f"{failure}; stopping everything")
            supervisor.stop()
        if failure:
            raise CommandError(failure)
        supervisor.say("plant", "stopped")
