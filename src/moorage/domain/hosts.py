"""Host names as virtual hosting compares them: one canonical spelling per host, and the rules that
decide which names an Enterprise Edition instance may claim.

Every comparison of host names (a request's ``Host``, an instance's domain names, the registry's own
names) goes through ``parse_host``, so two spellings of one host can never be told apart:

- ASCII only, surrounding blanks removed, lower case; one trailing dot removed (``Example.COM.``
  is ``example.com``);
- an all-numeric last label makes the name an IPv4 address, parsed as WHATWG's URL standard (and
  ``inet_aton``) parse it: one to four parts, each decimal, octal (leading ``0``) or hexadecimal
  (``0x``), the last part filling the remaining bytes (``127.1``, ``2130706433``, ``0x7f.0.0.1``
  are all ``127.0.0.1``); such a name that is no valid address is refused;
- IPv6 literals in brackets, written compressed in lower case (``[0:0::1]`` is ``[::1]``), an
  IPv4-mapped one as its IPv4 address (``[::ffff:127.0.0.1]`` is ``127.0.0.1``); zone ids are refused;
- the port as a number without leading zeros; the scheme's default port (80 for http, 443 for https;
  both when the scheme is not known) is no port: ``host:443`` over https is ``host``.

A claimed name without a port covers the host on every port; ``*.parent`` covers exactly one label
in front of ``parent`` (``a.parent``, not ``parent`` nor ``a.b.parent``). When a request's host
matches several claimed names, an exact name wins over a wildcard, and a name with the request's
port over one without.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from enum import StrEnum

from moorage.domain.errors import Invalid

DEFAULT_PORTS = {"http": frozenset({80}), "https": frozenset({443})}
_ANY_DEFAULT_PORT = frozenset({80, 443})
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_NUMBER_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")
"""A label WHATWG's URL parser reads as a number (decimal, octal with a leading 0, hexadecimal)."""
_PORT = re.compile(r"[0-9]{1,5}")
_MAX_NAME = 253
CLAIM_MAX_HOST = 100
"""Longest host part of a claimed domain name (SWR's limit on domain names)."""

LOCALHOST_ALIASES = frozenset({"localhost", "127.0.0.1", "[::1]", "0.0.0.0", "[::]"})  # noqa: S104
"""Names of this machine that no instance may claim, whatever the settings (``*.localhost`` too)."""


class HostKind(StrEnum):
    """What a host name is."""

    DNS = "dns"
    IPV4 = "ipv4"
    IPV6 = "ipv6"


