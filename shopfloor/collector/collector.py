"""The device collector: one asyncio task per machine, reading it at its poll interval.

    collector = Collector(CollectorOptions.from_settings(work_centers=("WC-PRESS",)))
    await collector.run(stop)          # until the asyncio.Event ``stop`` is set

Each ``DeviceReader`` keeps its driver's connection open and reads every ``poll_interval_s``
(machines started together read at phases spread over the interval). Recording runs beside
reading, so a slow database never delays a read: while a machine's recording is under way its
newer readings replace the one waiting (counters are totals, so nothing is lost; a counter that
went down waits for the reading before it to be recorded).
A reading goes to ``shopfloor.production.reading_record`` when it differs from the last one
recorded, or at least every ``HEARTBEAT_SECONDS`` (so an unchanged machine costs no database
work; a machine without a running signal every half ``idle_after_s`` at most, so that the end of
its count activity turns it idle in time). A failed read is retried with exponential back-off (from the poll interval up to
``backoff_cap_s``); once a machine has not answered for ``unanswered_after_s`` (at least three
poll intervals) it is marked unknown with an open exception, and its first answer closes it.
An OPC UA server that reports every signal of a machine as bad counts as not answering.

The collector itself closes ended windows on a timer (``windows_confirm_due``, for its work
centers), reloads the mappings every ``reload_s`` (new, changed, removed and disabled
mappings, and readers that died, are picked up) and, on ``stop``, lets every reader finish its
step and closes the connections. Every ``stats_s`` it logs its reads/s and read lag percentiles
(``shopfloor.collector.stats``) and, given ``stats_file``, keeps the figures in that file. Database work runs on ``Database``'s threads; nothing here
touches the ORM on the event loop, and nothing here touches the ERP queue.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import json
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError

from common.crypto import unreadable_paths
from shopfloor.collector.database import Database
from shopfloor.collector.stats import ReadStats, stats_between, stats_file_write, stats_line
from shopfloor.devices.base import DeviceUnavailable, Snapshot, driver_for, utc_now
from shopfloor.devices.config import (
    DeviceConfig,
    DeviceConfigError,
    FieldProblem,
    ModbusConfig,
    ModbusRegisterSignal,
    parse_device_config,
)
from shopfloor.devices.networks import device_host_refusal
from shopfloor.production import (
    COUNTER_SIGNALS,
    DEFAULT_COUNTER_MODULUS,
    CollectorMapping,
    collector_mappings,
    confirm_window_seconds,
    device_answered,
    device_unanswered,
    idle_after_seconds,
    reading_record,
    windows_confirm_due,
)
from shopfloor.services import inspection_held_confirm

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10.0
STOP_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class CollectorOptions:
    work_centers: tuple[str, ...] = ()  # empty: every enabled mapping
    window_seconds: float = 60.0
    idle_after_s: float = 60.0
    unanswered_after_s: float = 5.0
    backoff_cap_s: float = 30.0
    reload_s: float = 30.0
    db_threads: int = 2  # more threads fight the event loop for the GIL; recordings coalesce instead
    stats_s: float = 60.0  # a log line with reads/s and read lag this often
    stats_file: Path | None = None  # where to keep the latest cumulative figures (JSON), if anywhere
    device_networks: tuple[str, ...] = ()  # where machines may be read (MES_DEVICE_NETWORKS); empty: nowhere

    @classmethod
    def from_settings(cls, **overrides: Any) -> CollectorOptions:
        """The ``COLLECTOR_*`` settings (these defaults without them), then ``overrides`` that are not None."""
        options = cls(
            window_seconds=confirm_window_seconds(),
            idle_after_s=idle_after_seconds(),
            unanswered_after_s=float(getattr(settings, "COLLECTOR_UNANSWERED_AFTER_SECONDS", cls.unanswered_after_s)),
            backoff_cap_s=float(getattr(settings, "COLLECTOR_BACKOFF_CAP_SECONDS", cls.backoff_cap_s)),
            reload_s=float(getattr(settings, "COLLECTOR_RELOAD_SECONDS", cls.reload_s)),
            db_threads=int(getattr(settings, "COLLECTOR_DB_THREADS", cls.db_threads)),
            stats_s=float(getattr(settings, "COLLECTOR_STATS_SECONDS", cls.stats_s)),
            device_networks=tuple(settings.MES_DEVICE_NETWORKS),
        )
        options = replace(options, **{name: value for name, value in overrides.items() if value is not None})
        for name in ("window_seconds", "idle_after_s", "unanswered_after_s", "backoff_cap_s", "reload_s", "db_threads", "stats_s"):
            if not getattr(options, name) > 0:
                raise ValueError(f"{name} must be positive, not {getattr(options, name)!r}")
        return options


def counter_moduli(config: DeviceConfig) -> dict[str, int]:
    """Where each counter rolls over: 16-bit Modbus registers at 2**16, everything else at 2**32."""
    moduli = {}
    for name in COUNTER_SIGNALS:
        signal = config.signals.get(name)
        if isinstance(config, ModbusConfig) and isinstance(signal, ModbusRegisterSignal) and signal.width == 1:
            moduli[name] = 2**16
        else:
            moduli[name] = DEFAULT_COUNTER_MODULUS
    return moduli


def counter_sources(config: DeviceConfig) -> dict[str, str]:
    """A short key per counter for where it is read (address and signal definition, not the poll rate)."""
    return {
        name: hashlib.sha256(
            json.dumps({"address": config.address, "signal": config.signals[name].to_json()}, sort_keys=True).encode()
        ).hexdigest()[:32]
        for name in COUNTER_SIGNALS
        if name in config.signals
    }


def _counter_dropped(earlier: Snapshot, later: Snapshot) -> bool:
    """Whether a counter is lower in ``later`` (a PLC restart or a roll-over)."""
    for name in COUNTER_SIGNALS:
        before, after = earlier.values.get(name), later.values.get(name)
        if before is not None and after is not None and after < before:
            return True
    return False


def _silence(snapshot: Snapshot) -> str | None:
    """Why a snapshot with no value at all means the machine is silent (OPC UA: every node bad)."""
    if snapshot.values or not snapshot.errors:
        return None
    return "; ".join(f"{name}: {error}" for name, error in sorted(snapshot.errors.items()))


class DeviceReader:
    """Reads one machine until stopped; see the module's docstring for what it does with the readings."""

    def __init__(
        self,
        mapping: CollectorMapping,
        config: DeviceConfig,
        options: CollectorOptions,
        database: Database,
        stats: ReadStats | None = None,
    ) -> None:
        self.mapping = mapping
        self.config = config
        self.options = options
        self.database = database
        self.stats = stats or ReadStats()
        self.driver = driver_for(config)
        self.moduli = counter_moduli(config)
        self.sources = counter_sources(config)
        self.task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        # None: not known whether an earlier run left the machine marked (so the first answer says so).
        self._marked_unknown: bool | None = None
        self._last_recorded: dict[str, Any] | None = None
        self._last_recorded_at = 0.0
        # Recording runs beside reading: the reading waiting to be recorded (the newest wins) and its recorder.
        self._pending: Snapshot | None = None
        self._recorder: asyncio.Task[None] | None = None
        self._taken = asyncio.Event()

    @property
    def code(self) -> str:
        return self.mapping.equipment_code

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"collector {self.code}")

    async def stop(self) -> None:
        """Let the reader finish its current step (a read, a database call), then close the connection."""
        self._stop.set()
        if self.task is not None and not self.task.done():
            done, _ = await asyncio.wait({self.task}, timeout=self.config.timeout_s + STOP_GRACE_SECONDS)
            if not done:
                logger.warning("%s: reader did not stop in time; cancelling it", self.code)
                self.task.cancel()
                await asyncio.gather(self.task, return_exceptions=True)
        if self._recorder is not None:
            await asyncio.gather(self._recorder, return_exceptions=True)
        await self.driver.close()

    async def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=seconds)
            except TimeoutError:
                pass

    async def _run(self) -> None:
        poll = self.config.poll_interval_s
        unanswered_after = max(self.options.unanswered_after_s, 3 * poll)
        last_answer = time.monotonic()  # a machine silent from the start is marked once the timeout passes
        failures = 0
        first_failure_at: datetime.datetime | None = None
        # Machines started together read at different moments of the interval, not all at once:
        # a phase from the equipment id (golden-ratio steps spread any set of ids evenly).
        next_read = time.monotonic() + poll * ((self.mapping.equipment_id * 0.6180339887498949) % 1.0)
        await self._sleep(next_read - time.monotonic())
        while not self._stop.is_set():
            due = next_read
            try:
                snapshot: Snapshot | None = await self.driver.read()
                problem = _silence(snapshot)
            except DeviceUnavailable as error:
                snapshot, problem = None, str(error)
            now = time.monotonic()
            if problem is None:
                assert snapshot is not None
                self.stats.read(now - due)
                if failures:
                    logger.info("%s answers again after %d failed reads", self.code, failures)
                failures, first_failure_at, last_answer = 0, None, now
                await self._hand_over(snapshot)
                next_read = max(next_read + poll, now)  # keep the rhythm; skip what was missed
                delay = next_read - now
            else:
                self.stats.failure()
                failures += 1
                first_failure_at = first_failure_at or utc_now()
                if failures == 1:
                    logger.warning("%s: %s", self.code, problem)
                silent_for = now - last_answer
                if self._marked_unknown is not True and silent_for >= unanswered_after:
                    await self._mark_unanswered(first_failure_at, problem)
                # A lost connection backs off; a connected server reporting silence is read at the poll rate.
                delay = min(self.options.backoff_cap_s, poll * 2 ** (failures - 1)) if snapshot is None else poll
                if self._marked_unknown is not True:
                    delay = min(delay, max(unanswered_after - silent_for, 0.0))
                next_read = now + delay
            await self._sleep(delay)

    async def _hand_over(self, snapshot: Snapshot) -> None:
        """Have the snapshot recorded without waiting for the database, so a slow database never delays a read.

        While a recording is under way, newer readings replace the one waiting (the counters keep
        the total, so only the record count shrinks), except after a counter went down: the
        waiting reading holds the last value before the drop, so it must be recorded first.
        """
        while (
            self._pending is not None
            and self._recorder is not None
            and not self._recorder.done()
            and _counter_dropped(self._pending, snapshot)
        ):
            self._taken.clear()
            await self._taken.wait()
        self._pending = snapshot
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record_pending(), name=f"collector {self.code} recorder")

    async def _record_pending(self) -> None:
        while self._pending is not None:
            snapshot, self._pending = self._pending, None
            self._taken.set()
            try:
                await self._record(snapshot)
            except Exception:  # noqa: BLE001 - a recorder that died would hold up its reader
                logger.exception("%s: recording a reading failed; the next reading retries", self.code)
                self._last_recorded = None
        self._taken.set()

    async def _drain(self) -> None:
        """Wait until every reading handed over is recorded."""
        while self._recorder is not None and not self._recorder.done():
            await asyncio.gather(self._recorder, return_exceptions=True)

    async def _record(self, snapshot: Snapshot) -> None:
        try:
            if self._marked_unknown is not False:
                await self.database.call(device_answered, equipment_id=self.mapping.equipment_id, at=snapshot.read_at)
                self._marked_unknown = False
                self._last_recorded = None  # record this answer, whatever it shows
            values = dict(snapshot.values)
            # Without a running signal only a recorded reading can notice that parts stopped coming.
            heartbeat = HEARTBEAT_SECONDS if "running" in values else min(HEARTBEAT_SECONDS, self.options.idle_after_s / 2)
            if values == self._last_recorded and time.monotonic() - self._last_recorded_at < heartbeat:
                return
            await self.database.call(
                reading_record,
                equipment_id=self.mapping.equipment_id,
                values=values,
                read_at=snapshot.read_at,
                window_seconds=self.options.window_seconds,
                idle_after_s=self.options.idle_after_s,
                counter_moduli=self.moduli,
                counter_sources=self.sources,
            )
            self._last_recorded, self._last_recorded_at = values, time.monotonic()
        except DatabaseError:
            # Nothing is lost: the counters in the database still hold the last recorded value,
            # so the next reading that gets through counts everything since.
            logger.exception("%s: recording a reading failed; the next reading retries", self.code)
            self._last_recorded = None

    async def _mark_unanswered(self, since: datetime.datetime, problem: str) -> None:
        await self._drain()  # a reading recorded after this would take the machine out of unknown again
        try:
            await self.database.call(
                device_unanswered, equipment_id=self.mapping.equipment_id, since=since, detail=problem
            )
        except DatabaseError:
            logger.exception("%s: marking it unknown failed; retried on the next failed read", self.code)
            return
        self._marked_unknown = True


