"""Property tests: random requests signed by the SDK's own signer and sent over loopback verify; any
single mutation of one never does; arbitrary input never crashes the parser or the verifier."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from moorage.auth import sdk_signature
from moorage.auth.sdk_signature import SignatureError, canonical_query_candidates, canonical_uri, parse_authorization
from tests.auth.recording_server import Received, RecordingServer
from tests.auth.sdk_requests import AK, SK, build, sdk_date, sign

PROPERTY_SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text the SDK can put on the wire: no surrogates (quote() cannot encode them), no control
# characters in header values (requests refuses them).
any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
header_text = st.text(st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp")), max_size=16)
# urllib3 removes "." and ".." path segments before sending, which breaks any signature: the SDK
# cannot send such a path parameter at all.
path_parameter = any_text.filter(lambda value: value not in (".", ".."))
LOWER_DIGITS = "abcdefghijklmnopqrstuvwxyz0123456789"
static_segment = st.builds(
    str.__add__, st.sampled_from(LOWER_DIGITS + "_~-"), st.text(LOWER_DIGITS + "._~-", max_size=7)
)


@st.composite
def sdk_paths(draw: st.DrawFn) -> str:
    """``/static/{param}/...`` with parameters encoded as the SDK's client does."""
    segments = draw(st.lists(st.one_of(static_segment, path_parameter.map(lambda v: quote(v, safe=""))), max_size=5))
    return "/" + "/".join(segments) + draw(st.sampled_from(["", "/"]))


query_value = st.one_of(
    any_text,
    st.integers(min_value=-(10**12), max_value=10**12),
    st.booleans(),
    st.tuples(st.just("multi"), st.lists(any_text, max_size=3)),
    st.tuples(st.just("multi"), st.lists(st.integers(min_value=0, max_value=10**6), max_size=3)),
    st.lists(any_text, min_size=1, max_size=3),
)


def sdk_query(parameters: dict[str, Any]) -> list[tuple[str, Any]]:
    """The client's query tuples: ``multi`` collections become repeated keys, lists stay lists."""
    pairs: list[tuple[str, Any]] = []
    for key, value in parameters.items():
        if isinstance(value, tuple):
            pairs.extend((key, item) for item in value[1])
        else:
            pairs.append((key, value))
    return pairs


RESERVED_HEADERS = {
    "host",
    "x-sdk-date",
    "authorization",
    "content-type",
    "content-length",
    "user-agent",
    "x-sdk-content-sha256",
    "transfer-encoding",
    "connection",
    "expect",
}
header_name = st.builds(str.__add__, st.sampled_from("AaXxRr"), st.text(LOWER_DIGITS + "ABCXYZ_-", max_size=10)).filter(
    lambda name: name.lower() not in RESERVED_HEADERS
)


@st.composite
def extra_headers(draw: st.DrawFn) -> dict[str, str]:
    """Headers beyond the SDK's own, unique regardless of case."""
    names = draw(st.lists(header_name, max_size=4, unique_by=str.lower))
    headers = {name: draw(header_text) for name in names}
    if draw(st.booleans()):
        headers["region"] = draw(st.sampled_from(["local-1", "cn-north-4"]))
    if draw(st.booleans()):
        headers["X-Project-Id"] = draw(st.text("0123456789abcdef", min_size=32, max_size=32))
    return headers


@st.composite
def bodies(draw: st.DrawFn) -> tuple[str | None, str | bytes | None]:
    """(content type, body): JSON documents, form text, raw bytes, nothing."""
    kind = draw(st.sampled_from(["json", "none", "octet", "empty-json"]))
    if kind == "json":
        document = draw(st.dictionaries(any_text, st.one_of(any_text, st.integers(), st.booleans()), max_size=4))
        return "application/json;charset=UTF-8", json.dumps(document, ensure_ascii=draw(st.booleans()))
    if kind == "octet":
        return "application/octet-stream", draw(st.binary(min_size=1, max_size=64))
    if kind == "empty-json":
        return "application/json", ""
    return draw(st.sampled_from([None, "application/json"])), None


