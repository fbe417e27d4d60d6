"""Header and reference parsers of the client: examples plus property tests."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moorage.clients.auth import ChallengeError, Credentials, parse_challenge
from moorage.clients.oci_types import ManifestError, Platform, parse_manifest_or_index
from moorage.clients.reference import DOCKER_HUB, ImageReference, ReferenceError


def test_docker_hub_bearer_challenge() -> None:
    challenge = parse_challenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:samalba/my-app:pull,push"'
    )
    assert challenge.scheme == "bearer"
    assert challenge.params == {
        "realm": "https://auth.docker.io/token",
        "service": "registry.docker.io",
        "scope": "repository:samalba/my-app:pull,push",
    }
    assert parse_challenge('Basic realm="x y"').params == {"realm": "x y"}
    assert parse_challenge("Bearer realm=plain, error=invalid_token").params["error"] == "invalid_token"
    assert Credentials("a", "b").basic_header() == "Basic YTpi"


@pytest.mark.parametrize("bad", ["", "   ", 'Bearer realm="unterminated', "Bearer novalue", "B@d realm=x"])
def test_bad_challenges(bad: str) -> None:
    with pytest.raises(ChallengeError):
        parse_challenge(bad)


_SAFE = st.text(st.characters(blacklist_characters='"\\', blacklist_categories=("Cs",)), max_size=30)


@given(st.dictionaries(st.from_regex(r"[a-z][a-z_]{0,9}", fullmatch=True), _SAFE, max_size=5))
def test_challenge_round_trip(params: dict[str, str]) -> None:
    header = "Bearer " + ",".join(f'{k}="{v}"' for k, v in params.items())
    assert parse_challenge(header).params == params


@given(st.text(max_size=200))
def test_challenge_parser_never_crashes(text: str) -> None:
    with contextlib.suppress(ChallengeError):
        parse_challenge(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("debian", (DOCKER_HUB, "library/debian", "latest", "")),
        ("debian:12", (DOCKER_HUB, "library/debian", "12", "")),
        ("127.0.0.1:5000/a/b:v1", ("127.0.0.1:5000", "a/b", "v1", "")),
        ("localhost/x@sha256:" + "a" * 64, ("localhost", "x", "", "sha256:" + "a" * 64)),
        ("ghcr.io/org/img:1.0@sha256:" + "b" * 64, ("ghcr.io", "org/img", "1.0", "sha256:" + "b" * 64)),
    ],
)
def test_references(text: str, expected: tuple[str, str, str, str]) -> None:
    ref = ImageReference.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == expected


@given(st.text(max_size=100))
def test_reference_parser_never_crashes(text: str) -> None:
    try:
        ref = ImageReference.parse(text)
    except ReferenceError:
        return
    assert ImageReference.parse(str(ref)) == ref


@given(st.binary(max_size=300))
def test_manifest_parser_rejects_garbage_cleanly(data: bytes) -> None:
    with contextlib.suppress(ManifestError):
        parse_manifest_or_index(data)


def test_platform_parse_and_match() -> None:
    assert Platform.parse("linux/arm/v7") == Platform("linux", "arm", "v7")
    assert Platform("linux", "arm64", "v8").matches(Platform("linux", "arm64"))
    assert not Platform("linux", "arm", "v6").matches(Platform("linux", "arm", "v7"))
    with pytest.raises(ManifestError):
        Platform.parse("linux")