class Collector:
    def __init__(self, options: CollectorOptions) -> None:
        self.options = options
        self.database = Database(options.db_threads)
        self.readers: dict[int, DeviceReader] = {}
        self.stats = ReadStats()
        # equipment id → a stored mapping that does not parse, or whose host is outside the device networks
        self._refused: dict[int, dict[str, Any]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Collect until ``stop`` is set; then stop every reader and release the database threads."""
        tick = min(1.0, self.options.window_seconds / 4)
        try:
            await self.reload()
            logger.info(
                "collecting from %d machines%s; windows of %g s",
                len(self.readers),
                f" of work centers {', '.join(self.options.work_centers)}" if self.options.work_centers else "",
                self.options.window_seconds,
            )
            next_reload = time.monotonic() + self.options.reload_s
            last_stats = self.stats.snapshot()
            self._stats_file_write(last_stats)
            while not stop.is_set():
                try:
                    await asyncio.wait_for(stop.wait(), timeout=tick)
                except TimeoutError:
                    pass
                if stop.is_set():
                    break
                await self.close_due_windows()
                if time.monotonic() >= next_reload:
                    await self.reload()
                    next_reload = time.monotonic() + self.options.reload_s
                if time.monotonic() >= last_stats["monotonic"] + self.options.stats_s:
                    last_stats = await self.report_stats(last_stats)
        finally:
            await asyncio.gather(*(reader.stop() for reader in self.readers.values()))
            self.readers.clear()
            await asyncio.to_thread(self.database.close)
            logger.info("collector stopped")

    async def report_stats(self, since: dict[str, Any]) -> dict[str, Any]:
        """Log the period since the snapshot ``since``, refresh the stats file; answer the new snapshot."""
        snapshot = self.stats.snapshot(machines=len(self.readers))
        logger.info("%s", stats_line(stats_between(since, snapshot), len(self.readers)))
        await asyncio.to_thread(self._stats_file_write, snapshot)
        return snapshot

    def _stats_file_write(self, snapshot: dict[str, Any]) -> None:
        if self.options.stats_file is None:
            return
        try:
            stats_file_write(self.options.stats_file, snapshot)
        except OSError as error:
            logger.warning("could not write the stats file %s: %s", self.options.stats_file, error)

    async def close_due_windows(self) -> None:
        try:
            await self.database.call(
                windows_confirm_due,
                window_seconds=self.options.window_seconds,
                work_centers=self.options.work_centers,
            )
            # Counts kept because an inspection was due are confirmed once its result is in.
            await self.database.call(inspection_held_confirm, work_centers=self.options.work_centers)
        except DatabaseError:
            logger.exception("closing windows failed; retried on the next tick")

    async def reload(self) -> None:
        """Start readers for new mappings, restart changed or dead ones, stop removed or disabled ones."""
        try:
            mappings = await self.database.call(collector_mappings, work_centers=self.options.work_centers)
        except DatabaseError:
            logger.exception("loading the device mappings failed; keeping the current ones")
            return
        wanted = {mapping.equipment_id: mapping for mapping in mappings}
        for equipment_id in [known for known in self.readers if known not in wanted]:
            logger.info("%s: mapping removed or disabled; stopping its reader", self.readers[equipment_id].code)
            await self.readers.pop(equipment_id).stop()
        for equipment_id, mapping in wanted.items():
            reader = self.readers.get(equipment_id)
            if reader is not None and reader.mapping == mapping and reader.task is not None and not reader.task.done():
                continue
            if reader is not None:
                self._report_end(reader, mapping)
                await self.readers.pop(equipment_id).stop()
            if not await self._host_refused(mapping):
                self._start(mapping)

    def _report_end(self, reader: DeviceReader, mapping: CollectorMapping) -> None:
        task = reader.task
        if task is not None and task.done() and not task.cancelled() and task.exception() is not None:
            logger.error("%s: reader failed; restarting it", reader.code, exc_info=task.exception())
        elif reader.mapping != mapping:
            logger.info("%s: mapping changed; restarting its reader", reader.code)

    async def _host_refused(self, mapping: CollectorMapping) -> bool:
        """Whether the mapping's host is outside the device networks (checked at each start of a reader: the
        mapping may predate the setting, or its name resolve elsewhere now); logged once per stored mapping."""
        try:
            config = parse_device_config(mapping.config)
        except DeviceConfigError:
            return False  # _start says why
        refusal = await asyncio.to_thread(device_host_refusal, config, self.options.device_networks)
        if refusal is None:
            return False
        if self._refused.get(mapping.equipment_id) != mapping.config:
            logger.error(
                "%s: host %s (%s) is outside MES_DEVICE_NETWORKS or link-local, not collecting",
                mapping.equipment_code, refusal.host, refusal.address or "unresolved",
            )
            self._refused[mapping.equipment_id] = mapping.config
        return True

    def _start(self, mapping: CollectorMapping) -> None:
        try:
            unreadable = unreadable_paths(mapping.config)
            if unreadable:  # never log in with a wrong password: wait until it is re-entered
                raise DeviceConfigError([FieldProblem(path, "must be re-entered: MES_SECRETS_KEY cannot decrypt it") for path in unreadable])
            config = parse_device_config(mapping.config)
        except DeviceConfigError as error:
            if self._refused.get(mapping.equipment_id) != mapping.config:
                logger.error("%s: stored mapping is not valid, not collecting: %s", mapping.equipment_code, error)
                self._refused[mapping.equipment_id] = mapping.config
            return
        self._refused.pop(mapping.equipment_id, None)
        reader = DeviceReader(mapping, config, self.options, self.database, self.stats)
        self.readers[mapping.equipment_id] = reader
        reader.start()

