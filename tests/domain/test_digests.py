"""Digests: parsing against the OCI grammar, hashing against hashlib as the oracle."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moorage.domain.digests import Digest, is_digest
from moorage.domain.errors import DigestInvalid, UnsupportedDigest


@given(st.binary(max_size=4096), st.sampled_from(["sha256", "sha512"]))
def test_digest_of_matches_hashlib(content: bytes, algorithm: str) -> None:
    digest = Digest.of(content, algorithm)
    assert str(digest) == f"{algorithm}:{hashlib.new(algorithm, content).hexdigest()}"
    assert Digest.parse(str(digest)) == digest
    assert digest.matches(content)
    assert not digest.matches(content + b"x")


@pytest.mark.parametrize(
    "text",
    [
        "sha256:" + "a" * 63,
        "sha256:" + "A" * 64,  # encoded part of a registered algorithm is lowercase hex
        "sha256:" + "g" * 64,
        "sha512:" + "a" * 64,
        "sha256" + "a" * 64,
        ":" + "a" * 64,
        "sha256:",
        "",
        "SHA256:" + "a" * 64,
        "sha256:" + "a" * 64 + "\n",
    ],
)
def test_malformed_digests_are_invalid(text: str) -> None:
    with pytest.raises(DigestInvalid):
        Digest.parse(text)


def test_unknown_algorithm_is_unsupported_not_invalid() -> None:
    with pytest.raises(UnsupportedDigest):
        Digest.parse("md5:" + "a" * 32)
    assert is_digest("md5:" + "a" * 32)
    assert not is_digest("latest")


@given(st.text(max_size=300))
def test_parse_never_crashes(text: str) -> None:
    try:
        digest = Digest.parse(text)
    except (DigestInvalid, UnsupportedDigest):
        return
    assert str(digest) == text
