"""Repository names: moorage's ``namespace/repository`` grammar, checked over HTTP.

moorage narrows the OCI name grammar: a namespace (1-64 characters, starting with a lowercase
letter, ending with a letter or digit) then a repository path (1-128 characters); separators
``.``, ``_``, ``-`` are never doubled except ``__``. Names outside it get 400 NAME_INVALID on
every endpoint; the reference answers its own 404 page instead, so those tests are moorage's.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.oci.oci_client import OciClient, assert_error

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-)[a-z0-9]+)*"
_NAMESPACE = re.compile(r"[a-z][a-z0-9]*(?:(?:\.|_|__|-)[a-z0-9]+)*")
_REPOSITORY = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")


def moorage_name_is_valid(name: str) -> bool:
    """The oracle: moorage's name rules written as plainly as possible."""
    namespace, slash, repository = name.partition("/")
    return (
        bool(slash)
        and 1 <= len(namespace) <= 64
        and _NAMESPACE.fullmatch(namespace) is not None
        and 1 <= len(repository) <= 128
        and _REPOSITORY.fullmatch(repository) is not None
    )


VALID = [
    "a/b",
    "ns/repo",
    "ns/repo/more/deeper",
    "a1/b2",
    "n.s/r.e",
    "n_s/r_e",
    "n__s/r__e",
    "n-s/r-e",
    "a" * 64 + "/r",
    "ns/" + "r" * 128,
    "ns/" + "/".join(["abc"] * 32),
    "x9/0start-with-digit",
]
INVALID = [
    "alpine",
    "Upper/case",
    "ns/Repo",
    "1ns/repo",
    "_ns/repo",
    "ns-/repo",
    "ns/repo-",
    "n..s/repo",
    "n.-s/repo",
    "ns/re--po",
    "ns/re___po",
    "ns/-repo",
    "ns//repo",
    "ns/repo/",
    "ns/.repo",
    "a" * 65 + "/r",
    "ns/" + "r" * 129,
    "n-_s/repo",
    "ns/re.po./x",
]


def test_the_oracle_agrees_with_the_examples() -> None:
    assert all(moorage_name_is_valid(name) for name in VALID)
    assert not any(moorage_name_is_valid(name) for name in INVALID)


@pytest.mark.parametrize("name", VALID)
def test_valid_names_can_be_pushed_and_listed(oci: OciClient, name: str) -> None:
    location = oci.start_upload(name)
    assert location
    oci.push_blob(name, name.encode())
    assert oci.http.get(f"/v2/{name}/blobs/sha256:" + "0" * 64).status_code == 404


@pytest.mark.moorage_extra("NAME_INVALID with moorage's namespace grammar")
@pytest.mark.parametrize("name", INVALID)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/blobs/uploads/"),
        ("GET", "/tags/list"),
        ("GET", "/manifests/latest"),
        ("PUT", "/manifests/latest"),
        ("HEAD", "/blobs/sha256:" + "0" * 64),
    ],
)
def test_invalid_names_are_name_invalid_on_every_endpoint(oci: OciClient, name: str, method: str, path: str) -> None:
    response = oci.http.request(method, f"/v2/{name}{path}", content=b"{}" if method == "PUT" else b"")
    assert_error(response, 400, "NAME_INVALID")


_NAME_ALPHABET = st.sampled_from([*"ab09._-/A", "__", "a" * 40])


@pytest.mark.moorage_extra("moorage's name grammar, property-tested against the oracle")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(_NAME_ALPHABET, min_size=1, max_size=12))
def test_server_accepts_exactly_the_names_the_oracle_accepts(oci: OciClient, parts: list[str]) -> None:
    name = "".join(parts)
    if any(segment in (".", "..") for segment in name.split("/")):
        return  # dot segments are resolved by HTTP clients before the server sees the name
    response = oci.http.get(f"/v2/{name}/tags/list")
    if moorage_name_is_valid(name):
        if name in VALID and response.status_code == 200:
            return  # pushed into this module's registry by test_valid_names_can_be_pushed_and_listed
        assert_error(response, 404, "NAME_UNKNOWN")
    else:
        assert_error(response, 400, "NAME_INVALID")
