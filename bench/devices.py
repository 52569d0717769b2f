"""Device benchmark: 1,000 simulated Modbus TCP devices read at 1 Hz by the product's collector process.

    flock /tmp/mes-bench.lock .venv/bin/python bench/devices.py [--devices 1000] [--seconds 30] [--per-simulator 200]

What it does, on loopback only, stopping by itself (and cleaning up on Ctrl-C, SIGTERM or failure):

1. Starts ``devices / per-simulator`` device simulator processes (``manage.py device_simulator
   --no-opcua``), each a Modbus TCP server with up to 247 machines as unit ids, free ports.
   The machines behave as in the demo (counting every 2–8 s, changing state, faulting, restarting).
2. Baseline (``--baseline-seconds``, 0 skips it): this process polls every device with a bare
   ``ModbusDriver`` loop (one connection each, phases spread over the interval) and measures the
   drivers alone: reads/s, CPU (getrusage RUSAGE_SELF), read lag. The earlier figure, kept for comparison.
3. Creates a throw-away PostgreSQL database (``--database``, dropped at the end), migrates it and
   seeds it through the product's services (``bench/devices_setup.py``): one piece of equipment
   per simulated machine with a device mapping to its unit id, and a running operation on
   ``--running`` of them so their counts become confirmations (the rest: unassigned production).
4. Starts ``manage.py run_collector --stats-seconds 1 --stats-file …`` as a separate process — the
   real collector: a reader per machine, readings recorded in the database, windows confirmed,
   states kept — and after ``--warmup`` seconds measures it for ``--seconds``: reads/s, failed
   reads and read lag percentiles come from the collector's own statistics (from when a read was
   due to when its values were in hand; a histogram with 10 % wide buckets, so a percentile is
   the bucket's upper bound), its CPU from /proc/<pid>/stat (all its threads, database calls
   included; the PostgreSQL backends' CPU is shown apart).
5. Prints the figures and the targets with PASS/FAIL, stops everything (SIGTERM, then SIGKILL),
   drops the database, and exits 0 only if every target passes.

The simulators, PostgreSQL and whatever else runs share the machine's cores with the collector,
so the lag figures are a ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import importlib.util
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pymodbus

from bench.common import (
    database_create,
    database_drop,
    postgres_backends,
    process_cpu_seconds,
    product_env,
)
from shopfloor.devices import DeviceError, parse_device_config
from shopfloor.devices.modbus import ModbusDriver
from simulators.devices.client import (
    DeviceSimulatorProcess,
    modbus_mapping,
    start_device_simulator,
)
from simulators.devices.server import MAX_MACHINES


def _load_stats_module():
    """``shopfloor.collector.stats`` without the package's ``__init__`` (which needs Django set up)."""
    spec = importlib.util.spec_from_file_location("collector_stats", ROOT / "shopfloor" / "collector" / "stats.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


stats_between = _load_stats_module().stats_between

# The targets: a thousand devices read once a second on at most one core, 99 % of reads within a second
# of being due, at least 99 % of the reads due made and at most 0.1 % of them failed.
TARGET_DEVICES = 1000
TARGET_CORES = 1.0
TARGET_P99_LAG_S = 1.0
MIN_RATE_SHARE = 0.99  # reads/s must reach 99 % of devices / interval
MAX_ERROR_SHARE = 0.001


@dataclass
class Measurements:
    window_start: float = 0.0
    window_end: float = 0.0
    lags: list[float] = field(default_factory=list)
    reads: int = 0
    errors: int = 0
    error_examples: list[str] = field(default_factory=list)

    def record(self, due: float, done: float, error: str | None) -> None:
        if not self.window_start <= due < self.window_end:
            return
        if error is None:
            self.reads += 1
            self.lags.append(done - due)
        else:
            self.errors += 1
            if len(self.error_examples) < 5:
                self.error_examples.append(error)


async def poll_device(
    driver: ModbusDriver, first_due: float, interval: float, until: float, results: Measurements
) -> None:
    due = first_due
    while due < until:
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            await driver.read()
            error = None
        except DeviceError as failure:
            error = str(failure)
        results.record(due, time.monotonic(), error)
        due += interval


async def run_poller(
    drivers: list[ModbusDriver], *, interval: float, warmup: float, seconds: float
) -> tuple[Measurements, float, float]:
    """Poll every driver on its schedule; returns the measurements, CPU seconds and wall seconds of the window."""
    connect_limit = asyncio.Semaphore(100)

    async def connect(driver: ModbusDriver) -> None:
        async with connect_limit:
            await driver.connect()

    await asyncio.gather(*(connect(driver) for driver in drivers))
    start = time.monotonic() + 0.5
    results = Measurements(window_start=start + warmup, window_end=start + warmup + seconds)
    until = results.window_end
    tasks = [
        asyncio.create_task(
            poll_device(driver, start + interval * index / len(drivers), interval, until, results)
        )
        for index, driver in enumerate(drivers)
    ]
    await asyncio.sleep(max(0.0, results.window_start - time.monotonic()))
    cpu_before, wall_before = _cpu_seconds(), time.monotonic()
    await asyncio.sleep(max(0.0, results.window_end - time.monotonic()))
    cpu_after, wall_after = _cpu_seconds(), time.monotonic()
    await asyncio.gather(*tasks)
    await asyncio.gather(*(driver.close() for driver in drivers))
    return results, cpu_after - cpu_before, wall_after - wall_before


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU of another process (Linux /proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def start_simulators(devices: int, per_simulator: int) -> list[DeviceSimulatorProcess]:
    sizes = [per_simulator] * (devices // per_simulator) + (
        [devices % per_simulator] if devices % per_simulator else []
    )
    with ThreadPoolExecutor(max_workers=len(sizes)) as pool:
        futures = [
            pool.submit(start_device_simulator, machines=size, opcua_port=None, seed=index + 1)
            for index, size in enumerate(sizes)
        ]
        simulators = []
        failure = None
        for future in futures:
            try:
                simulators.append(future.result())
            except Exception as error:  # noqa: BLE001 - the others are stopped below, then it is raised
                failure = failure or error
    if failure is not None:
        for simulator in simulators:
            simulator.stop()
        raise failure
    return simulators


@dataclass
class CollectorRun:
    period: dict  # stats_between of the collector's own snapshots
    proc_cpu_seconds: float  # /proc figure over the same bench-side window
    wall_seconds: float
    postgres_cpu_seconds: float
    simulator_cpu_seconds: float
    outcome: dict[str, int]
    log_errors: list[str]


def django_env(database_url: str, var_dir: Path) -> dict[str, str]:
    # The ERP-sync kick after a confirmation stays in the collector's process (no shared broker fills up).
    env = product_env(database_url, var_dir, LOG_LEVEL="INFO", CELERY_BROKER_URL="memory://")
    env.pop("REDIS_URL", None)
    return env


def read_stats(path: Path, *, wait_for: float = 0.0, timeout: float = 30.0) -> dict:
    """The collector's stats file, once its snapshot is newer than ``wait_for`` (monotonic)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            snapshot = json.loads(path.read_text())
            if snapshot["monotonic"] >= wait_for:
                return snapshot
        except (OSError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the collector wrote no stats to {path} in {timeout:g} s")
        time.sleep(0.1)


def collector_outcome(database_url: str) -> dict[str, int]:
    import psycopg

    queries = {
        "confirmations": "SELECT count(*) FROM mes_confirmation WHERE station LIKE 'BENCH-M%'",
        "confirmed_good": "SELECT coalesce(sum(good_qty), 0)::bigint FROM mes_confirmation WHERE station LIKE 'BENCH-M%'",
        "unassigned_windows": "SELECT count(*) FROM shopfloor_unassignedproduction",
        "state_intervals": "SELECT count(*) FROM shopfloor_equipmentstate",
        "counters_pending": "SELECT coalesce(sum(pending), 0)::bigint FROM shopfloor_counterstate",
    }
    figures = {}
    with psycopg.connect(database_url) as connection:
        for name, sql in queries.items():
            try:
                figures[name] = int(connection.execute(sql).fetchone()[0])
            except psycopg.Error as error:
                connection.rollback()
                figures[name] = -1
                print(f"[check] {name}: {error}".splitlines()[0], flush=True)
    return figures


def run_collector(
    options, simulators: list[DeviceSimulatorProcess], database_url: str, work_dir: Path
) -> CollectorRun:
    env = django_env(database_url, work_dir)
    if options.db_threads:
        env["COLLECTOR_DB_THREADS"] = str(options.db_threads)
    print(f"[setup] database {options.database}: create, migrate, seed …", flush=True)
    database_create(options.server, options.database)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    seeded = subprocess.run(
        [
            sys.executable, "-m", "bench.devices_setup",
            "--simulators", json.dumps([[s.modbus_port, s.machines] for s in simulators]),
            "--running", str(options.running), "--interval", str(options.interval),
        ],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True,
    )
    print(f"[setup] seeded: {seeded.stdout.strip()}", flush=True)
    stats_path = work_dir / "collector-stats.json"
    log_path = work_dir / "collector.log"
    command = [
        sys.executable, "manage.py", "run_collector", "--stats-seconds", "1", "--stats-file", str(stats_path),
        "--window-seconds", str(options.window_seconds),
    ]
    print(f"[run] {' '.join(command[1:])}", flush=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        started = time.monotonic()
        read_stats(stats_path, timeout=60)
        window_start = started + options.warmup
        time.sleep(max(0.0, window_start - time.monotonic()))
        if process.poll() is not None:
            raise RuntimeError(f"the collector exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        backends = postgres_backends(database_url, options.database)
        simulator_pids = [s.process.pid for s in simulators]
        # An overloaded collector writes its stats late: that shows in the figures, it is not an error.
        before = read_stats(stats_path, wait_for=time.monotonic() - 0.05, timeout=60)
        profiler = None
        if options.profile:
            profiler = subprocess.Popen(
                ["py-spy", "record", "--pid", str(process.pid), "--threads", "--nonblocking", "--format", "raw",
                 "--duration", str(int(options.seconds)), "--output", options.profile],
                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            )
        proc_before, wall_before = process_cpu_seconds(process.pid), time.monotonic()
        pg_cpu_start = {pid: process_cpu_seconds(pid) for pid in backends}
        pg_before = sum(pg_cpu_start.values())
        sim_before = sum(process_cpu_seconds(pid) for pid in simulator_pids)
        time.sleep(options.seconds)
        after = read_stats(stats_path, wait_for=time.monotonic() - 0.05, timeout=60)
        if profiler is not None:
            profiler.wait(timeout=30)
        proc_after, wall_after = process_cpu_seconds(process.pid), time.monotonic()
        # Only backends alive at both ends (a replaced connection would count negative).
        pg_after = sum(process_cpu_seconds(pid) for pid in backends if Path(f"/proc/{pid}").exists())
        pg_before -= sum(pg_cpu_start[pid] for pid in backends if not Path(f"/proc/{pid}").exists())
        sim_after = sum(process_cpu_seconds(pid) for pid in simulator_pids)
        if process.poll() is not None:
            raise RuntimeError(f"the collector exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
    finally:
        collector_stop(process)
    log_text = log_path.read_text(errors="replace")
    errors = [line for line in log_text.splitlines() if "ERROR" in line or "Traceback" in line]
    stats_lines = [line for line in log_text.splitlines() if " reads/s, " in line]
    if options.verbose:
        print("\n".join(stats_lines[-5:]))
    return CollectorRun(
        period=stats_between(before, after),
        proc_cpu_seconds=proc_after - proc_before,
        wall_seconds=wall_after - wall_before,
        postgres_cpu_seconds=pg_after - pg_before,
        simulator_cpu_seconds=sim_after - sim_before,
        outcome=collector_outcome(database_url),
        log_errors=errors[:5],
    )


def collector_stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=TARGET_DEVICES)
    parser.add_argument(
        "--per-simulator", type=int, default=200, help=f"machines per simulator process (≤ {MAX_MACHINES})"
    )
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between reads of one device")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds from the collector's start to the measurement")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured seconds (the run stops by itself)")
    parser.add_argument("--baseline-seconds", type=float, default=10.0, help="driver-only baseline; 0 skips it")
    parser.add_argument("--running", type=int, default=200, help="machines with a running operation")
    parser.add_argument(
        "--window-seconds", type=float, default=60.0,
        help="the collector's confirmation window (the product default, 60; shorter means more confirmations to write)",
    )
    parser.add_argument("--db-threads", type=int, default=None, help="COLLECTOR_DB_THREADS (default: the product's, 2)")
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="mes_bench_devices")
    parser.add_argument("--profile", metavar="PATH", help="py-spy the collector over the measured window (raw stacks)")
    parser.add_argument("--verbose", action="store_true", help="print the collector's last stats log lines")
    options = parser.parse_args()
    if options.profile and shutil.which("py-spy") is None:
        parser.error("--profile needs py-spy on the PATH: pip install py-spy")
    if not 1 <= options.per_simulator <= MAX_MACHINES:
        parser.error(f"--per-simulator must be 1…{MAX_MACHINES}")
    if not 1.0 <= options.seconds <= 600 or not 2 <= options.warmup <= 120 or not 0 <= options.baseline_seconds <= 120:
        parser.error("--seconds must be 1…600, --warmup 2…120 and --baseline-seconds 0…120")
    if not options.database.startswith("mes_bench"):
        parser.error("--database must start with mes_bench (it is dropped at the end)")

    # A SIGTERM (e.g. from a CI time-out) still runs the finally below, so nothing is left behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    simulators: list[DeviceSimulatorProcess] = []
    database_url = f"{options.server}/{options.database}"
    baseline = None
    created = False
    try:
        print(f"[setup] {options.devices} machines in simulators of {options.per_simulator} …", flush=True)
        simulators = start_simulators(options.devices, options.per_simulator)
        if options.baseline_seconds:
            print(f"[baseline] bare ModbusDriver loop in this process, {options.baseline_seconds:g} s …", flush=True)
            drivers = [
                ModbusDriver(parse_device_config(modbus_mapping(s.modbus_port, unit, poll_interval_s=options.interval)))
                for s in simulators
                for unit in range(1, s.machines + 1)
            ]
            baseline = asyncio.run(
                run_poller(drivers, interval=options.interval, warmup=2.0, seconds=options.baseline_seconds)
            )
        with tempfile.TemporaryDirectory(prefix="mes-bench-devices-") as work_dir:
            created = True
            collected = run_collector(options, simulators, database_url, Path(work_dir))
    finally:
        for simulator in simulators:
            simulator.stop()
        if created:
            try:
                database_drop(options.server, options.database)
            except Exception as error:  # noqa: BLE001 - reported; the run's own error matters more
                print(f"[cleanup] could not drop {options.database}: {error}", file=sys.stderr)
    return report(options, baseline, collected, len(simulators), time.monotonic() - started, database_url)


def report(options, baseline, run: CollectorRun, processes: int, total_seconds: float, database_url: str) -> int:
    period = run.period
    expected_rate = options.devices / options.interval
    cores = run.proc_cpu_seconds / run.wall_seconds
    cpu_per_thousand = run.proc_cpu_seconds / period["reads"] * 1000 if period["reads"] else float("inf")
    error_share = period["failures"] / max(1, period["reads"] + period["failures"])
    cpu_model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
        platform.processor() or "unknown CPU",
    )

    print()
    print(f"Device benchmark — {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M UTC}")
    print(
        f"machine: {os.cpu_count()} cores ({cpu_model}), load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}, "
        f"Python {platform.python_version()}, pymodbus {pymodbus.__version__}"
    )
    print(
        f"setup: {options.devices} Modbus TCP devices in {processes} simulator processes, one connection each, "
        f"read every {options.interval:g} s; {options.running} with a running operation; confirmation window "
        f"{options.window_seconds:g} s ({total_seconds:.0f} s in all)"
    )
    if baseline is not None:
        results, cpu_seconds, wall_seconds = baseline
        p50, p90, p99 = (percentile(results.lags, share) for share in (0.50, 0.90, 0.99))
        print(
            f"baseline (bare ModbusDriver loop, no database, {options.baseline_seconds:g} s): "
            f"{results.reads / options.baseline_seconds:,.0f} reads/s, {results.errors} failed, "
            f"{cpu_seconds / wall_seconds:.2f} cores = {cpu_seconds / max(results.reads, 1) * 1000:.3f} CPU s per 1,000 reads; "
            f"lag p50 {p50 * 1000:.1f} ms, p90 {p90 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"
        )
    print(
        f"collector (manage.py run_collector, {run.wall_seconds:.1f} s measured after {options.warmup:g} s warm-up):"
    )
    print(
        f"  reads:   {period['reads']} ok, {period['failures']} failed — {period['reads_per_s']:,.0f} reads/s "
        f"(due: {expected_rate:,.0f}/s)"
    )
    print(
        f"  CPU:     {run.proc_cpu_seconds:.2f} s over {run.wall_seconds:.1f} s = {cores:.2f} cores (/proc; its own "
        f"getrusage: {period['cores']:.2f}); {cpu_per_thousand:.3f} CPU s per 1,000 reads"
    )
    print(
        f"  read lag (due → values in hand, bucket upper bounds): p50 {period['lag_p50_s'] * 1000:.1f} ms, "
        f"p90 {period['lag_p90_s'] * 1000:.1f} ms, p99 {period['lag_p99_s'] * 1000:.1f} ms"
    )
    print(
        f"  others (for reference): PostgreSQL backends {run.postgres_cpu_seconds / run.wall_seconds:.2f} cores, "
        f"simulators {run.simulator_cpu_seconds / run.wall_seconds:.2f} cores"
    )
    print(f"  recorded by the collector: {', '.join(f'{k} {v:,}' for k, v in run.outcome.items())}")
    for line in run.log_errors:
        print(f"  collector log: {line}")

    checks = [
        (f"devices ≥ {TARGET_DEVICES}", options.devices >= TARGET_DEVICES, f"{options.devices}"),
        (
            f"reads/s ≥ {MIN_RATE_SHARE:.0%} of due",
            period["reads_per_s"] >= MIN_RATE_SHARE * expected_rate,
            f"{period['reads_per_s']:,.0f}/s",
        ),
        (f"collector ≤ {TARGET_CORES:g} core", cores <= TARGET_CORES, f"{cores:.2f}"),
        (
            f"read lag p99 ≤ {TARGET_P99_LAG_S:g} s",
            period["lag_p99_s"] <= TARGET_P99_LAG_S,
            f"{period['lag_p99_s'] * 1000:.0f} ms",
        ),
        (f"failed reads ≤ {MAX_ERROR_SHARE:.1%}", error_share <= MAX_ERROR_SHARE, f"{error_share:.3%}"),
        ("counts became confirmations", run.outcome.get("confirmations", 0) > 0 or options.running == 0,
         f"{run.outcome.get('confirmations', 0)}"),
        ("collector log without errors", not run.log_errors, f"{len(run.log_errors)}"),
    ]
    for name, passed, value in checks:
        print(f"{'PASS' if passed else 'FAIL'}  {name}: {value}")
    passed_all = all(passed for _, passed, _ in checks)
    print("PASS" if passed_all else "FAIL")
    return 0 if passed_all else 1


if __name__ == "__main__":
    sys.exit(main())
