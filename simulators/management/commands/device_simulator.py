"""``python manage.py device_simulator``: simulated machines on Modbus TCP and OPC UA, until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from simulators.devices.client import READY_MARKER
from simulators.devices.modbus_server import __doc__ as MODBUS_DOC
from simulators.devices.server import (
    DEFAULT_OPCUA_PASSWORD,
    DEFAULT_OPCUA_USER,
    MAX_MACHINES,
    DeviceSimulator,
    DeviceSimulatorConfig,
)

_REGISTER_MAP = MODBUS_DOC.split("Register map (addresses from 0, as on the wire):", 1)[1].rstrip()

EPILOG = f"""\
Each machine N is Modbus unit id N and OPC UA object ns=2;s=MachineNN (Machine01, …) with the
variables GoodCount, ScrapCount, Running, State, Alarm, CycleTime (ns=2;s=Machine01.GoodCount).
OPC UA: anonymous, or user {DEFAULT_OPCUA_USER} / {DEFAULT_OPCUA_PASSWORD} (change with --opcua-user/--opcua-password).

Modbus register map (holding and input registers alike; read-only):{_REGISTER_MAP}

Control API on --control-port (JSON; default --modbus-port + 1, any free port when that is 0):
  GET  /__sim__/health | GET /__sim__/machines | GET /__sim__/machines/N
  POST /__sim__/machines/N  {{"state": "running|idle|down", "alarm": 205, "cycle_time_s": 2.5,
        "scrap_rate": 0.05, "automatic": true, "good_count": 0, "scrap_count": 0, "answering": false}}
  POST /__sim__/machines/N/reset          PLC restart: counters to 0
  POST /__sim__/machines/N/stop|resume    stop answering (Modbus: no response at all;
                                          OPC UA: BadNoCommunication) / answer again
  POST /__sim__/stop|resume               the same for every machine
  e.g. curl -X POST localhost:5021/__sim__/machines/1 -d '{{"state": "down", "alarm": 205}}'

Only 127.0.0.1 is ever bound. Port 0 picks a free port; the chosen ones are printed in the
line "{READY_MARKER} {{...}}". The same --seed gives the same machine histories.
"""


def _cycle_times(text: str) -> tuple[float, ...]:
    """``--cycle-time``: ``2.5`` or ``53,99,396,33`` (seconds per part), each a positive number."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not seconds per part: {text!r} (e.g. 2.5 or 53,99,396,33)") from None
    if not all(0 < value <= 86400 for value in values):
        raise argparse.ArgumentTypeError(f"seconds per part must be above 0 and at most 86400: {text!r}")
    return values


class Command(BaseCommand):
    help = "Run simulated machines (Modbus TCP and OPC UA servers) on 127.0.0.1, controllable at run time."
    requires_system_checks = ()  # the simulator touches no model and no database

    def create_parser(
        self, prog_name: str, subcommand: str, **kwargs: Any
    ) -> argparse.ArgumentParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        parser.epilog = EPILOG
        return parser

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--machines",
            type=int,
            default=4,
            help=f"how many machines, 1…{MAX_MACHINES} (default 4)",
        )
        parser.add_argument(
            "--modbus-port",
            type=int,
            default=5020,
            help="Modbus TCP port (default 5020; 0: any free)",
        )
        parser.add_argument(
            "--opcua-port", type=int, default=4840, help="OPC UA port (default 4840; 0: any free)"
        )
        parser.add_argument("--no-opcua", action="store_true", help="run no OPC UA server")
        parser.add_argument(
            "--control-port",
            type=int,
            default=None,
            help="control API port (default --modbus-port + 1; 0: any free)",
        )
        parser.add_argument(
            "--seed", type=int, default=1, help="seed of every machine's dice (default 1)"
        )
        parser.add_argument(
            "--cycle-time",
            type=_cycle_times,
            default=(),
            help="seconds per part: one number for every machine, or one per machine separated by "
            "commas, 1, 2, … (default: 2–8 s each)",
        )
        parser.add_argument(
            "--steady",
            action="store_true",
            help="no random state changes, faults or restarts: only what you ask for",
        )
        parser.add_argument("--opcua-user", default=DEFAULT_OPCUA_USER)
        parser.add_argument("--opcua-password", default=DEFAULT_OPCUA_PASSWORD)
        parser.add_argument(
            "--verbose",
            action="store_true",
            help="let pymodbus and asyncua log at the project's level",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        control_port = options["control_port"]
        if control_port is None:
            control_port = options["modbus_port"] + 1 if options["modbus_port"] else 0
        try:
            config = DeviceSimulatorConfig(
                machines=options["machines"],
                modbus_port=options["modbus_port"],
                opcua_port=None if options["no_opcua"] else options["opcua_port"],
                control_port=control_port,
                seed=options["seed"],
                cycle_time_s=options["cycle_time"][0] if len(options["cycle_time"]) == 1 else None,
                cycle_times_s=options["cycle_time"] if len(options["cycle_time"]) > 1 else (),
                automatic=not options["steady"],
                opcua_username=options["opcua_user"],
                opcua_password=options["opcua_password"],
            )
        except ValueError as error:
            raise CommandError(str(error)) from None
        if not options["verbose"]:
            # Logging is the project's (root at INFO); quiet the libraries' per-connection chatter,
            # and asyncua's warning that a password may travel in plain text: on loopback, by design.
            logging.getLogger("pymodbus").setLevel(logging.WARNING)
            logging.getLogger("asyncua").setLevel(logging.ERROR)
        try:
            asyncio.run(self._serve(config))
        except OSError as error:
            raise CommandError(f"cannot start the device simulator: {error}") from None

    async def _serve(self, config: DeviceSimulatorConfig) -> None:
        simulator = DeviceSimulator(config)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signal_number, stop.set)
        try:
            await simulator.start()
            health = simulator.health()
            opcua = f", OPC UA at {health['opcua_endpoint']}" if health["opcua_endpoint"] else ""
            self.stdout.write(
                f"Device simulator: {health['machines']} machines on Modbus TCP 127.0.0.1:{health['modbus_port']}"
                f"{opcua}; control API on http://127.0.0.1:{health['control_port']}/__sim__/"
            )
            ready = {
                key: health[key]
                for key in ("modbus_port", "opcua_port", "control_port", "machines")
            }
            self.stdout.write(f"{READY_MARKER} {json.dumps(ready)}")
            self.stdout.flush()
            await simulator.run(stop)
        finally:
            await simulator.close()
