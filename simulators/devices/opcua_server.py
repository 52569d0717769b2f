"""The OPC UA face of the simulated machines: an asyncua server, like a PLC's or a gateway's.

Namespace ``urn:open-mes:device-simulator`` (index 2) holds one object per machine,
``ns=2;s=Machine01``, with the variables ``ns=2;s=Machine01.GoodCount`` (UInt32),
``.ScrapCount`` (UInt32), ``.Running`` (Boolean), ``.State`` (String: running/idle/down),
``.Alarm`` (UInt16) and ``.CycleTime`` (Double, seconds). Values are pushed into the address
space every ``UPDATE_INTERVAL_S`` when they change, so subscriptions see every change.

A machine that stops answering keeps its last values with status ``BadNoCommunication``, as an
OPC UA gateway shows a PLC it lost. Anonymous sessions are accepted; a user name and password
must match the ones the simulator was started with (``BadUserAccessDenied`` otherwise).
Only the None security policy is offered: this is a loopback test peer, not a secured server.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable
from typing import Any

from asyncua import Server, ua
from asyncua.crypto.permission_rules import User, UserRole

from simulators.devices.machine import Machine, MachineState

NAMESPACE_URI = "urn:open-mes:device-simulator"
UPDATE_INTERVAL_S = 0.1

# browse name → (variant type, value from a machine)
VARIABLES: dict[str, tuple[ua.VariantType, Callable[[Machine], Any]]] = {
    "GoodCount": (ua.VariantType.UInt32, lambda machine: machine.good_count),
    "ScrapCount": (ua.VariantType.UInt32, lambda machine: machine.scrap_count),
    "Running": (ua.VariantType.Boolean, lambda machine: machine.state is MachineState.RUNNING),
    "State": (ua.VariantType.String, lambda machine: machine.state.value),
    "Alarm": (ua.VariantType.UInt16, lambda machine: machine.alarm),
    "CycleTime": (ua.VariantType.Double, lambda machine: machine.cycle_time_s),
}
# The node of each signal of the driver's contract, for mappings that point at the simulator.
SIGNAL_VARIABLES = {
    "good_count": "GoodCount",
    "scrap_count": "ScrapCount",
    "running": "Running",
    "alarm": "Alarm",
}


def node_id(machine_name: str, variable: str, namespace_index: int = 2) -> str:
    return f"ns={namespace_index};s={machine_name}.{variable}"


class _Users:
    """Anonymous, or the one user name and password the simulator knows."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password

    def get_user(
        self,
        iserver: Any,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        if username is None:  # anonymous (the None policy offers no certificate tokens)
            return User(role=UserRole.User)
        if username == self.username and password == self.password:
            return User(role=UserRole.User, name=username)
        return None


class OpcUaMachineServer:
    def __init__(
        self,
        machines: list[Machine],
        *,
        host: str,
        port: int,
        username: str,
        password: str,
        clock: Callable[[], float],
        is_answering: Callable[[], bool],
    ) -> None:
        self.machines = machines
        self.host = host
        self.port = port
        self.clock = clock
        self.is_answering = is_answering
        self.server = Server(user_manager=_Users(username, password))
        self.namespace_index = 2
        self._nodes: dict[int, dict[str, ua.NodeId]] = {}
        self._shown: dict[int, tuple[int, bool]] = {}  # machine → (version, answering) last written
        self.task: asyncio.Task[None] | None = None  # the updater; the simulator watches it

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}"

    async def start(self) -> None:
        await self.server.init()
        self.server.set_endpoint(self.endpoint)
        self.server.set_server_name("open-mes device simulator")
        self.server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        self.server.set_identity_tokens([ua.AnonymousIdentityToken, ua.UserNameIdentityToken])
        self.namespace_index = await self.server.register_namespace(NAMESPACE_URI)
        objects = self.server.nodes.objects
        for machine in self.machines:
            folder = await objects.add_object(
                ua.NodeId(machine.name, self.namespace_index),
                ua.QualifiedName(machine.name, self.namespace_index),
            )
            nodes = {}
            for variable, (variant_type, value_of) in VARIABLES.items():
                node = await folder.add_variable(
                    ua.NodeId(f"{machine.name}.{variable}", self.namespace_index),
                    ua.QualifiedName(variable, self.namespace_index),
                    ua.Variant(value_of(machine), variant_type),
                )
                nodes[variable] = node.nodeid
            self._nodes[machine.number] = nodes
        await self.server.start()
        self.task = asyncio.create_task(self._update_loop(), name="opcua-simulator-update")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
        await self.server.stop()

    async def _update_loop(self) -> None:
        while True:
            await self.update()
            await asyncio.sleep(UPDATE_INTERVAL_S)

    async def update(self) -> None:
        """Advance every machine and write what changed into the address space."""
        now = self.clock()
        timestamp = datetime.datetime.now(datetime.UTC)
        server_answering = self.is_answering()
        for machine in self.machines:
            machine.advance(now)
            answering = machine.answering and server_answering
            if self._shown.get(machine.number) == (machine.version, answering):
                continue
            status = ua.StatusCode(
                ua.StatusCodes.Good if answering else ua.StatusCodes.BadNoCommunication
            )
            for variable, (variant_type, value_of) in VARIABLES.items():
                value = ua.DataValue(
                    ua.Variant(value_of(machine), variant_type),
                    StatusCode=status,
                    SourceTimestamp=timestamp,
                    ServerTimestamp=timestamp,
                )
                await self.server.write_attribute_value(
                    self._nodes[machine.number][variable], value
                )
            self._shown[machine.number] = (machine.version, answering)