@dataclass(frozen=True, slots=True)
class HostName:
    """A host in its one canonical spelling (see the module docstring), with its port, if any."""

    host: str
    """``registry.example.com``, ``*.apps.example.com``, ``127.0.0.1`` or ``[::1]``."""
    port: int | None = None
    """None: no port given (or the scheme's default port)."""
    kind: HostKind = HostKind.DNS

    def __str__(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def is_wildcard(self) -> bool:
        """``*.parent``: every name of one more label under ``parent``."""
        return self.host.startswith("*.")

    @property
    def parent(self) -> str | None:
        """The name without its first label (a wildcard's covered parent); None for an address or a
        one-label name."""
        if self.kind is not HostKind.DNS or "." not in self.host:
            return None
        return self.host.split(".", 1)[1]

    def without_port(self) -> HostName:
        """The same host on every port."""
        return HostName(self.host, None, self.kind)

    def matches(self, request: HostName) -> bool:
        """Whether this claimed name takes requests for the concrete host ``request``."""
        if self.port is not None and self.port != request.port:
            return False
        if self.is_wildcard:
            return request.parent == self.parent and not request.is_wildcard
        return self.host == request.host

    def overlaps(self, other: HostName) -> bool:
        """Whether some request could match both claimed names (equal names, a wildcard and a name it
        covers, two wildcards of one parent; on a common port)."""
        if self.port is not None and other.port is not None and self.port != other.port:
            return False
        if self.is_wildcard == other.is_wildcard:
            return self.host == other.host
        wildcard, name = (self, other) if self.is_wildcard else (other, self)
        return name.parent == wildcard.parent

    def lookup_keys(self) -> tuple[str, ...]:
        """The claimed names that could take a request for this host, best first: the exact name with
        this port, without port, then the covering wildcard with this port, without port."""
        keys = [str(self)] if self.port is None else [str(self), self.host]
        parent = self.parent
        if parent is not None:
            wildcard = f"*.{parent}"
            keys += [wildcard] if self.port is None else [f"{wildcard}:{self.port}", wildcard]
        return tuple(keys)


def parse_host(text: str, *, scheme: str | None = None, wildcard: bool = False) -> HostName:
    """The canonical form of ``host[:port]`` (see the module docstring); ``Invalid`` when it is no
    host name. ``scheme`` (``http``/``https``) says which port is the default one; ``wildcard``
    allows a leading ``*.`` label."""
    if not text.isascii():
        raise Invalid(f"invalid host name {text[:100]!r}: not ASCII")
    value = text.strip(" \t").lower()
    host, port_text = _split_port(value)
    port = _port(port_text, text)
    kind, canonical = _canonical(host, text, wildcard=wildcard)
    if port is not None and port in (DEFAULT_PORTS.get(scheme, frozenset()) if scheme else _ANY_DEFAULT_PORT):
        port = None
    return HostName(canonical, port, kind)


def _split_port(value: str) -> tuple[str, str | None]:
    """(host, port text or None) of ``host[:port]``; an unbracketed IPv6 address has no port."""
    if value.startswith("["):
        end = value.find("]")
        if end == -1:
            raise Invalid(f"invalid host name {value[:100]!r}: unclosed bracket")
        rest = value[end + 1 :]
        if rest and not rest.startswith(":"):
            raise Invalid(f"invalid host name {value[:100]!r}: text after the bracket")
        return value[: end + 1], rest[1:] if rest else None
    if value.count(":") > 1:
        return f"[{value}]", None
    host, sep, port = value.partition(":")
    return host, port if sep else None


def _port(port_text: str | None, original: str) -> int | None:
    if not port_text:  # absent, or empty as RFC 3986 allows ("host:")
        return None
    if not _PORT.fullmatch(port_text) or not 1 <= int(port_text) <= 65535:
        raise Invalid(f"invalid port in host name {original[:100]!r}")
    return int(port_text)


def _canonical(host: str, original: str, *, wildcard: bool) -> tuple[HostKind, str]:
    if host.startswith("["):
        return _ipv6(host[1:-1], original)
    if host.endswith("."):
        host = host[:-1]
    if not host or len(host) > _MAX_NAME:
        raise Invalid(f"invalid host name {original[:100]!r}: 1-{_MAX_NAME} characters")
    labels = host.split(".")
    if _NUMBER_LABEL.fullmatch(labels[-1]):
        return HostKind.IPV4, _ipv4(labels, original)
    first = 1 if wildcard and labels[0] == "*" and len(labels) > 1 else 0
    if not all(_LABEL.fullmatch(label) for label in labels[first:]):
        raise Invalid(
            f"invalid host name {original[:100]!r}: dot-separated labels of letters, digits and "
            "inner hyphens, up to 63 characters each"
        )
    return HostKind.DNS, host


def _ipv6(literal: str, original: str) -> tuple[HostKind, str]:
    if "%" in literal:
        raise Invalid(f"invalid host name {original[:100]!r}: zone ids are not accepted")
    try:
        address = ipaddress.IPv6Address(literal)
    except ValueError as exc:
        raise Invalid(f"invalid host name {original[:100]!r}: not an IPv6 address") from exc
    if address.ipv4_mapped is not None:
        return HostKind.IPV4, str(address.ipv4_mapped)
    return HostKind.IPV6, f"[{address.compressed}]"


def _ipv4(labels: list[str], original: str) -> str:
    """WHATWG's IPv4 parser (URL standard, 'IPv4 parser'): what browsers, curl and ``inet_aton``
    accept as an address."""
    if len(labels) > 4 or not all(_NUMBER_LABEL.fullmatch(label) for label in labels):
        raise Invalid(f"invalid host name {original[:100]!r}: a name ending in a number must be an IPv4 address")
    numbers = []
    for label in labels:
        if label.startswith("0x"):
            digits, base = label[2:], 16
        elif len(label) > 1 and label.startswith("0"):
            digits, base = label[1:], 8
        else:
            digits, base = label, 10
        try:
            numbers.append(int(digits, base) if digits else 0)
        except ValueError as exc:
            raise Invalid(f"invalid host name {original[:100]!r}: {label!r} is not a number") from exc
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        raise Invalid(f"invalid host name {original[:100]!r}: not an IPv4 address")
    value = last
    for position, number in enumerate(leading):
        value += number << (8 * (3 - position))
    return str(ipaddress.IPv4Address(value))


def parse_claim(text: str) -> HostName:
    """A domain name an instance asks for: a host name (``example.com``, ``*.example.com``) or an IP
    address, either with an optional ``:port``, in its canonical form. Stricter than a request's host:
    letters, digits and inner hyphens only (RFC 1123), at most ``CLAIM_MAX_HOST`` characters."""
    name = parse_host(text, wildcard=True)
    if name.kind is HostKind.DNS:
        labels = name.host.split(".")[1 if name.is_wildcard else 0 :]
        if len(name.host) > CLAIM_MAX_HOST or not all(_LDH_LABEL.fullmatch(label) for label in labels):
            raise Invalid(
                f"invalid domain name {text[:100]!r}: up to {CLAIM_MAX_HOST} characters of dot-separated "
                "labels of letters, digits and inner hyphens, optionally starting with '*.'"
            )
    return name


def _dns_parent(host: str) -> str | None:
    """The parent of a canonical DNS name (None for an address or a one-label name)."""
    if host.startswith("[") or "." not in host or _NUMBER_LABEL.fullmatch(host.rsplit(".", 1)[1]):
        return None
    return host.split(".", 1)[1]


def _under(name: str, suffix: str) -> bool:
    """Whether ``name`` is strictly below ``suffix`` (at least one more label)."""
    return name.endswith("." + suffix)


@dataclass(frozen=True, slots=True)
class HostPolicy:
    """Which host names are the registry's own (never an instance's) and which ones the operator lets
    instances claim.

    The registry's own names, on every port: ``LOCALHOST_ALIASES`` and every name under
    ``localhost``, the external and internal URLs' hosts, and every address it listens on except
    those the operator dedicates to instances by listing them in ``allowed_addresses``. The names
    one label under the registry's DNS name (``<instance>.<registry host>``) are kept for the
    generated default names. Beyond that, an instance may claim a DNS name (or a wildcard) strictly
    below one of ``allowed_suffixes``, or an address listed in ``allowed_addresses``; nothing else.
    """

    own_hosts: frozenset[str] = LOCALHOST_ALIASES
    """Canonical hosts (without port) that are the registry's own."""
    instance_space: str | None = None
    """The registry's DNS name, under which default names are generated (None: reached by address)."""
    allowed_suffixes: tuple[str, ...] = ()
    allowed_addresses: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def build(
        cls, *, external_url: str, internal_url: str = "", listen_hosts: tuple[str, ...] = (), allowed: str = ""
    ) -> HostPolicy:
        """The policy of a registry reached at ``external_url`` (and ``internal_url``), listening on
        ``listen_hosts``, with the operator's allowlist ``allowed`` (see ``parse_allowlist``)."""
        suffixes, addresses = parse_allowlist(allowed)
        own = set(LOCALHOST_ALIASES)
        external = _url_host(external_url)
        for url in (external_url, internal_url):
            if url:
                own.add(_url_host(url).host)
        for listen in listen_hosts:
            try:
                host = parse_host(listen).host
            except Invalid:
                host = listen.strip().lower()
            if host not in addresses:
                own.add(host)
        space = external.host if external.kind is HostKind.DNS else None
        return cls(frozenset(own), space, suffixes, addresses)

    def is_own(self, name: HostName) -> bool:
        """Whether a concrete host (any port) is one of the registry's own names."""
        return name.host in self.own_hosts or name.host == "localhost" or _under(name.host, "localhost")

    def covers_own(self, claim: HostName) -> bool:
        """Whether a claimed name equals or covers one of the registry's own names."""
        if not claim.is_wildcard:
            return self.is_own(claim)
        parent = claim.parent or ""
        return (
            parent == "localhost"
            or _under(parent, "localhost")
            or any(_dns_parent(host) == parent for host in self.own_hosts)
        )

    def refusal(self, claim: HostName, *, generated: bool = False) -> str | None:
        """Why an instance may not claim ``claim`` (None: it may, as far as the registry's own names
        and the operator's allowlist go; other instances' names are checked against the database).
        ``generated``: the default name the registry gives an instance."""
        if self.covers_own(claim):
            return "is, or covers, a name of the shared registry itself"
        space = self.instance_space
        if space is not None and claim.kind is HostKind.DNS and claim.parent == space:
            return None if generated else f"is in the space of generated instance names (*.{space})"
        if generated:
            return None
        if claim.kind is not HostKind.DNS:
            if claim.host in self.allowed_addresses:
                return None
            return "is an address the operator has not allowed for instances" + self._allowed_text()
        base = (claim.parent or "") if claim.is_wildcard else claim.host
        if any(_under(base, suffix) for suffix in self.allowed_suffixes):
            return None
        what = "a wildcard must be" if claim.is_wildcard else "the name must be"
        return f"is not allowed: {what} strictly below a domain suffix the operator allows" + self._allowed_text()

    def _allowed_text(self) -> str:
        allowed = [*self.allowed_suffixes, *sorted(self.allowed_addresses)]
        if not allowed:
            return " (none is configured: instances have only their generated default name)"
        return f" (allowed: {', '.join(allowed)})"


def _url_host(url: str) -> HostName:
    """The host of an absolute URL, canonical (the scheme's default port removed)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "http", url
    authority = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    try:
        return parse_host(authority, scheme=scheme.lower())
    except Invalid:
        return HostName(authority.lower())


def parse_allowlist(text: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """(DNS suffixes, addresses) of the operator's allowlist: entries separated by commas or blanks,
    each a DNS suffix (``tenants.example.com``; a leading ``.`` or ``*.`` is ignored) or an IP
    address; ``ValueError`` for an entry that is neither."""
    suffixes: list[str] = []
    addresses: set[str] = set()
    for entry in re.split(r"[,\s]+", text.strip()):
        if not entry:
            continue
        bare = entry.removeprefix("*").removeprefix(".")
        try:
            name = parse_host(bare, scheme="none")  # a scheme without default port: any port is refused
        except Invalid as exc:
            raise ValueError(f"allowed domain suffix {entry!r}: {exc.message}") from exc
        if name.port is not None:
            raise ValueError(f"allowed domain suffix {entry!r}: give names and addresses without a port")
        if name.kind is HostKind.DNS:
            suffixes.append(name.host)
        else:
            addresses.add(name.host)
    return tuple(dict.fromkeys(suffixes)), frozenset(addresses)
