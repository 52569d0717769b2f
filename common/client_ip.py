"""The address a request came from, also behind reverse proxies (``MES_TRUSTED_PROXIES``).

Every decision by address (token allow-lists, ``/metrics``, sign-in lock-outs, inbound receipts)
asks ``client_ip``, never ``REMOTE_ADDR`` directly: behind a proxy ``REMOTE_ADDR`` is the proxy's.
"""

from __future__ import annotations

import functools
import ipaddress

from django.conf import settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_ip(request) -> str:
    """The client's address: ``REMOTE_ADDR``, unless that is a trusted proxy.

    A request from a trusted proxy names its client in ``X-Forwarded-For``. Each proxy appends
    the address it was connected from, so the list is read from the right: the first address
    that is not a trusted proxy is the client. Everything left of it was written by the client
    itself and is ignored (anyone can send ``X-Forwarded-For: 127.0.0.1``). A malformed entry
    ends the walk at the last address a trusted proxy vouched for.
    """
    return _client_ip(request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_X_FORWARDED_FOR", ""), tuple(settings.MES_TRUSTED_PROXIES))


# A station or gateway sends many requests a second from the same address: parsing it each time
# was a third of an API request's authentication.
@functools.lru_cache(maxsize=1024)
def _client_ip(remote_addr: str, forwarded_for: str, proxies: tuple[str, ...]) -> str:
    address = _address(remote_addr)
    if address is None:
        return remote_addr
    trusted = _networks(proxies)
    if not _in(address, trusted):
        return str(address)
    for entry in reversed(forwarded_for.split(",")):
        forwarded = _address(entry)
        if forwarded is None:
            break
        address = forwarded
        if not _in(address, trusted):
            break
    return str(address)


def _address(text: str) -> Address | None:
    """An address as proxies write it ("10.1.2.3", "10.1.2.3:5100", "[2001:db8::1]:5100"), IPv4-mapped IPv6 as IPv4."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@functools.lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _in(address: Address, networks: tuple[Network, ...]) -> bool:
    return any(address in network for network in networks)
