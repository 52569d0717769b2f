"""How a simulated machine behaves, with no sockets: a seeded, time-driven model.

``Machine.advance(now)`` replays every event up to ``now`` in time order: a part completes each
cycle while running (good, or scrap with ``scrap_rate``), a run ends after a random time (idle,
or down with an alarm code for a share of them), idle and down end after theirs, and a PLC
restart now and then puts both counters back to 0. Every random draw happens at an event, in
order, from the machine's own ``random.Random(f"{seed}:{number}")``, so the same seed gives the
same history however often ``advance`` is called. Times are seconds on any monotonic clock.

Control (the simulator's HTTP API calls these): ``set_state`` (which also stops automatic state
changes, faults and restarts until ``set_automatic(True)``), ``set_cycle_time``,
``reset_counters``, ``set_counts``, and ``answering`` (a machine that stops answering goes on
producing: its counters have moved when it answers again).
"""

from __future__ import annotations

import enum
import random
from dataclasses import asdict, dataclass

COUNTER_MODULUS = 2**32  # the PLC counters are uint32 and roll over
FAULT_CODES = (101, 205, 310, 412, 550)  # motor overload, jam, emergency stop, low air, guard open


class MachineState(enum.StrEnum):
    RUNNING = "running"
    IDLE = "idle"
    DOWN = "down"


# Codes in the state register.
STATE_CODES = {MachineState.IDLE: 0, MachineState.RUNNING: 1, MachineState.DOWN: 2}


@dataclass
class MachineBehaviour:
    """The dice of the automatic mode; all durations are means of exponential draws, in seconds."""

    mean_run_s: float = 900.0
    mean_idle_s: float = 120.0
    mean_down_s: float = 180.0
    fault_share: float = 0.3  # share of runs that end in a fault (down) rather than idle
    restarts_per_hour: float = 0.1  # PLC restarts: counters back to 0
    scrap_rate: float = 0.02


@dataclass(frozen=True)
class MachineStatus:
    number: int
    name: str
    state: str
    running: bool
    good_count: int
    scrap_count: int
    alarm: int
    cycle_time_s: float
    scrap_rate: float
    automatic: bool
    answering: bool
    restarts: int

    def as_json(self) -> dict:
        return asdict(self)


