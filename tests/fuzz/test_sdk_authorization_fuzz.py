"""Fuzzing the SDK signature parsers that face the network: the ``Authorization`` header and the
header checks made before the secret key is looked up. Arbitrary and damaged input raises
``SignatureError`` and nothing else; well-formed headers parse to what they say."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from moorage.auth.sdk_signature import SignatureError, check_headers, parse_authorization
from tests.auth.sdk_requests import AK, SIGNED_AT, build, sign
from tests.fuzz.budget import FUZZ

header_names = st.sampled_from(
    ["host", "x-sdk-date", "content-type", "x-project-id", "authorization", "x-sdk-content-sha256", "region", "x-a"]
) | st.text(max_size=8)
header_values = st.text(max_size=40) | st.sampled_from(["20250301T120000Z", "UNSIGNED-PAYLOAD", "", " "])
SIGNED = sign(build("127.0.0.1:5000", method="POST", body=b'{"a":1}', headers={"X-Project-Id": "p"}))
GOOD_AUTHORIZATION = SIGNED.header_params["Authorization"]


@st.composite
def authorizations(draw: st.DrawFn) -> str:
    """Header values near the real ones: generated parameter lists, and the SDK's own with damage."""
    if draw(st.booleans()):
        algorithm = draw(st.sampled_from(["SDK-HMAC-SHA256", "V11-HMAC-SHA256", "SDK-HMAC-SM3", "Bearer", ""]))
        names = draw(st.lists(st.sampled_from(["Access", "SignedHeaders", "Signature", "Credential", "X"]), max_size=5))
        params = [f"{n}={draw(st.text(max_size=70))}" for n in names]
        return f"{algorithm} " + draw(st.sampled_from([", ", ",", " , "])).join(params)
    text = GOOD_AUTHORIZATION
    at = draw(st.integers(0, len(text)))
    return text[:at] + draw(st.text(max_size=4)) + text[at + draw(st.integers(0, 3)) :]


@FUZZ
@given(authorizations() | st.text(max_size=300))
def test_authorization_parses_or_raises_signature_error(value: str) -> None:
    try:
        parsed = parse_authorization(value)
    except SignatureError:
        return
    assert parsed.signature == parsed.signature.lower() and len(parsed.signature) == 64
    assert parsed.signed_headers and all(name == name.lower() for name in parsed.signed_headers)


@FUZZ
@given(
    st.lists(st.tuples(header_names, header_values), max_size=8),
    st.binary(max_size=40),
    st.binary(max_size=40),
    st.sampled_from(["GET", "POST", "DELETE", "x"]),
)
def test_header_checks_raise_only_signature_errors(
    extra: list[tuple[str, str]], path: bytes, query: bytes, method: str
) -> None:
    headers = dict(SIGNED.header_params)
    for name, value in extra:
        headers[name] = value
    try:
        checked = check_headers(
            method=method,
            raw_path=b"/" + path,
            query_string=query,
            headers=headers,
            now=SIGNED_AT + timedelta(seconds=5),
        )
    except SignatureError:
        return
    assert checked.access_key == AK
    with contextlib.suppress(SignatureError):
        checked.verify("wrong", body_sha256=None)


def test_the_sdks_own_header_passes_the_checks() -> None:
    checked = check_headers(
        method="POST", raw_path=b"/v2/manage/namespaces", query_string=b"", headers=SIGNED.header_params, now=SIGNED_AT
    )
    assert checked.access_key == AK and checked.declared_payload_hash is None
