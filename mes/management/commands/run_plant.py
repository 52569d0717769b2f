"""Run the whole system in the foreground: every process it needs, stopped together.

A small supervisor: it starts each process in ``process_specs``, prefixes every line a
process prints with its name, and on Ctrl-C or SIGTERM stops them all (SIGTERM, then
SIGKILL after a grace period). If any process exits on its own, it stops the rest and
exits non-zero, so a half-running plant never goes unnoticed.

The processes: the simulated SAP the demo connection points at, the simulated machines,
the device collector, a Celery worker on the ``erp`` queue, Celery beat (the sweep
schedule) and the web server. More join by appending a ``ProcessSpec`` to ``process_specs``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

GRACE_SECONDS = 15
POLL_SECONDS = 0.2


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    argv: list[str]


# The demo's simulated SAP listens here; seed_demo points the default ERP connection at it.
ERP_SIMULATOR_PORT = 8100


def process_specs(*, port: int) -> list[ProcessSpec]:
    python = sys.executable
    manage = [python, str(settings.BASE_DIR / "manage.py")]
    celery = [python, "-m", "celery", "-A", "mes"]
    return [
        ProcessSpec(
            "erp-sim",
            [
                *manage, "erp_simulator", "--flavor", "sap",
                "--port", str(ERP_SIMULATOR_PORT), "--control-port", str(ERP_SIMULATOR_PORT + 1),
                "--ledger", str(settings.VAR_DIR / "erp-simulator-ledger.jsonl"),
            ],
        ),
        # Simulated machines (Modbus TCP 5020, OPC UA 4840) for the demo equipment.
        ProcessSpec("devices", [*manage, "device_simulator", "--modbus-port", "5020", "--opcua-port", "4840"]),
        # Reads every mapped machine and confirms its counts on the operation running on it.
        ProcessSpec("collector", [*manage, "run_collector"]),
        # ERP delivery: a real worker on queue erp (through Redis, or a folder under var/ without REDIS_URL).
        ProcessSpec("worker", [*celery, "worker", "--queues", "erp", "--concurrency", "2", "--loglevel", "INFO", "--without-gossip", "--without-mingle"]),
        ProcessSpec("beat", [*celery, "beat", "--loglevel", "INFO", "--schedule", str(settings.VAR_DIR / "celerybeat-schedule")]),
        ProcessSpec(
            "web",
            [
                python, "-m", "gunicorn", "mes.wsgi:application",
                "--bind", f"127.0.0.1:{port}",
                "--workers", "2",
                "--threads", "4",
                "--graceful-timeout", str(GRACE_SECONDS - 5),
                "--access-logfile", "-",
            ],
        ),
    ]


def _die_with_parent() -> None:
    """Runs in the child before exec: on Linux, get SIGTERM if the supervisor itself is killed (even by SIGKILL)."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Supervisor:
    def __init__(self, specs: list[ProcessSpec], out: IO[str]) -> None:
        self.specs = specs
        self.out = out
        self.width = max(len(name) for name in ["plant", *(spec.name for spec in specs)])
        self.write_lock = threading.Lock()
        self.processes: dict[str, subprocess.Popen] = {}
        self.pumps: list[threading.Thread] = []
        self.stop_signal: int | None = None

    def say(self, name: str, line: str) -> None:
        with self.write_lock:
            self.out.write(f"{name:<{self.width}} | {line}\n")
            self.out.flush()

    def pump(self, name: str, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            self.say(name, raw.decode("utf-8", errors="replace").rstrip("\r\n"))
        stream.close()

    def start(self) -> None:
        environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for spec in self.specs:
            self.say("plant", f"starting {spec.name}: {' '.join(spec.argv)}")
            process = subprocess.Popen(
                spec.argv,
                cwd=settings.BASE_DIR,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                # Own process group: the supervisor, not the terminal, decides when and how each stops.
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
            self.processes[spec.name] = process
        # Threads only after every fork: preexec_fn is not safe to run while other threads exist.
        for name, process in self.processes.items():
            pump = threading.Thread(target=self.pump, args=(name, process.stdout), name=f"pump-{name}", daemon=True)
            pump.start()
            self.pumps.append(pump)

    def on_signal(self, signum: int, _frame) -> None:
        if self.stop_signal is None:
            self.stop_signal = signum

    def watch(self) -> str | None:
        """Wait until asked to stop (answer None) or until a process exits on its own (answer why)."""
        while self.stop_signal is None:
            for name, process in self.processes.items():
                code = process.poll()
                if code is not None:
                    return f"{name} exited unexpectedly with status {code}"
            time.sleep(POLL_SECONDS)
        return None

    def stop(self) -> None:
        """SIGTERM every process still running (last started first), SIGKILL what outlives the grace period."""
        running = [(name, process) for name, process in reversed(self.processes.items()) if process.poll() is None]
        for name, process in running:
            self.say("plant", f"stopping {name} (pid {process.pid})")
            process.terminate()
        deadline = time.monotonic() + GRACE_SECONDS
        for name, process in running:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                self.say("plant", f"{name} did not stop within {GRACE_SECONDS} s; killing it")
        for name, process in self.processes.items():
            # The whole group, so no grandchild (a gunicorn worker, a pool process) is left behind.
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
        for pump in self.pumps:
            pump.join(timeout=2)


class Command(BaseCommand):
    help = "Start the web server and every background process in the foreground on 127.0.0.1; Ctrl-C stops them all."
    # Skipped: `make run` has just run them (through migrate), and here they only delay the start.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000, help="Port of the web server (default 8000).")

    def handle(self, *args, port: int, **options):
        if not 1 <= port <= 65535:
            raise CommandError(f"--port must be between 1 and 65535; got {port}.")
        supervisor = Supervisor(process_specs(port=port), sys.stdout)
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, supervisor.on_signal)
        failure = None
        try:
            supervisor.start()
            supervisor.say("plant", f"running on http://127.0.0.1:{port}/ (API docs /api/docs/, admin /admin/); Ctrl-C stops everything")
            failure = supervisor.watch()
        finally:
            if failure:
                supervisor.say("plant", f"{failure}; stopping everything")
            supervisor.stop()
        if failure:
            raise CommandError(failure)
        supervisor.say("plant", "stopped")
