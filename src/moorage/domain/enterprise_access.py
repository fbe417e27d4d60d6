"""Record types of an Enterprise Edition instance's access: its registry credentials, its endpoint
policy (public endpoint on/off, address allowlist) and resource tags, with the pure rules that check them."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from moorage.domain.errors import Invalid

CREDENTIAL_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9]|[._-](?![._-]))*[a-z0-9]$|^[a-z0-9]$")
"""CreateLongTermCredentialRequestBody: a lowercase letter or digit first and last, lowercase
letters, digits, ``.``, ``_`` and ``-`` between, never two of those three in a row; 1-64 characters."""


class CredentialKind(StrEnum):
    """How long a credential lives."""

    LONG_TERM = "long-term"
    TEMPORARY = "temporary"


@dataclass(frozen=True, slots=True)
class InstanceCredential:
    """A registry credential of one user on one instance (the secret itself is never stored)."""

    id: str
    instance_id: str
    user_id: str
    user_name: str
    kind: CredentialKind
    name: str
    enabled: bool
    created_at: int
    """Epoch milliseconds."""
    expires_at: int
    """Epoch milliseconds; 0: never."""

    def usable(self, now_ms: int) -> bool:
        """Enabled and not expired."""
        return self.enabled and (self.expires_at == 0 or now_ms < self.expires_at)


@dataclass(frozen=True, slots=True)
class IssuedCredential:
    """A credential just created, with its secret: the one time it is shown."""

    credential: InstanceCredential
    secret: str


def validate_credential_name(name: str) -> str:
    """A long-term credential's name (CreateInstanceLtCredential's rule)."""
    if not 1 <= len(name) <= 64 or not CREDENTIAL_NAME.fullmatch(name):
        raise Invalid(
            f"invalid credential name {name[:80]!r}: 1-64 characters, lowercase letters and digits first and "
            "last, lowercase letters, digits, '.', '_' and '-' between, never two of '._-' in a row",
            reason="invalid_credential_name",
        )
    return name


# Endpoint policies ---------------------------------------------------------------------------------
Network = IPv4Network | IPv6Network

MAX_ALLOWLIST_ENTRIES = 100
"""Networks an instance's allowlist may hold (UpdateInstanceEndpointPolicy's body is a list)."""
MAX_ALLOWLIST_DESCRIPTION = 255


@dataclass(frozen=True, slots=True)
class AllowedNetwork:
    """One entry of an allowlist (``IpInfo``): an address or CIDR network and its description."""

    network: Network
    description: str

    @property
    def ip(self) -> str:
        """The entry as shown: an address alone for a single host, else the CIDR."""
        single = self.network.prefixlen == self.network.max_prefixlen
        return str(self.network.network_address) if single else str(self.network)


@dataclass(frozen=True, slots=True)
class EndpointPolicy:
    """Whether an instance's host names answer at all, and from which addresses."""

    enabled: bool = True
    allowlist: tuple[AllowedNetwork, ...] = ()
    """Empty: every address (an instance without a policy is open, as before policies existed)."""

    def admits(self, address: IPv4Address | IPv6Address | None) -> bool:
        """Whether a request from ``address`` (None: no usable address) may reach the instance."""
        if not self.enabled:
            return False
        if not self.allowlist:
            return True
        if address is None:
            return False
        return any(address.version == entry.network.version and address in entry.network for entry in self.allowlist)


OPEN_POLICY = EndpointPolicy()


def parse_allowed_network(text: str, description: str = "") -> AllowedNetwork:
    """An allowlist entry: an IPv4/IPv6 address or a CIDR network whose host bits are zero."""
    candidate = text.strip()
    if not candidate or len(candidate) > 64:
        raise Invalid(f"invalid ip {text[:80]!r}: an IP address or a CIDR network", reason="invalid_ip")
    try:
        network = ipaddress.ip_network(candidate, strict=True)
    except ValueError as exc:
        raise Invalid(f"invalid ip {text[:80]!r}: {exc}", reason="invalid_ip") from exc
    if len(description) > MAX_ALLOWLIST_DESCRIPTION:
        raise Invalid(f"an ip's description is at most {MAX_ALLOWLIST_DESCRIPTION} characters", reason="invalid_ip")
    return AllowedNetwork(network, description)


def parse_allowlist(entries: list[tuple[str, str]]) -> tuple[AllowedNetwork, ...]:
    """An allowlist from ``(ip, description)`` pairs: each valid, no network twice, a bounded count."""
    if len(entries) > MAX_ALLOWLIST_ENTRIES:
        raise Invalid(f"an allowlist holds at most {MAX_ALLOWLIST_ENTRIES} entries", reason="invalid_ip")
    parsed = tuple(parse_allowed_network(ip, description) for ip, description in entries)
    if len({entry.network for entry in parsed}) != len(parsed):
        raise Invalid("an allowlist names each network once", reason="invalid_ip")
    return parsed
