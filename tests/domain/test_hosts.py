"""Host names (``domain.hosts``): every spelling of one host has one canonical form, checked against
oracles (``socket.inet_aton`` and ``ipaddress`` for addresses, a brute-force matcher for wildcards),
and the policy refuses every spelling of the registry's own names."""

from __future__ import annotations

import ipaddress
import itertools
import re
import socket

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from moorage.domain.errors import Invalid
from moorage.domain.hosts import HostKind, HostName, HostPolicy, parse_allowlist, parse_claim, parse_host

_NUMBER = re.compile(r"[0-9]+|0x[0-9a-f]*")
"""Labels the WHATWG host parser reads as a number (``0x`` alone is 0): a name ending in one is an IPv4
address or invalid, never a DNS name."""
_labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True).filter(
    lambda label: not _NUMBER.fullmatch(label)
)
_dns_names = st.lists(_labels, min_size=1, max_size=4).map(".".join)
_ports = st.one_of(st.none(), st.integers(1, 65535))


def _ipv4_part(number: int, style: str) -> str:
    if style == "hex":
        return hex(number)
    if style == "octal" and number:
        return "0" + oct(number)[2:]
    return str(number)


@st.composite
def ipv4_spellings(draw: st.DrawFn) -> tuple[int, str]:
    """(address, one of its inet_aton spellings: 1-4 parts, each decimal, octal or hexadecimal)."""
    value = draw(st.integers(0, 2**32 - 1))
    parts = draw(st.integers(1, 4))
    leading = [(value >> (8 * (3 - i))) & 0xFF for i in range(parts - 1)]
    last = value & ((1 << (8 * (5 - parts))) - 1)
    styles = draw(st.lists(st.sampled_from(["decimal", "octal", "hex"]), min_size=parts, max_size=parts))
    text = ".".join(_ipv4_part(n, s) for n, s in zip([*leading, last], styles, strict=True))
    return value, "".join(c.upper() if draw(st.booleans()) else c for c in text)


@settings(max_examples=400, deadline=None)
@given(ipv4_spellings())
def test_every_ipv4_spelling_is_the_dotted_quad(spelling: tuple[int, str]) -> None:
    value, text = spelling
    expected = str(ipaddress.IPv4Address(value))
    assert socket.inet_aton(text) == ipaddress.IPv4Address(value).packed  # the oracle agrees it is this address
    parsed = parse_host(text)
    assert (parsed.host, parsed.kind, parsed.port) == (expected, HostKind.IPV4, None)
    assert parse_host(f"{text}.:5000") == HostName(expected, 5000, HostKind.IPV4)
    assert parse_host(f"[::ffff:{expected}]:5000") == HostName(expected, 5000, HostKind.IPV4)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="0123456789.xXabf", min_size=1, max_size=20))
def test_numeric_names_agree_with_inet_aton(text: str) -> None:
    """Whatever parses as an address is the address ``inet_aton`` reads (glibc refuses WHATWG's
    bare ``0x`` and trailing dot, so those are left out of the comparison)."""
    try:
        parsed = parse_host(text)
    except Invalid:
        return
    if parsed.kind is not HostKind.IPV4 or text.endswith(".") or any(part.lower() == "0x" for part in text.split(".")):
        return
    assert socket.inet_aton(text) == ipaddress.IPv4Address(parsed.host).packed


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**128 - 1), st.sampled_from(["compressed", "exploded"]), st.booleans(), _ports)
def test_every_ipv6_spelling_is_one_name(value: int, form: str, upper: bool, port: int | None) -> None:
    address = ipaddress.IPv6Address(value)
    assume(address.scope_id is None)
    text = getattr(address, form)
    text = text.upper() if upper else text
    authority = f"[{text}]" + (f":{port}" if port else "")
    parsed = parse_host(authority, scheme="https")
    mapped = address.ipv4_mapped
    expected_host = str(mapped) if mapped is not None else f"[{address.compressed}]"
    assert parsed.host == expected_host
    assert parsed.port == (None if port in (None, 443) else port)
    if port is None:
        assert parse_host(text) == parsed  # without brackets, when there is no port


