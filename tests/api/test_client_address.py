"""The real client address: the peer unless it is a trusted proxy, then the first untrusted hop from
the right of the one header the proxies write. Checked against a small oracle with hypothesis."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moorage.api.client_address import (
    MAX_HOPS,
    forwarded_for,
    parse_address,
    resolve_client_address,
    x_forwarded_for,
)

PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8"))


@pytest.mark.parametrize(
    ("peer", "values", "expected"),
    [
        # An untrusted peer: every header is ignored.
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),
        ("::ffff:203.0.113.9", ["198.51.100.1"], "203.0.113.9"),
        # A trusted peer: the hop it appended.
        ("10.0.0.2", ["198.51.100.1"], "198.51.100.1"),
        # What the client wrote left of that is never believed.
        ("10.0.0.2", ["1.1.1.1, 198.51.100.1"], "198.51.100.1"),
        ("10.0.0.2", ["1.1.1.1", "198.51.100.1"], "198.51.100.1"),
        # Chains of trusted proxies are walked through.
        ("10.0.0.2", ["1.1.1.1, 198.51.100.1, 10.9.9.9"], "198.51.100.1"),
        ("10.0.0.2", ["198.51.100.1:4711, [fd00::1]:80"], "198.51.100.1"),
        # Garbage ends the walk at the last hop that parsed.
        ("10.0.0.2", ["garbage"], "10.0.0.2"),
        ("10.0.0.2", [""], "10.0.0.2"),
        ("10.0.0.2", [], "10.0.0.2"),
        ("10.0.0.2", ["198.51.100.1, garbage, 10.1.1.1"], "10.1.1.1"),
        # Spellings: IPv4-mapped, ports, brackets, upper case IPv6.
        ("10.0.0.2", ["::FFFF:198.51.100.7"], "198.51.100.7"),
        ("10.0.0.2", ["[2001:DB8::1]:443"], "2001:db8::1"),
        ("10.0.0.2", ["2001:db8::1"], "2001:db8::1"),
        ("10.0.0.2", ["fe80::1%eth0"], "10.0.0.2"),
        ("10.0.0.2", ["198.51.100.1:port"], "10.0.0.2"),
    ],
)
def test_x_forwarded_for(peer: str, values: list[str], expected: str) -> None:
    assert resolve_client_address(peer, values, trusted=PROXIES) == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["for=198.51.100.1"], "198.51.100.1"),
        (['for="[2001:db8:cafe::17]:4711";proto=https;by=10.0.0.2'], "2001:db8:cafe::17"),
        (["for=1.1.1.1, for=198.51.100.1;proto=http"], "198.51.100.1"),
        (['for="1.1.1.1, for=6.6.6.6", for=198.51.100.1'], "198.51.100.1"),  # a quoted comma is no separator
        (["For=198.51.100.1, for=10.3.3.3"], "198.51.100.1"),
        (["for=unknown"], "10.0.0.2"),
        (["for=_hidden"], "10.0.0.2"),
        (["proto=https"], "10.0.0.2"),
    ],
)
def test_forwarded(values: list[str], expected: str) -> None:
    assert resolve_client_address("10.0.0.2", values, trusted=PROXIES, header="forwarded") == expected


def test_no_trusted_proxies_means_the_peer() -> None:
    assert resolve_client_address("10.0.0.2", ["198.51.100.1"], trusted=()) == "10.0.0.2"


def test_hops_are_bounded() -> None:
    chain = ", ".join(["10.1.1.1"] * (MAX_HOPS + 5))
    assert resolve_client_address("10.0.0.2", [f"198.51.100.1, {chain}"], trusted=PROXIES) == "10.1.1.1"


def test_parse_address() -> None:
    assert str(parse_address("[::1]:80")) == "::1"
    assert parse_address("[::1]x") is None
    assert parse_address("[::1") is None
    assert parse_address("unknown") is None
    assert str(parse_address(" 192.0.2.1 ")) == "192.0.2.1"


_ipv4 = st.ip_addresses(v=4).map(str)
_hop = _ipv4 | st.sampled_from(["10.0.0.7", "10.200.1.1", "garbage", "", "unknown"]) | st.text(max_size=12)


def _oracle(peer: str, hops: list[str]) -> str:
    """From the right: skip trusted addresses, stop at the first untrusted one or at garbage."""

    def trusted(text: str) -> bool:
        return ipaddress.ip_address(text) in PROXIES[0]

    if not trusted(peer):
        return peer
    client = peer
    for hop in reversed(hops):
        try:
            address = ipaddress.ip_address(hop.strip())
        except ValueError:
            return client
        client = str(address)
        if not trusted(client):
            return client
    return client


@settings(max_examples=400, deadline=None)
@given(
    peer=_ipv4 | st.sampled_from(["10.0.0.2", "10.9.9.9"]),
    hops=st.lists(_hop.filter(lambda h: "," not in h and ":" not in h and "[" not in h), max_size=8),
)
def test_against_the_oracle(peer: str, hops: list[str]) -> None:
    assert resolve_client_address(peer, [", ".join(hops)], trusted=PROXIES[:1]) == _oracle(peer, hops)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.text(max_size=60), max_size=4))
def test_any_header_gives_an_address_string(values: list[str]) -> None:
    for header in ("x-forwarded-for", "forwarded"):
        found = resolve_client_address("10.0.0.2", values, trusted=PROXIES, header=header)
        assert parse_address(found) is not None
    assert isinstance(forwarded_for(values), list) and isinstance(x_forwarded_for(values), list)
