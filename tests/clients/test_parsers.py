"""Header and reference parsers of the client: examples plus property tests (the manifest and
platform parsers are the domain's: tests/domain/test_manifests.py, tests/domain/test_oci_vocabulary.py)."""

from __future__ import annotations

import contextlib

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from moorage.clients.auth import ChallengeError, Credentials, parse_challenge
from moorage.clients.egress import EgressPolicy
from moorage.clients.reference import DOCKER_HUB, ImageReference, ReferenceError
from moorage.clients.registry import ManifestResponse, RegistryClient, RegistryError
from moorage.domain.digests import Digest
from moorage.domain.errors import ManifestInvalid
from tests.domain.oci_cases import RECONCILED, Reconciled


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


@pytest.mark.parametrize("case", RECONCILED, ids=lambda c: c.name)
def test_the_client_refuses_what_the_registry_refuses(case: Reconciled) -> None:
    """The client had a parser of its own that let each of these through (tests/domain/oci_cases.py)."""
    payload, content_type = case.document()
    answer = ManifestResponse(content_type, str(Digest.of(payload)), payload)
    with pytest.raises(ManifestInvalid) as refused:
        answer.parsed()
    assert case.reason in refused.value.message


async def test_a_refused_manifest_is_a_registry_error_naming_why() -> None:
    payload, content_type = RECONCILED[0].document()

    async def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=payload, headers={"Content-Type": content_type})

    async with RegistryClient(
        "registry.test", transport=httpx.MockTransport(serve), egress=EgressPolicy.unrestricted()
    ) as client:
        with pytest.raises(RegistryError, match="missing field 'mediaType'") as refused:
            await client.resolve_image("a/b", "1", None)
    assert refused.value.public == "the registry sent a manifest moorage cannot read"