@settings(max_examples=300, deadline=None)
@given(_dns_names, st.booleans(), st.sampled_from([None, "http", "https"]), _ports, st.randoms())
def test_dns_names_ignore_case_trailing_dot_and_default_port(
    name: str, dot: bool, scheme: str | None, port: int | None, rnd: object
) -> None:
    mixed = "".join(c.upper() if getattr(rnd, "random")() < 0.5 else c for c in name)  # noqa: B009
    text = mixed + ("." if dot else "") + (f":{port}" if port else "")
    parsed = parse_host(text, scheme=scheme)
    defaults = {None: {80, 443}, "http": {80}, "https": {443}}[scheme]
    assert parsed == HostName(name, None if port in defaults or port is None else port, HostKind.DNS)
    assert parse_host(str(parsed), scheme=scheme) == parsed


@settings(max_examples=1000, deadline=None)
@given(st.text(max_size=40))
def test_any_text_parses_or_is_invalid_and_the_result_is_a_fixed_point(text: str) -> None:
    try:
        parsed = parse_host(text, wildcard=True)
    except Invalid:
        return
    assert parse_host(str(parsed), wildcard=True) == parsed
    assert str(parsed) == str(parsed).lower() and str(parsed).isascii()


@pytest.mark.parametrize(
    "text",
    [
        "",
        ".",
        "a..b",
        "exa mple",
        "host:0",
        "host:65536",
        "host:+80",
        "host:\uff18\uff10",
        "[::1",
        "[::1]x",
        "[fe80::1%eth0]",
        "1.2.3.256",
        "1.2.65536",
        "a.1",
        "08.0.0.1",
        "1_0.0.0.1",
        "*.example.com",
        "\u2168.example.com",
        "[v1.x]",
    ],
)
def test_not_host_names(text: str) -> None:
    with pytest.raises(Invalid):
        parse_host(text)


# Matching ----------------------------------------------------------------------------------------
_small_labels = st.sampled_from(["a", "b", "c"])
_claims = st.builds(
    lambda labels, wildcard, port: parse_host(
        ("*." if wildcard else "") + ".".join(labels) + (f":{port}" if port else ""), wildcard=True
    ),
    st.lists(_small_labels, min_size=1, max_size=3),
    st.booleans(),
    st.sampled_from([None, 1000, 2000]),
)
_REQUESTS = [
    parse_host(".".join(labels) + (f":{port}" if port else ""))
    for depth in range(1, 5)
    for labels in itertools.product("abc", repeat=depth)
    for port in (None, 1000, 2000)
]


def _oracle_matches(claim: HostName, request: HostName) -> bool:
    if claim.port is not None and claim.port != request.port:
        return False
    labels = claim.host.split(".")
    if labels[0] == "*":
        return request.host.split(".")[1:] == labels[1:]
    return request.host == claim.host


@settings(max_examples=500, deadline=None)
@given(_claims, _claims)
def test_matches_and_overlaps_against_brute_force(one: HostName, other: HostName) -> None:
    for request in _REQUESTS:
        assert one.matches(request) == _oracle_matches(one, request), (one, request)
    common = any(_oracle_matches(one, r) and _oracle_matches(other, r) for r in _REQUESTS)
    assert one.overlaps(other) == common == other.overlaps(one), (one, other)


@settings(max_examples=300, deadline=None)
@given(st.lists(_claims, max_size=6, unique_by=str))
def test_lookup_prefers_exact_names_and_ports(claims: list[HostName]) -> None:
    """Resolving through ``lookup_keys`` picks a matching claim, an exact one when any matches, and a
    port-specific one before a port-less one of the same kind."""
    table = {str(c): c for c in claims}
    for request in _REQUESTS:
        found = next((table[k] for k in request.lookup_keys() if k in table), None)
        matching = [c for c in claims if c.matches(request)]
        if not matching:
            assert found is None
            continue
        assert found is not None and found.matches(request)
        if any(not c.is_wildcard for c in matching):
            assert not found.is_wildcard
        same_kind = [c for c in matching if c.is_wildcard == found.is_wildcard]
        if any(c.port is not None for c in same_kind):
            assert found.port is not None


