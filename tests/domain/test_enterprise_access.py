"""The pure rules of instance access: credential names and token shapes, endpoint allowlists, tag
keys, values and filters. Property tests feed them arbitrary text: they answer or raise ``Invalid``,
never anything else, and what they accept obeys the documented rules."""

from __future__ import annotations

import ipaddress
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moorage.domain.enterprise_access import (
    EndpointPolicy,
    parse_allowed_network,
    parse_allowlist,
    validate_credential_name,
)
from moorage.domain.errors import Invalid
from moorage.domain.resource_tags import (
    KEY_SYMBOLS,
    VALUE_SYMBOLS,
    validate_filters,
    validate_key,
    validate_tags,
    validate_value,
)
from moorage.services.enterprise.credentials import looks_like_token
from tests.fuzz.budget import FUZZ


@FUZZ
@given(st.text(max_size=80))
def test_credential_names_accepted_follow_the_rule(text: str) -> None:
    try:
        name = validate_credential_name(text)
    except Invalid:
        return
    assert 1 <= len(name) <= 64 and name == text
    assert name[0].isalnum() and name[-1].isalnum() and name == name.lower()
    assert all(c in "abcdefghijklmnopqrstuvwxyz0123456789._-" for c in name)
    assert not any(a in "._-" and b in "._-" for a, b in itertools.pairwise(name))


@pytest.mark.parametrize("name", ["a", "ci-1", "a.b_c-d", "0x"])
def test_good_credential_names(name: str) -> None:
    assert validate_credential_name(name) == name


@pytest.mark.parametrize("name", ["", "A", "a..b", "a_-b", "-a", "a.", "a" * 65, "a b", "é"])
def test_bad_credential_names(name: str) -> None:
    with pytest.raises(Invalid):
        validate_credential_name(name)


def test_token_shape() -> None:
    good = "mrc1." + "0" * 32 + "." + "A" * 43
    assert looks_like_token(good)
    for bad in (good + "=", good[:-1], good.replace("mrc1", "mrc2"), "mrc1." + "G" * 32 + "." + "A" * 43, "password"):
        assert not looks_like_token(bad)


@FUZZ
@given(st.text(max_size=70))
def test_allowlist_entries_parse_or_are_invalid(text: str) -> None:
    try:
        entry = parse_allowed_network(text)
    except Invalid:
        return
    assert entry.network == ipaddress.ip_network(text.strip(), strict=True)


@FUZZ
@given(
    st.ip_addresses(v=4),
    st.integers(min_value=0, max_value=32),
    st.ip_addresses(v=4),
)
def test_a_policy_admits_exactly_its_networks(
    base: ipaddress.IPv4Address, prefix: int, probe: ipaddress.IPv4Address
) -> None:
    network = ipaddress.ip_network(f"{base}/{prefix}", strict=False)
    policy = EndpointPolicy(True, parse_allowlist([(str(network), "")]))
    assert policy.admits(probe) == (probe in network)
    assert EndpointPolicy(False, policy.allowlist).admits(probe) is False
    assert EndpointPolicy().admits(probe) is True


def test_policy_edges() -> None:
    policy = EndpointPolicy(True, parse_allowlist([("127.0.0.1", "one"), ("2001:db8::/32", "")]))
    assert policy.admits(ipaddress.ip_address("127.0.0.1"))
    assert not policy.admits(ipaddress.ip_address("127.0.0.2"))
    assert policy.admits(ipaddress.ip_address("2001:db8::7"))
    assert not policy.admits(None)  # no usable client address
    assert [e.ip for e in policy.allowlist] == ["127.0.0.1", "2001:db8::/32"]
    for bad in (["10.0.0.1/8"], ["10.0.0.0/8", "10.0.0.0/8"], [f"10.0.{i // 256}.{i % 256}" for i in range(101)]):
        with pytest.raises(Invalid):
            parse_allowlist([(ip, "") for ip in bad])


@FUZZ
@given(st.text(max_size=140))
def test_tag_keys_accepted_follow_the_rule(text: str) -> None:
    try:
        key = validate_key(text)
    except Invalid:
        return
    assert key == text.strip(" ") and 1 <= len(key) <= 128 and not key.startswith("_sys_")
    assert all(c.isalnum() or c in KEY_SYMBOLS for c in key)


@FUZZ
@given(st.text(max_size=270))
def test_tag_values_accepted_follow_the_rule(text: str) -> None:
    try:
        value = validate_value(text)
    except Invalid:
        return
    assert value == text.strip(" ") and len(value) <= 255
    assert all(c.isalnum() or c in VALUE_SYMBOLS for c in value)


def test_tag_lists_and_filters() -> None:
    assert [t.key for t in validate_tags([(" env ", " prod ")])] == ["env"]
    for bad in ([], [("k", "a"), ("k", "b")], [(f"k{i}", "") for i in range(21)], [("k/x", "v")]):
        with pytest.raises(Invalid):
            validate_tags(bad)
    assert validate_filters([("env", [])])[0].values == ()
    for bad_filter in (
        [("k", ["a", "a"])],
        [("k", [str(i) for i in range(11)])],
        [(f"k{i}", []) for i in range(51)],
        [("k", []), ("k", ["a"])],
    ):
        with pytest.raises(Invalid):
            validate_filters(bad_filter)
