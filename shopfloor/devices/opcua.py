"""OPC UA through asyncua's client: a subscription where the server gives one, reads otherwise.

``connect()`` opens a session (anonymous, or user name and password over the None security
policy), reads every node once, then asks for a subscription with a publishing interval of
the poll interval. From then on ``read()`` returns the latest values the server published,
after checking that the session is alive (asyncua's supervisor probes the server every
``timeout_s``). A server that refuses subscriptions is read with one Read request per
``read()``. A node with a bad status (unknown node, a gateway that lost its PLC) is reported
in the snapshot's ``errors`` with the status name.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from typing import Any

from asyncua import Client, ua
from asyncua.client.ua_client import UaClientState
from asyncua.common.subscription import DataChangeNotif, Subscription

from shopfloor.devices.base import (
    DeviceTimeout,
    DeviceUnavailable,
    DriverBase,
    SignalValue,
    Snapshot,
    coerce_signal,
    utc_now,
)
from shopfloor.devices.config import OpcUaConfig

logger = logging.getLogger(__name__)


class OpcUaDriver(DriverBase):
    def __init__(self, config: OpcUaConfig) -> None:
        self.config = config
        self.mode: str | None = None  # "subscription" or "read" once connected
        self._client: Client | None = None
        self._subscription: Subscription | None = None
        self._node_signal: dict[str, str] = {}  # node id string → signal name
        self._latest: dict[str, ua.DataValue] = {}  # signal name → last data value

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.state is UaClientState.CONNECTED

    async def connect(self) -> None:
        if self.connected:
            return
        await self.close()
        # One timeout for requests and the liveness probe: a silent server is noticed within it.
        client = Client(
            self.config.endpoint,
            timeout=self.config.timeout_s,
            watchdog_intervall=self.config.timeout_s,
        )
        client.name = client.description = "open-mes collector"
        if self.config.username is not None:
            client.set_user(self.config.username)
            client.set_password(self.config.password or "")
        try:
            await asyncio.wait_for(client.connect(), timeout=self.config.timeout_s * 3)
        except TimeoutError as error:
            await _disconnect_quietly(client)
            raise DeviceTimeout(self.config.address, "no answer while connecting") from error
        except (OSError, ua.UaError) as error:
            await _disconnect_quietly(client)
            raise DeviceUnavailable(
                self.config.address, f"cannot connect: {_describe(error)}"
            ) from error
        self._client = client
        try:
            await self._prime_and_subscribe(client)
        except TimeoutError as error:
            await self.close()
            raise DeviceTimeout(self.config.address, "no answer while setting up") from error
        except (OSError, ConnectionError, ua.UaError) as error:
            await self.close()
            raise DeviceUnavailable(
                self.config.address, f"cannot read: {_describe(error)}"
            ) from error

    async def _prime_and_subscribe(self, client: Client) -> None:
        """Read every node once (so the first snapshot is whole), then subscribe if asked to."""
        nodes = {name: client.get_node(signal.node) for name, signal in self.config.signals.items()}
        self._node_signal = {node.nodeid.to_string(): name for name, node in nodes.items()}
        self._latest = dict(
            zip(nodes, await client.read_attributes(list(nodes.values())), strict=True)
        )
        self.mode = "read"
        if self.config.subscription:
            await self._subscribe(list(nodes.values()))

    async def _subscribe(self, nodes: list[Any]) -> None:
        assert self._client is not None
        try:
            subscription = await self._client.create_subscription(
                self.config.poll_interval_s * 1000, _Handler(self)
            )
        except (
            ua.UaStatusCodeError
        ) as error:  # the server said no (a timeout is not a no: it propagates)
            logger.info(
                "%s gives no subscription (%s); reading instead",
                self.config.address,
                _describe(error),
            )
            return
        results = await subscription.subscribe_data_change(nodes)
        if any(isinstance(result, ua.StatusCode) for result in results):
            # Some node cannot be monitored: read everything the same way, which reports its status.
            await _delete_quietly(subscription)
            return
        self._subscription = subscription
        self.mode = "subscription"

    def _on_data_change(self, node: Any, data: DataChangeNotif) -> None:
        name = self._node_signal.get(node.nodeid.to_string())
        if name is not None:
            self._latest[name] = data.monitored_item.Value

    async def read(self) -> Snapshot:
        await self.connect()
        assert self._client is not None
        if self.mode == "read":
            names = list(self.config.signals)
            try:
                data_values = await self._client.read_attributes(
                    [self._client.get_node(self.config.signals[name].node) for name in names]
                )
            except TimeoutError as error:
                await self.close()
                raise DeviceTimeout(
                    self.config.address, f"no answer within {self.config.timeout_s:g} s"
                ) from error
            except (OSError, ConnectionError, ua.UaError) as error:
                await self.close()
                raise DeviceUnavailable(
                    self.config.address, f"read failed: {_describe(error)}"
                ) from error
            self._latest = dict(zip(names, data_values, strict=True))
        elif not self.connected:
            await self.close()
            raise DeviceUnavailable(self.config.address, "session lost")
        return self._snapshot()

    def _snapshot(self) -> Snapshot:
        values: dict[str, SignalValue] = {}
        errors: dict[str, str] = {}
        sampled_at: dict[str, datetime.datetime] = {}
        for name, signal in self.config.signals.items():
            data_value = self._latest.get(name)
            if data_value is None:
                errors[name] = "no value yet"
                continue
            status = data_value.StatusCode
            if status is not None and not status.is_good():
                errors[name] = f"status {status.name}"
                continue
            try:
                values[name] = coerce_signal(
                    name, data_value.Value.Value if data_value.Value else None, signal.scale
                )
            except ValueError as error:
                errors[name] = str(error)
                continue
            if data_value.SourceTimestamp is not None:
                stamp = data_value.SourceTimestamp
                sampled_at[name] = stamp if stamp.tzinfo else stamp.replace(tzinfo=datetime.UTC)
        return Snapshot(read_at=utc_now(), values=values, errors=errors, sampled_at=sampled_at)

    async def close(self) -> None:
        client, subscription = self._client, self._subscription
        self._client = self._subscription = None
        self.mode = None
        self._latest = {}
        if client is None:
            return
        if subscription is not None and client.state is UaClientState.CONNECTED:
            await _delete_quietly(subscription)
        await _disconnect_quietly(client)


class _Handler:
    def __init__(self, driver: OpcUaDriver) -> None:
        self.driver = driver

    def datachange_notification(self, node: Any, val: Any, data: DataChangeNotif) -> None:
        self.driver._on_data_change(node, data)

    def status_change_notification(self, status: Any) -> None:
        logger.info("%s subscription status %s", self.driver.config.address, status)


def _describe(error: BaseException) -> str:
    return str(error) or type(error).__name__


async def _delete_quietly(subscription: Subscription) -> None:
    try:
        await asyncio.wait_for(subscription.delete(), timeout=2)
    except (TimeoutError, OSError, ConnectionError, ua.UaError) as error:
        logger.debug("deleting a subscription failed: %s", _describe(error))


async def _disconnect_quietly(client: Client) -> None:
    """Drop a session that may already be dead; what matters is that the socket closes."""
    try:
        await asyncio.wait_for(client.disconnect(), timeout=2)
    except (TimeoutError, OSError, ConnectionError, ua.UaError) as error:
        logger.debug("disconnecting %s: %s", client, _describe(error))
        client.disconnect_socket()