# The policy --------------------------------------------------------------------------------------
POLICY = HostPolicy.build(
    external_url="https://Registry.Example.test:5443",
    internal_url="http://10.0.0.9:5000",
    listen_hosts=("127.0.0.1", "127.0.0.5", "10.0.0.9"),
    allowed="tenants.example.test, 127.0.0.5, example.org",
)
_OWN_SPELLINGS = [
    "localhost",
    "LOCALHOST.",
    "localhost:5000",
    "foo.localhost",
    "*.localhost",
    "127.0.0.1",
    "127.1:5000",
    "2130706433",
    "0x7f000001",
    "0177.0.0.1",
    "[::ffff:127.0.0.1]:5000",
    "[0:0:0:0:0:ffff:7f00:1]",
    "[::1]",
    "::1",
    "[0:0::1]:80",
    "0.0.0.0",
    "0",
    "[::]",
    "registry.example.test",
    "Registry.Example.Test.:5443",
    "registry.example.test:443",
    "*.example.test",
    "10.0.0.9",
    "10.0.0.9:9999",
    "*.a.localhost",
]


@pytest.mark.parametrize("text", _OWN_SPELLINGS)
def test_no_spelling_of_the_registry_own_names_can_be_claimed(text: str) -> None:
    claim = parse_claim(text)
    assert POLICY.covers_own(claim)
    assert POLICY.refusal(claim) is not None
    if not claim.is_wildcard:
        assert POLICY.is_own(parse_host(text, scheme="http"))


@pytest.mark.parametrize(
    ("text", "allowed"),
    [
        ("a.tenants.example.test", True),
        ("a.tenants.example.test:8443", True),
        ("*.x.tenants.example.test", True),
        ("tenants.example.test", False),  # the suffix itself is the operator's
        ("*.tenants.example.test", False),  # would take every tenant's names
        ("prod.registry.example.test", False),  # generated default names only
        ("*.registry.example.test", False),
        ("127.0.0.5:5000", True),
        ("127.0.0.6", False),
        ("a.example.test", False),
        ("a.example.org", True),
        ("evil.com", False),
    ],
)
def test_the_operator_allowlist_decides(text: str, allowed: bool) -> None:
    assert (POLICY.refusal(parse_claim(text)) is None) == allowed


@pytest.mark.parametrize("text", ["a_b.example.com", "-a.example.com", "x" * 101, "*.com:99999", "*"])
def test_not_claimable_names(text: str) -> None:
    with pytest.raises(Invalid):
        parse_claim(text)


def test_generated_default_names_and_the_empty_allowlist() -> None:
    policy = HostPolicy.build(external_url="https://registry.example.test")
    assert policy.refusal(parse_claim("prod.registry.example.test"), generated=True) is None
    refusal = policy.refusal(parse_claim("a.example.com"))
    assert refusal is not None and "none is configured" in refusal
    by_address = HostPolicy.build(external_url="http://127.0.0.1:5000", listen_hosts=("127.0.0.1",))
    assert by_address.instance_space is None


def test_allowlist_entries() -> None:
    assert parse_allowlist(" .A.example.com,*.b.example.com  10.0.0.1 [::ffff:10.0.0.2] ") == (
        ("a.example.com", "b.example.com"),
        frozenset({"10.0.0.1", "10.0.0.2"}),
    )
    for bad in ("a.example.com:80", "exa!mple.com", "1.2.3.999"):
        with pytest.raises(ValueError, match="allowed domain suffix"):
            parse_allowlist(bad)
