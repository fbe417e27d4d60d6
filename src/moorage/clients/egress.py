"""The egress policy: which addresses a connection made on a tenant's behalf may reach, and which
hosts may receive the credentials a tenant configured.

The policy is applied to the address a connection is actually made to, after name resolution (see
``clients.transport``): so every spelling of an address (``2130706433``, ``0x7f.1``,
``[::ffff:127.0.0.1]``, ``localhost``, a name an attacker points at ``10.0.0.1``) meets the same
rule, and so does every redirect target and token realm. Denied by default:

- loopback, unspecified, "this network" (``0.0.0.0/8``, ``::``, ``::1``, ``127.0.0.0/8``);
- link-local, including the cloud metadata address (``169.254.0.0/16``, ``fe80::/10``);
- private and unique-local (RFC 1918, ``fc00::/7``, the old site-local ``fec0::/10``);
- shared address space (CGNAT ``100.64.0.0/10``);
- multicast, broadcast and reserved (``224.0.0.0/4``, ``240.0.0.0/4``, ``ff00::/8``);
- documentation, benchmarking and IETF special blocks (``192.0.0.0/24``, ``192.0.2.0/24``,
  ``198.18.0.0/15``, ``198.51.100.0/24``, ``203.0.113.0/24``, ``192.88.99.0/24``, ``100::/64``,
  ``2001::/23``, ``2001:db8::/32``, ``3fff::/20``, the local-use NAT64 ``64:ff9b:1::/48``, the
  deprecated IPv4-compatible ``::/96``);
- IPv4 addresses embedded in IPv6 (IPv4-mapped ``::ffff:0:0/96``, 6to4 ``2002::/16``, NAT64
  ``64:ff9b::/96``) are judged by the IPv4 address they carry.

Names under ``localhost`` are refused without resolving them. The operator lets internal
registries through with an allowlist of networks (CIDRs) and of host
names (exact, or ``*.suffix``); a host name on the list is not checked by address at all.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DENIED_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/96",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "3fff::/20",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)
"""Networks no tenant connection may reach unless the operator allows them (see the module docstring;
IPv4-mapped, 6to4 and NAT64 addresses are judged by the IPv4 address they carry)."""

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_HOST_NAME = re.compile(r"^(?:\*\.)?[a-z0-9](?:[a-z0-9.-]{0,252})$")


def normalise_host(host: str) -> str:
    """A host as the policy compares it: lower case, no brackets, no trailing dot."""
    return host.strip().lower().removeprefix("[").removesuffix("]").rstrip(".")


def parse_ip(text: str) -> IPAddress | None:
    """``text`` as an IP address (an IPv6 zone is dropped), None when it is not one."""
    try:
        return ipaddress.ip_address(normalise_host(text).split("%", 1)[0])
    except ValueError:
        return None


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (IPv4-mapped, 6to4, NAT64 well-known prefix)."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


@dataclass(frozen=True, slots=True)
class EgressPolicy:
    """Where connections made for a tenant may go, and where the tenant's credentials may go."""

    restricted: bool = True
    """False: any address (the ``moorage scan`` command, run by whoever runs it, on their behalf)."""
    allow_networks: tuple[IPNetwork, ...] = ()
    """Networks allowed although in ``DENIED_NETWORKS`` (internal registries)."""
    allow_hosts: tuple[str, ...] = ()
    """Host names allowed whatever they resolve to (``registry.corp``, or ``*.corp`` for a suffix)."""
    credential_realm_hosts: tuple[str, ...] = ()
    """Hosts other than the registry's own whose Bearer realm may receive the credentials."""
    any_realm_host: bool = False
    """Send credentials to a realm on any host, as the Docker CLI does (``moorage scan`` only)."""
    max_redirects: int = 5
    """Redirects followed per request."""
    denied_networks: tuple[IPNetwork, ...] = field(default=DENIED_NETWORKS, repr=False)
    """The deny list (the module's, unless a test needs another)."""

    @classmethod
    def unrestricted(cls) -> EgressPolicy:
        """The policy of commands an operator runs for themselves: any address, realms on any host."""
        return cls(restricted=False, any_realm_host=True)

    @classmethod
    def from_lists(
        cls,
        *,
        allow_networks: str = "",
        allow_hosts: str = "",
        credential_realm_hosts: str = "",
        max_redirects: int = 5,
    ) -> EgressPolicy:
        """A restricted policy from comma-separated lists (how settings write them); ``ValueError``
        names an entry that is not a network or a host name."""
        return cls(
            allow_networks=parse_networks(allow_networks),
            allow_hosts=parse_host_names(allow_hosts),
            credential_realm_hosts=parse_host_names(credential_realm_hosts),
            max_redirects=max_redirects,
        )

    def host_allowed(self, host: str) -> bool:
        """Whether the operator allowed ``host`` by name (then its addresses are not checked)."""
        return not self.restricted or _matches(normalise_host(host), self.allow_hosts)

    def name_denied(self, host: str) -> bool:
        """Whether ``host`` is refused by name alone: ``localhost`` and ``*.localhost`` (RFC 6761
        reserves them for loopback, whatever a resolver says), unless the operator allowed them."""
        name = normalise_host(host)
        return self.restricted and (name == "localhost" or name.endswith(".localhost")) and not self.host_allowed(host)

    def address_allowed(self, address: IPAddress) -> bool:
        """Whether a connection to ``address`` is allowed (embedded IPv4 addresses judged as themselves)."""
        if not self.restricted:
            return True
        mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        candidate: IPAddress = mapped or address
        if any(candidate in network for network in self.allow_networks if network.version == candidate.version):
            return True
        if any(candidate in network for network in self.denied_networks if network.version == candidate.version):
            return False
        inner = embedded_ipv4(candidate)
        return inner is None or self.address_allowed(inner)

    def credentials_allowed_at(self, realm_host: str, registry_host: str) -> bool:
        """Whether a Bearer realm on ``realm_host`` may receive the registry's credentials: the
        registry's own host (any port), a host the operator listed, or any with ``any_realm_host``."""
        realm = normalise_host(realm_host)
        return (
            self.any_realm_host
            or realm == normalise_host(registry_host)
            or _matches(realm, self.credential_realm_hosts)
        )


def _matches(host: str, patterns: tuple[str, ...]) -> bool:
    for pattern in patterns:
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                return True
        elif host == pattern:
            return True
    return False


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """``10.1.0.0/16, fd00::/8, 192.0.2.7`` -> networks (a bare address is a /32 or /128)."""
    networks = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError as exc:
            raise ValueError(f"{part!r} is not a network (CIDR) or an IP address") from exc
    return tuple(networks)


def parse_host_names(text: str) -> tuple[str, ...]:
    """``registry.corp, *.build.corp`` -> normalised host names (``*.`` keeps a suffix)."""
    names = []
    for part in (normalise_host(p) for p in text.split(",")):
        if not part:
            continue
        if not _HOST_NAME.match(part) or ".." in part:
            raise ValueError(f"{part!r} is not a host name (or *.suffix)")
        names.append(part)
    return tuple(dict.fromkeys(names))