@st.composite
def signed_requests(draw: st.DrawFn, recorder: RecordingServer) -> tuple[Received, datetime]:
    """A random request, signed by the SDK and received by the loopback server."""
    content_type, body = draw(bodies())
    signed_at = draw(
        st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC))
    ).replace(microsecond=0)
    request = build(
        recorder.host,
        method=draw(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"])),
        path=draw(sdk_paths()),
        query=sdk_query(draw(st.dictionaries(any_text.filter(bool), query_value, max_size=4))),
        headers=draw(extra_headers()),
        body=body,
        content_type=content_type,
        signed_at=signed_at,
    )
    derived = draw(st.one_of(st.none(), st.just(("swr", "local-1"))))
    received = recorder.send(sign(request, derived=derived))
    return received, signed_at + timedelta(seconds=draw(st.integers(min_value=-900, max_value=900)))


@PROPERTY_SETTINGS
@given(data=st.data())
def test_sdk_signed_requests_verify(recorder: RecordingServer, data: st.DataObject) -> None:
    received, now = data.draw(signed_requests(recorder))
    verified = received.verify(secret_key=SK, now=now)
    assert verified.access_key == AK


def _requote(pairs: list[tuple[str, str]]) -> bytes:
    return "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in pairs).encode()


def _mutations(received: Received, signed_at: datetime) -> dict[str, Any]:
    """Every single-part mutation applicable to ``received``: name -> (request, secret key)."""
    authorization = parse_authorization(received.header("authorization"))
    signed = list(authorization.signed_headers)
    mutations: dict[str, Any] = {
        "path: appended": (replace(received, raw_path=received.raw_path + b"x"), SK),
        "path: segment inserted": (replace(received, raw_path=b"/z" + received.raw_path), SK),
        "method": (replace(received, method="OPTIONS"), SK),
        "secret key": (received, SK + "x"),
        "date: later": (received.with_header("x-sdk-date", sdk_date(signed_at + timedelta(seconds=7))), SK),
        "date: earlier": (received.with_header("x-sdk-date", sdk_date(signed_at - timedelta(hours=2))), SK),
        "signed headers: one more": (_resign_list(received, [*signed, "x-absent"]), SK),
        "signed headers: reversed": (_resign_list(received, signed[::-1]), SK),
    }
    pairs = parse_qsl(received.query_string.decode(), keep_blank_values=True)
    if pairs:
        key, value = pairs[0]
        mutations["query: value"] = (replace(received, query_string=_requote([(key, value + "x"), *pairs[1:]])), SK)
        mutations["query: pair dropped"] = (replace(received, query_string=_requote(pairs[1:])), SK)
    else:
        mutations["query: pair added"] = (replace(received, query_string=b"x=1"), SK)
    payload_unsigned = received.headers.get("x-sdk-content-sha256") == "UNSIGNED-PAYLOAD"
    if received.body and not payload_unsigned:
        flipped = bytes([received.body[0] ^ 1]) + received.body[1:]
        mutations["body: byte flipped"] = (replace(received, body=flipped), SK)
    if not received.body:
        mutations["body: added"] = (replace(received, body=b"{}"), SK)
    for name in signed:
        if name != "x-sdk-date":
            mutations[f"header value: {name}"] = (received.with_header(name, received.header(name) + "x"), SK)
        mutations[f"header removed: {name}"] = (received.without_header(name), SK)
    mutations["signed headers: first left out"] = (_resign_list(received, signed[1:]), SK)
    return mutations


def _resign_list(received: Received, names: list[str]) -> Received:
    old = received.header("authorization")
    listed = ";".join(parse_authorization(old).signed_headers)
    new = old.replace(f"SignedHeaders={listed}", f"SignedHeaders={';'.join(names)}")
    return received.with_header("authorization", new)


@PROPERTY_SETTINGS
@given(data=st.data())
def test_single_mutations_never_verify(recorder: RecordingServer, data: st.DataObject) -> None:
    received, _ = data.draw(signed_requests(recorder))
    signed_at = datetime.strptime(received.header("x-sdk-date"), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    mutations = _mutations(received, signed_at)
    name = data.draw(st.sampled_from(sorted(mutations)), label="mutation")
    tampered, secret_key = mutations[name]
    try:
        tampered.verify(secret_key=secret_key, now=signed_at)
    except SignatureError:
        return
    raise AssertionError(f"mutation {name!r} still verifies")


@PROPERTY_SETTINGS
@given(
    parameters=st.dictionaries(any_text.filter(bool), st.one_of(any_text, st.lists(any_text, max_size=3)), max_size=5),
    order=st.randoms(use_true_random=False),
    plus_for_space=st.booleans(),
)
def test_reordered_query_is_still_the_signed_canonical_query(
    parameters: dict[str, Any], order: Any, plus_for_space: bool
) -> None:
    """Oracle: the SDK's own canonical query string is among the candidates for any order and any
    equivalent encoding of the same parameters on the wire."""
    request = SdkRequest(
        query_params=sdk_query({k: ("multi", v) if isinstance(v, list) else v for k, v in parameters.items()})
    )
    signed = Signer._process_canonical_query_string(request).encode()
    wire_pairs = parse_qsl(signed.decode(), keep_blank_values=True)
    order.shuffle(wire_pairs)
    wire = "&".join(
        f"{quote(k, safe='~')}={quote(v, safe='~')}".replace("%20", "+" if plus_for_space else "%20")
        for k, v in wire_pairs
    ).encode()
    assert signed in canonical_query_candidates(wire)


@PROPERTY_SETTINGS
@given(path=st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40))
@example(path="/%C3")
@example(path="/%2F%2f/%7e%7E")
def test_canonical_uri_agrees_with_the_sdk(path: str) -> None:
    """Oracle: the SDK's own CanonicalURI for any path it could be given."""
    sdk = Signer(BasicCredentials("a", "b"))._process_canonical_uri(SdkRequest(resource_path=path))
    assert canonical_uri(path.encode()) == sdk


# Fuzzing -------------------------------------------------------------------------------------------

authorization_like = st.builds(
    lambda algorithm, parts, separator: algorithm + " " + separator.join(parts),
    st.sampled_from(["SDK-HMAC-SHA256", "V11-HMAC-SHA256", "SDK-HMAC-SM3", "Basic", ""]),
    st.lists(
        st.builds(
            lambda name, value: f"{name}={value}",
            st.sampled_from(["Access", "Credential", "SignedHeaders", "Signature", "Other", ""]),
            st.one_of(
                st.text(max_size=70),
                st.text("0123456789abcdef", min_size=64, max_size=64),
                st.sampled_from([AK, f"{AK}/20250301/local-1/swr", f"{AK}/2025/x/y"]),
                st.lists(st.sampled_from(["host", "x-sdk-date", "region", "Host", ""]), min_size=1, max_size=4).map(
                    ";".join
                ),
            ),
        ),
        max_size=4,
    ),
    st.sampled_from([", ", ",", " , ", ";"]),
)


@settings(max_examples=400, deadline=None)
@given(value=st.one_of(st.text(), authorization_like))
def test_parse_authorization_never_crashes(value: str) -> None:
    try:
        parsed = parse_authorization(value)
    except SignatureError:
        return
    assert parsed.algorithm in sdk_signature.SUPPORTED_ALGORITHMS
    assert len(parsed.signature) == 64 and parsed.signed_headers


@settings(max_examples=300, deadline=None)
@given(
    method=st.text(max_size=8),
    raw_path=st.binary(max_size=40),
    query_string=st.binary(max_size=40),
    authorization=st.one_of(authorization_like, st.text(max_size=40)),
    date=st.one_of(st.just("20250301T120000Z"), st.text(max_size=20)),
    other_headers=st.dictionaries(st.text(max_size=12), st.text(max_size=12), max_size=4),
    body=st.binary(max_size=20),
    content_sha256=st.one_of(st.none(), st.just("UNSIGNED-PAYLOAD"), st.text(max_size=70)),
)
def test_verify_only_ever_raises_signature_errors(
    method: str,
    raw_path: bytes,
    query_string: bytes,
    authorization: str,
    date: str,
    other_headers: dict[str, str],
    body: bytes,
    content_sha256: str | None,
) -> None:
    headers = {"Authorization": authorization, "X-Sdk-Date": date, "Host": "h", **other_headers}
    if content_sha256 is not None:
        headers["X-Sdk-Content-Sha256"] = content_sha256
    try:
        sdk_signature.verify(
            method=method,
            raw_path=raw_path,
            query_string=query_string,
            headers=headers,
            body=body,
            secret_key="sk",
            now=datetime(2025, 3, 1, 12, tzinfo=UTC),
        )
    except SignatureError:
        return
    raise AssertionError("a random request verified")