class Machine:
    def __init__(
        self,
        number: int,
        *,
        seed: int,
        now: float,
        cycle_time_s: float | None = None,
        behaviour: MachineBehaviour | None = None,
        automatic: bool = True,
    ) -> None:
        self.number = number
        self.name = f"Machine{number:02d}"
        self.behaviour = behaviour or MachineBehaviour()
        self._random = random.Random(f"{seed}:{number}")
        self.cycle_time_s = (
            cycle_time_s if cycle_time_s is not None else round(self._random.uniform(2.0, 8.0), 1)
        )
        self.scrap_rate = self.behaviour.scrap_rate
        self.automatic = automatic
        self.answering = True
        self.good_count = 0
        self.scrap_count = 0
        self.alarm = 0
        self.restarts = 0
        self.version = 0  # bumped on every change of what the machine shows
        self.now = now
        self.state = MachineState.RUNNING
        self._next_part_at: float | None = now + self.cycle_time_s
        self._state_ends_at: float | None = None
        self._restart_at: float | None = None
        if automatic:
            self._schedule_automatic(now)

    # -- time ----------------------------------------------------------------------------

    def advance(self, now: float) -> None:
        """Replay every event up to ``now``; calling it with an earlier time does nothing."""
        while True:
            due = [
                (at, order)
                for order, at in enumerate(
                    (self._next_part_at, self._state_ends_at, self._restart_at)
                )
                if at is not None and at <= now
            ]
            if not due:
                break
            at, order = min(due)
            self.now = at
            if order == 0:
                self._complete_part()
            elif order == 1:
                self._end_state()
            else:
                self._restart()
        self.now = max(self.now, now)

    def _complete_part(self) -> None:
        if self._random.random() < self.scrap_rate:
            self.scrap_count = (self.scrap_count + 1) % COUNTER_MODULUS
        else:
            self.good_count = (self.good_count + 1) % COUNTER_MODULUS
        assert self._next_part_at is not None
        self._next_part_at += self.cycle_time_s
        self.version += 1

    def _end_state(self) -> None:
        if self.state is MachineState.RUNNING:
            if self._random.random() < self.behaviour.fault_share:
                self._enter(MachineState.DOWN, alarm=self._random.choice(FAULT_CODES))
            else:
                self._enter(MachineState.IDLE)
        else:
            self._enter(MachineState.RUNNING)
        self._state_ends_at = self.now + self._draw(self._mean_duration(self.state))

    def _restart(self) -> None:
        self.good_count = self.scrap_count = 0
        self.restarts += 1
        self.version += 1
        self._restart_at = self.now + self._draw(3600.0 / self.behaviour.restarts_per_hour)

    def _enter(self, state: MachineState, *, alarm: int = 0) -> None:
        self.state = state
        self.alarm = alarm if state is MachineState.DOWN else 0
        self._next_part_at = self.now + self.cycle_time_s if state is MachineState.RUNNING else None
        self.version += 1

    def _mean_duration(self, state: MachineState) -> float:
        return {
            MachineState.RUNNING: self.behaviour.mean_run_s,
            MachineState.IDLE: self.behaviour.mean_idle_s,
            MachineState.DOWN: self.behaviour.mean_down_s,
        }[state]

    def _draw(self, mean: float) -> float:
        return self._random.expovariate(1.0 / mean) if mean > 0 else float("inf")

    def _schedule_automatic(self, now: float) -> None:
        self._state_ends_at = now + self._draw(self._mean_duration(self.state))
        restarts = self.behaviour.restarts_per_hour
        self._restart_at = now + self._draw(3600.0 / restarts) if restarts > 0 else None

    # -- control -------------------------------------------------------------------------

    def set_state(self, state: MachineState | str, *, now: float, alarm: int | None = None) -> None:
        """Put the machine in ``state`` and keep it there: automatic changes stop."""
        self.advance(now)
        state = MachineState(state)
        if state is MachineState.DOWN and alarm is None:
            alarm = self.alarm or FAULT_CODES[0]
        self.set_automatic(False, now=now)
        if state is not self.state or (alarm or 0) != self.alarm:
            self._enter(state, alarm=alarm or 0)

    def set_automatic(self, automatic: bool, *, now: float) -> None:
        self.advance(now)
        if automatic == self.automatic:
            return
        self.automatic = automatic
        if automatic:
            self._schedule_automatic(now)
        else:
            self._state_ends_at = self._restart_at = None
        self.version += 1

    def set_cycle_time(self, cycle_time_s: float, *, now: float) -> None:
        if not cycle_time_s > 0:
            raise ValueError("cycle_time_s must be positive")
        self.advance(now)
        self.cycle_time_s = float(cycle_time_s)
        if self.state is MachineState.RUNNING:
            self._next_part_at = now + self.cycle_time_s  # the part in progress starts over
        self.version += 1

    def set_scrap_rate(self, scrap_rate: float, *, now: float) -> None:
        if not 0.0 <= scrap_rate <= 1.0:
            raise ValueError("scrap_rate must be between 0 and 1")
        self.advance(now)
        self.scrap_rate = float(scrap_rate)
        self.version += 1

    def set_counts(
        self, *, now: float, good_count: int | None = None, scrap_count: int | None = None
    ) -> None:
        self.advance(now)
        for value in (good_count, scrap_count):
            if value is not None and not 0 <= value < COUNTER_MODULUS:
                raise ValueError(f"counts must be between 0 and {COUNTER_MODULUS - 1}")
        if good_count is not None:
            self.good_count = good_count
        if scrap_count is not None:
            self.scrap_count = scrap_count
        self.version += 1

    def reset_counters(self, *, now: float) -> None:
        """A PLC restart: both counters back to 0 (the part in progress starts over)."""
        self.advance(now)
        self.good_count = self.scrap_count = 0
        self.restarts += 1
        if self.state is MachineState.RUNNING:
            self._next_part_at = now + self.cycle_time_s
        self.version += 1

    def set_answering(self, answering: bool) -> None:
        if answering != self.answering:
            self.answering = answering
            self.version += 1

    def status(self) -> MachineStatus:
        return MachineStatus(
            number=self.number,
            name=self.name,
            state=self.state.value,
            running=self.state is MachineState.RUNNING,
            good_count=self.good_count,
            scrap_count=self.scrap_count,
            alarm=self.alarm,
            cycle_time_s=self.cycle_time_s,
            scrap_rate=self.scrap_rate,
            automatic=self.automatic,
            answering=self.answering,
            restarts=self.restarts,
        )
