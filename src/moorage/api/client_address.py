"""The real client address of a request: the one place that decides it (login throttling, the access
log and address allowlists all ask here).

The TCP peer is the client, unless the peer is one of the operator's ``trusted_proxies``: then the
client is read from the one header those proxies write (``forwarded_header``), walking it from the
right (the hop the nearest proxy appended) past every trusted proxy to the first address that is
not one. Everything left of that address was written by the client and is never believed, so a
forged ``X-Forwarded-For`` from an untrusted peer, or prepended to a trusted proxy's, changes nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from starlette.requests import HTTPConnection

from moorage.settings import Settings

IPAddress = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

MAX_HOPS = 32
"""At most this many hops are read from the right of the header (a proxy chain is a few hops long;
a client can make the header as long as the server's header limit allows)."""
UNKNOWN = "unknown"
"""The address of a connection without a peer address (a Unix socket)."""


def _settings(connection: HTTPConnection) -> Settings | None:
    """The served application's settings; None in an application without moorage's services."""
    services = getattr(getattr(connection.scope.get("app"), "state", None), "services", None)
    settings: Settings | None = None if services is None else services.settings
    return settings


def client_address(connection: HTTPConnection) -> str:
    """The client address of ``connection`` under the application's proxy settings."""
    peer = connection.client.host if connection.client else UNKNOWN
    settings = _settings(connection)
    if settings is None:  # never in a served app
        return normalise(peer)
    trusted: tuple[Network, ...] = settings.trusted_proxies
    if not trusted:
        return normalise(peer)
    header: str = settings.forwarded_header
    return resolve_client_address(peer, connection.headers.getlist(header), trusted=trusted, header=header)


def peer_is_trusted_proxy(connection: HTTPConnection) -> bool:
    """Whether the TCP peer of ``connection`` is one of the operator's ``trusted_proxies``."""
    settings = _settings(connection)
    address = parse_address(connection.client.host) if connection.client else None
    return settings is not None and address is not None and _in(address, settings.trusted_proxies)


def resolve_client_address(
    peer: str, header_values: Sequence[str], *, trusted: Sequence[Network], header: str = "x-forwarded-for"
) -> str:
    """The client address given the TCP ``peer``, the values of the forwarding ``header``
    (``x-forwarded-for`` or ``forwarded``) in the order received, and the trusted proxy networks."""
    peer_address = parse_address(peer)
    if peer_address is None or not _in(peer_address, trusted):
        return normalise(peer)
    hops = forwarded_for(header_values) if header == "forwarded" else x_forwarded_for(header_values)
    client = peer_address
    for hop in reversed(hops[-MAX_HOPS:]):
        address = parse_address(hop)
        if address is None:  # garbage or "unknown": the hops to its right are all we can believe
            break
        client = address
        if not _in(address, trusted):
            break
    return str(client)


def x_forwarded_for(values: Iterable[str]) -> list[str]:
    """The hops of ``X-Forwarded-For`` headers (several headers are one comma-separated list)."""
    return [hop.strip() for value in values for hop in value.split(",")]


def forwarded_for(values: Iterable[str]) -> list[str]:
    """The ``for=`` node of each element of ``Forwarded`` headers (RFC 7239), ``""`` where an element
    has none or cannot be parsed (which ends the walk there)."""
    nodes: list[str] = []
    for value in values:
        for element in _split_outside_quotes(value, ","):
            node = ""
            for pair in _split_outside_quotes(element, ";"):
                name, equals, raw = pair.partition("=")
                if equals and name.strip().lower() == "for":
                    node = _unquote(raw.strip())
            nodes.append(node)
    return nodes


def parse_address(text: str) -> IPAddress | None:
    """An IP address from a peer or a forwarded hop: ``192.0.2.1``, ``192.0.2.1:4711``, ``2001:db8::1``,
    ``[2001:db8::1]:4711``; an IPv4-mapped IPv6 address is its IPv4 address. Else None (``unknown``,
    obfuscated ``_hidden`` nodes, garbage)."""
    text = text.strip()
    if text.startswith("["):
        inside, bracket, port = text[1:].partition("]")
        if not bracket or (port and not (port.startswith(":") and port[1:].isdigit())):
            return None
        text = inside
    elif text.count(":") == 1:  # IPv4 with a port
        text, _, port = text.partition(":")
        if not port.isdigit():
            return None
    if "%" in text:  # an IPv6 zone is local to the proxy
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def normalise(peer: str) -> str:
    """A peer address in one spelling (IPv4-mapped IPv6 as IPv4, IPv6 compressed); other text as is."""
    address = parse_address(peer)
    return str(address) if address is not None else peer


def _in(address: IPAddress, networks: Sequence[Network]) -> bool:
    return any(address.version == network.version and address in network for network in networks)


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    """``text`` split on ``separator`` where it is not inside a quoted-string."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for character in text:
        if escaped:
            escaped = False
        elif quoted and character == "\\":
            escaped = True
        elif character == '"':
            quoted = not quoted
        elif character == separator and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(character)
    parts.append("".join(current))
    return parts


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        inner = value[1:-1]
        out: list[str] = []
        escaped = False
        for character in inner:
            if not escaped and character == "\\":
                escaped = True
                continue
            escaped = False
            out.append(character)
        return "".join(out)
    return value
