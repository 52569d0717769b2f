"""Where a device mapping may send the collector: hosts inside the plant's networks only.

A mapping names a host (Modbus, MQTT) or an endpoint URL (OPC UA). Every address the host name
resolves to must lie in one of the allowed networks (``MES_DEVICE_NETWORKS``: loopback and the
private ranges unless set), so a mapping cannot make the server connect to the cloud's metadata
service (169.254.169.254) or to any host outside the plant. Link-local addresses (169.254.0.0/16,
fe80::/10) are never allowed, even when a listed network covers them. Names are resolved as the
drivers resolve them (``getaddrinfo``), so ``2852039166`` or ``0251.0376.0251.0376`` are caught too.

Nothing here reads a model or a setting: the caller passes the networks.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from shopfloor.devices.config import DeviceConfig, OpcUaConfig

NEVER = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))
OPCUA_DEFAULT_PORT = 4840

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class HostRefusal:
    """Why a mapping's host may not be used: ``address`` is the resolved address at fault ("" if none resolved)."""

    field: str  # "host" or "endpoint"
    host: str
    address: str
    is_link_local: bool = False

    @property
    def is_unresolved(self) -> bool:
        return not self.address


def device_host(config: DeviceConfig) -> tuple[str, str, int]:
    """(field, host, port) of the device a mapping reads."""
    if isinstance(config, OpcUaConfig):
        parts = urlsplit(config.endpoint)
        return "endpoint", parts.hostname or "", parts.port or OPCUA_DEFAULT_PORT
    return "host", config.host, config.port


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    address = ipaddress.ip_address(text.split("%", 1)[0])  # fe80::1%eth0: the scope does not change the address
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _inside(address: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: Iterable[Network]) -> bool:
    return any(address in network for network in networks if address.version == network.version)


def address_allowed(text: str, networks: Iterable[Network]) -> bool:
    address = _address(text)
    return not _inside(address, NEVER) and _inside(address, networks)


def refused_address(addresses: Iterable[str], networks: Iterable[Network]) -> str | None:
    """The first of a host's addresses that is not allowed, or None when every one is."""
    allowed = tuple(networks)
    return next((address for address in addresses if not address_allowed(address, allowed)), None)


def parse_networks(networks: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(network, strict=False) for network in networks)


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, as the drivers would connect to it; raises ``OSError``."""
    infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    return sorted({info[4][0] for info in infos})


def device_host_refusal(config: DeviceConfig, networks: Sequence[str]) -> HostRefusal | None:
    """None when every address of the mapping's host is allowed; otherwise why not. Resolves names (blocking)."""
    field, host, port = device_host(config)
    allowed = parse_networks(networks)
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError):
        return HostRefusal(field, host, "")
    refused = refused_address(addresses, allowed)
    if refused is None:
        return None
    return HostRefusal(field, host, refused, is_link_local=_inside(_address(refused), NEVER))
