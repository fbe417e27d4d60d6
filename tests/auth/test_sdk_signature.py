"""SDK-HMAC-SHA256 verification against the official signer: requests signed by huaweicloudsdkcore
and sent over loopback are accepted; each tampered part is refused with the right exception."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from huaweicloudsdkhss.v5 import HssClient, ListImageMalwareRequest
from huaweicloudsdkswr.v2 import (
    CreateNamespaceRequest,
    CreateNamespaceRequestBody,
    ListNamespacesRequest,
    ShowRepositoryRequest,
    SwrClient,
)

from moorage.auth import sdk_signature
from moorage.auth.sdk_signature import (
    ClockSkew,
    MalformedSignature,
    MissingSignedHeader,
    SignatureError,
    SignatureMismatch,
    UnsupportedAlgorithm,
    canonical_uri,
    parse_authorization,
)
from tests.auth.recording_server import Received, RecordingServer
from tests.auth.sdk_requests import AK, OTHER_SK, SIGNED_AT, SK, build, fill_path, sdk_date, sign

NOW = SIGNED_AT + timedelta(seconds=30)


def send_signed(recorder: RecordingServer, **kwargs: object) -> Received:
    derived = kwargs.pop("derived", None)
    request = build(recorder.host, **kwargs)  # type: ignore[arg-type]
    return recorder.send(sign(request, derived=derived))  # type: ignore[arg-type]


# Accepted shapes ----------------------------------------------------------------------------------

ACCEPTED_SHAPES: dict[str, dict[str, object]] = {
    "bare GET": {},
    "GET, no content type": {"content_type": None},
    "query: numbers sorted numerically by the client": {
        "path": "/v2/manage/namespaces/ns/repos/app/tags",
        "query": [("limit", 10), ("offset", 9), ("ids", 10), ("ids", 9), ("ids", 100)],
    },
    "query: list value and booleans": {
        "query": [("tags", ["v2", "latest", "v10"]), ("latest_version", True), ("scannable", False)],
    },
    "query: unicode, spaces, reserved characters": {
        "query": [("filter", "name::é ü/x+y&z=1"), ("名", "值 ~ ! * ' ( )"), ("empty", "")],
    },
    "path parameters with $, / and unicode": {
        "path": fill_path(
            "/v2/manage/namespaces/{namespace}/repos/{repository}", namespace="ns$1", repository="group/app ü~"
        ),
    },
    "trailing slash and tilde": {"path": "/v2/manage/~user/"},
    "POST with an empty body": {"method": "POST", "body": ""},
    "POST with a JSON body": {"method": "POST", "body": '{"namespace": "dev", "metadata": {"é": [1, 2]}}'},
    "PUT with a JSON body, bytes": {"method": "PUT", "body": b'{"is_public": true}'},
    "DELETE": {"method": "DELETE", "path": "/v2/manage/namespaces/dev"},
    "HSS region header": {
        "path": "/v5/proj/image/swr-repository",
        "headers": {"region": "local-1", "X-Project-Id": "proj"},
        "query": [("image_type", "private_image"), ("latest_version", True), ("limit", 200)],
    },
    "UNSIGNED-PAYLOAD (octet-stream)": {
        "method": "PUT",
        "content_type": "application/octet-stream",
        "body": bytes(range(256)) * 3,
    },
    "UNSIGNED-PAYLOAD (form)": {
        "method": "POST",
        "content_type": "application/x-www-form-urlencoded",
        "body": "a=1&b=%20",
    },
    "unicode header value, signed": {"headers": {"X-Description": "dépôt ünïcode 镜像"}},
    "header with an underscore (never signed)": {"headers": {"X_Trace_Id": "abc"}},
    "temporary credentials (X-Security-Token)": {"headers": {"X-Security-Token": "token-of-a-temporary-key"}},
    "value with surrounding spaces": {"headers": {"X-Tag": "  padded  "}},
}


@pytest.mark.parametrize("shape", list(ACCEPTED_SHAPES), ids=list(ACCEPTED_SHAPES))
def test_sdk_signed_requests_are_accepted(recorder: RecordingServer, shape: str) -> None:
    received = send_signed(recorder, **ACCEPTED_SHAPES[shape])
    verified = received.verify(secret_key=SK, now=NOW)
    assert verified.access_key == AK
    assert {"host", "x-sdk-date", "user-agent"} <= verified.signed_headers


def test_unsigned_payload_is_reported_and_body_not_covered(recorder: RecordingServer) -> None:
    received = send_signed(recorder, method="PUT", content_type="application/octet-stream", body=b"layer bytes")
    assert received.header("x-sdk-content-sha256") == "UNSIGNED-PAYLOAD"
    assert received.verify(secret_key=SK, now=NOW).payload_signed is False
    # by design of the SDK, the body of such a request is not authenticated
    assert replace(received, body=b"other bytes").verify(secret_key=SK, now=NOW).payload_signed is False


def test_json_payload_is_covered(recorder: RecordingServer) -> None:
    received = send_signed(recorder, method="POST", body='{"a": 1}')
    assert received.verify(secret_key=SK, now=NOW).payload_signed is True


def test_derived_key_variant_is_accepted(recorder: RecordingServer) -> None:
    received = send_signed(
        recorder,
        method="POST",
        body='{"a": 1}',
        derived=("swr", "local-1"),
        query=[("limit", 5)],
        headers={"X-Project-Id": "p1"},
    )
    assert received.header("authorization").startswith("V11-HMAC-SHA256 Credential=")
    verified = received.verify(secret_key=SK, now=NOW)
    assert verified.scope == sdk_signature.CredentialScope(SIGNED_AT.strftime("%Y%m%d"), "local-1", "swr")
    with pytest.raises(SignatureMismatch):
        received.verify(secret_key=OTHER_SK, now=NOW)


def test_query_in_another_order_is_accepted(recorder: RecordingServer) -> None:
    """Clients other than the Python SDK send the query in their own order and sign it sorted."""
    received = send_signed(recorder, query=[("b", "2"), ("a", "x y"), ("c", "~")])
    pairs = parse_qsl(received.query_string.decode(), keep_blank_values=True)
    reordered = "&".join(f"{k}={v.replace(' ', '+')}" for k, v in reversed(pairs)).encode()
    assert reordered != received.query_string
    replace(received, query_string=reordered).verify(secret_key=SK, now=NOW)


def test_encoded_slash_and_separator_canonicalise_alike(recorder: RecordingServer) -> None:
    """The SDK's canonical URI decodes %2F into a separator: /a%2Fb and /a/b sign alike (Starlette
    routes on the decoded path anyway, so both reach the same handler)."""
    received = send_signed(recorder, path=fill_path("/v2/manage/namespaces/ns/repos/{r}", r="group/app"))
    assert b"group%2Fapp" in received.raw_path
    replace(received, raw_path=received.raw_path.replace(b"%2F", b"/")).verify(secret_key=SK, now=NOW)


# Through the official SWR and HSS clients --------------------------------------------------------


def _swr_client(recorder: RecordingServer) -> SwrClient:
    return (
        SwrClient.new_builder()
        .with_credentials(BasicCredentials(AK, SK, "project-0001"))
        .with_endpoints([recorder.base_url])
        .build()
    )


def test_official_swr_client_requests_verify(recorder: RecordingServer) -> None:
    client = _swr_client(recorder)
    now = datetime.now(UTC)

    client.create_namespace(CreateNamespaceRequest(body=CreateNamespaceRequestBody(namespace="dev-team")))
    created = recorder.last()
    assert created.method == "POST" and created.body == b'{"namespace": "dev-team"}'
    verified = created.verify(secret_key=SK, now=now)
    assert {"x-project-id", "content-type"} <= verified.signed_headers

    client.list_namespaces(ListNamespacesRequest(namespace="dev team/ü"))
    listed = recorder.last()
    assert listed.query_string == b"namespace=dev%20team%2F%C3%BC"
    listed.verify(secret_key=SK, now=now)

    client.show_repository(ShowRepositoryRequest(namespace="dev-team", repository="group/app$1"))
    shown = recorder.last()
    assert shown.raw_path == b"/v2/manage/namespaces/dev-team/repos/group%2Fapp%241"
    shown.verify(secret_key=SK, now=now)
    with pytest.raises(SignatureMismatch):
        replace(shown, raw_path=b"/v2/manage/namespaces/dev-team/repos/group%2Fapp%242").verify(secret_key=SK, now=now)


def test_official_hss_client_requests_verify(recorder: RecordingServer) -> None:
    client = (
        HssClient.new_builder()
        .with_credentials(BasicCredentials(AK, SK, "project-0001"))
        .with_endpoints([recorder.base_url])
        .build()
    )
    client.list_image_malware(
        ListImageMalwareRequest(
            image_id="sha256:0a1b",
            region="local-1",
            image_type="private_image",
            limit=10,
            namespace="dev",
            image_name="group/app",
            tag_name="v1.0",
        )
    )
    received = recorder.last()
    assert received.raw_path == b"/v5/project-0001/image/sha256%3A0a1b/malwares"
    assert b"image_name=group%2Fapp" in received.query_string
    verified = received.verify(secret_key=SK, now=datetime.now(UTC))
    assert "region" in verified.signed_headers
    with pytest.raises(SignatureMismatch):
        received.with_header("region", "other-1").verify(secret_key=SK, now=datetime.now(UTC))


# Tampering ---------------------------------------------------------------------------------------


@pytest.fixture
def signed_post(recorder: RecordingServer) -> Received:
    """A signed POST with path parameters, a query, a JSON body, X-Project-Id and region."""
    received = send_signed(
        recorder,
        method="POST",
        path=fill_path("/v2/manage/namespaces/{ns}/repos/{repo}/tags", ns="dev", repo="group/app"),
        query=[("limit", 10), ("filter", "a+b"), ("flag", True)],
        headers={"X-Project-Id": "project-0001", "region": "local-1"},
        body='{"tag": "v1", "digest": "sha256:00"}',
    )
    received.verify(secret_key=SK, now=NOW)
    return received


def _set_query_value(received: Received, key: str, value: str) -> Received:
    pairs = parse_qsl(received.query_string.decode(), keep_blank_values=True)
    text = "&".join(f"{quote(k, safe='~')}={quote(value if k == key else v, safe='~')}" for k, v in pairs)
    return replace(received, query_string=text.encode())


def _with_authorization(received: Received, transform: Callable[[str], str]) -> Received:
    return received.with_header("authorization", transform(received.header("authorization")))


def _signed_headers(received: Received, names: str) -> Received:
    listed = ";".join(parse_authorization(received.header("authorization")).signed_headers)
    return _with_authorization(received, lambda v: v.replace(f"SignedHeaders={listed}", f"SignedHeaders={names}"))


TAMPERINGS: dict[str, tuple[Callable[[Received], Received], type[SignatureError]]] = {
    "path segment": (lambda r: replace(r, raw_path=r.raw_path.replace(b"/dev/", b"/dew/")), SignatureMismatch),
    "path: extra segment": (lambda r: replace(r, raw_path=r.raw_path + b"/x"), SignatureMismatch),
    "path: %2F made %252F": (lambda r: replace(r, raw_path=r.raw_path.replace(b"%2F", b"%252F")), SignatureMismatch),
    "query value": (lambda r: _set_query_value(r, "limit", "1000"), SignatureMismatch),
    "query: %2B made +": (lambda r: replace(r, query_string=r.query_string.replace(b"%2B", b"+")), SignatureMismatch),
    "query: parameter added": (lambda r: replace(r, query_string=r.query_string + b"&offset=5"), SignatureMismatch),
    "query: parameter removed": (
        lambda r: replace(r, query_string=r.query_string.replace(b"flag=true&", b"")),
        SignatureMismatch,
    ),
    "query: dropped": (lambda r: replace(r, query_string=b""), SignatureMismatch),
    "body: one byte": (lambda r: replace(r, body=r.body.replace(b"v1", b"v2")), SignatureMismatch),
    "body: appended": (lambda r: replace(r, body=r.body + b" "), SignatureMismatch),
    "body: emptied": (lambda r: replace(r, body=b""), SignatureMismatch),
    "body: declared unsigned afterwards": (
        lambda r: r.with_header("x-sdk-content-sha256", "UNSIGNED-PAYLOAD"),
        MissingSignedHeader,
    ),
    "method": (lambda r: replace(r, method="PUT"), SignatureMismatch),
    "signed header value: X-Project-Id": (lambda r: r.with_header("x-project-id", "project-0002"), SignatureMismatch),
    "signed header value: region": (lambda r: r.with_header("region", "local-2"), SignatureMismatch),
    "signed header value: Host": (lambda r: r.with_header("host", "registry.example:443"), SignatureMismatch),
    "signed header value: User-Agent": (lambda r: r.with_header("user-agent", "curl/8"), SignatureMismatch),
    "signed header removed": (lambda r: r.without_header("user-agent"), MissingSignedHeader),
    "signed header sent twice": (lambda r: r.with_extra_header("x-project-id", "project-0002"), MalformedSignature),
    "protected header added unsigned": (lambda r: r.with_header("x-domain-id", "domain-2"), MissingSignedHeader),
    "date: one second later": (
        lambda r: r.with_header("x-sdk-date", sdk_date(SIGNED_AT + timedelta(seconds=1))),
        SignatureMismatch,
    ),
    "date: an hour earlier": (
        lambda r: r.with_header("x-sdk-date", sdk_date(SIGNED_AT - timedelta(hours=1))),
        ClockSkew,
    ),
    "date: removed": (lambda r: r.without_header("x-sdk-date"), MissingSignedHeader),
    "date: other format": (lambda r: r.with_header("x-sdk-date", "2025-03-01T12:00:00Z"), MalformedSignature),
    "date: impossible": (lambda r: r.with_header("x-sdk-date", "20250230T120000Z"), MalformedSignature),
    "signed headers: one left out": (
        lambda r: _signed_headers(r, "content-type;host;region;x-project-id;x-sdk-date"),
        SignatureMismatch,
    ),
    "signed headers: protected one left out": (
        lambda r: _signed_headers(r, "content-type;host;region;user-agent;x-sdk-date"),
        MissingSignedHeader,
    ),
    "signed headers: one not sent": (
        lambda r: _signed_headers(r, "content-type;host;region;user-agent;x-absent;x-project-id;x-sdk-date"),
        MissingSignedHeader,
    ),
    "signed headers: reordered": (
        lambda r: _signed_headers(r, "host;content-type;region;user-agent;x-project-id;x-sdk-date"),
        SignatureMismatch,
    ),
    "signature: one digit": (
        lambda r: _with_authorization(r, lambda v: v[:-1] + ("0" if v[-1] != "0" else "1")),
        SignatureMismatch,
    ),
    "authorization: removed": (lambda r: r.without_header("authorization"), MalformedSignature),
    "authorization: other algorithm": (
        lambda r: _with_authorization(r, lambda v: v.replace("SDK-HMAC-SHA256", "SDK-HMAC-SM3")),
        UnsupportedAlgorithm,
    ),
}


@pytest.mark.parametrize("tampering", list(TAMPERINGS), ids=list(TAMPERINGS))
def test_tampered_requests_are_refused(signed_post: Received, tampering: str) -> None:
    transform, expected = TAMPERINGS[tampering]
    tampered = transform(signed_post)
    assert tampered != signed_post
    with pytest.raises(expected):
        tampered.verify(secret_key=SK, now=NOW)


def test_wrong_secret_key_is_refused(signed_post: Received) -> None:
    with pytest.raises(SignatureMismatch):
        signed_post.verify(secret_key=OTHER_SK, now=NOW)


def test_unsigned_extra_headers_are_ignored(signed_post: Received) -> None:
    signed_post.with_header("accept-language", "fr").with_header("x-forwarded-for", "10.0.0.1").verify(
        secret_key=SK, now=NOW
    )


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        (timedelta(0), True),
        (timedelta(minutes=15), True),
        (timedelta(minutes=-15), True),
        (timedelta(minutes=15, seconds=1), False),
        (timedelta(minutes=-15, seconds=-1), False),
        (timedelta(days=-400), False),
    ],
)
def test_clock_skew_window(signed_post: Received, offset: timedelta, accepted: bool) -> None:
    """The server's clock may be up to 15 minutes either side of X-Sdk-Date."""
    now = SIGNED_AT + offset
    if accepted:
        signed_post.verify(secret_key=SK, now=now)
    else:
        with pytest.raises(ClockSkew):
            signed_post.verify(secret_key=SK, now=now)


def test_max_skew_is_configurable(signed_post: Received) -> None:
    with pytest.raises(ClockSkew):
        signed_post.verify(secret_key=SK, now=SIGNED_AT + timedelta(minutes=2), max_skew=timedelta(minutes=1))


def test_naive_now_is_a_programming_error(signed_post: Received) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        signed_post.verify(secret_key=SK, now=SIGNED_AT.replace(tzinfo=None))


def test_protected_headers_are_configurable(recorder: RecordingServer) -> None:
    """A header the caller relies on must be signed when it is sent; the default set covers the
    project and domain headers, and the caller may add its own (e.g. HSS's region)."""
    received = send_signed(recorder)
    with_region = received.with_header("region", "local-1")
    with_region.verify(secret_key=SK, now=NOW)
    with pytest.raises(MissingSignedHeader, match="region"):
        with_region.verify(secret_key=SK, now=NOW, protected_headers=sdk_signature.PROTECTED_HEADERS | {"Region"})


def test_declared_payload_hash_must_match_body(recorder: RecordingServer) -> None:
    body = b'{"a": 1}'
    request = build(
        recorder.host,
        method="POST",
        body=body,
        headers={"X-Sdk-Content-Sha256": hashlib.sha256(body).hexdigest().upper()},
    )
    received = recorder.send(sign(request))
    received.verify(secret_key=SK, now=NOW)
    with pytest.raises(SignatureMismatch, match="X-Sdk-Content-Sha256"):
        replace(received, body=b'{"a": 2}').verify(secret_key=SK, now=NOW)


def test_empty_stream_body_signed_as_unsigned_payload(recorder: RecordingServer) -> None:
    """A stream body is truthy for the signer even when it turns out empty: it then signs
    UNSIGNED-PAYLOAD while the server sees no body; both readings are accepted."""
    request = build(recorder.host, method="PUT", content_type="application/octet-stream", body=b"x")
    sign(request)
    received = recorder.send(request)
    replace(received, body=b"").verify(secret_key=SK, now=NOW)


def test_signature_in_upper_case_hex_is_accepted(signed_post: Received) -> None:
    auth = parse_authorization(signed_post.header("authorization"))
    upper = _with_authorization(signed_post, lambda v: v.replace(auth.signature, auth.signature.upper()))
    upper.verify(secret_key=SK, now=NOW)


def test_derived_credential_date_must_match_x_sdk_date(recorder: RecordingServer) -> None:
    received = send_signed(recorder, derived=("swr", "local-1"))
    day = SIGNED_AT.strftime("%Y%m%d")
    other_day = (SIGNED_AT - timedelta(days=1)).strftime("%Y%m%d")
    moved = _with_authorization(received, lambda v: v.replace(f"/{day}/", f"/{other_day}/"))
    with pytest.raises(MalformedSignature, match="date"):
        moved.verify(secret_key=SK, now=NOW)
    other_region = _with_authorization(received, lambda v: v.replace("/local-1/", "/local-2/"))
    with pytest.raises(SignatureMismatch):
        other_region.verify(secret_key=SK, now=NOW)


def test_starlette_headers_and_plain_dicts_agree(signed_post: Received) -> None:
    """The lead may pass Starlette's Headers or a plain dict with any case."""
    as_dict = {k.decode("latin-1").upper(): v.decode("latin-1") for k, v in signed_post.raw_headers}
    sdk_signature.verify(
        method="POST",
        raw_path=signed_post.raw_path,
        query_string=signed_post.query_string,
        headers=as_dict,
        body=signed_post.body,
        secret_key=SK,
        now=NOW,
    )


def test_text_header_values_beyond_latin1_are_utf8_encoded(recorder: RecordingServer) -> None:
    """A mapping holding real text (not latin-1 decoded bytes) is UTF-8 encoded."""
    received = send_signed(recorder, headers={"X-Description": "镜像"})
    as_text = {k.decode(): v.decode("utf-8") for k, v in received.raw_headers}
    sdk_signature.verify(
        method="GET",
        raw_path=received.raw_path,
        query_string=received.query_string,
        headers=as_text,
        body=b"",
        secret_key=SK,
        now=NOW,
    )


# parse_authorization ------------------------------------------------------------------------------

SIGNATURE = "a" * 64


@pytest.mark.parametrize(
    "value",
    [
        f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host;x-sdk-date, Signature={SIGNATURE}",
        f"SDK-HMAC-SHA256 Access={AK},SignedHeaders=host;x-sdk-date,Signature={SIGNATURE}",
        f"  SDK-HMAC-SHA256   Signature={SIGNATURE} ,  SignedHeaders=host;x-sdk-date, Access={AK}  ",
    ],
)
def test_parse_authorization_accepts_the_sdk_format(value: str) -> None:
    parsed = parse_authorization(value)
    assert parsed == sdk_signature.SdkAuthorization("SDK-HMAC-SHA256", AK, ("host", "x-sdk-date"), SIGNATURE)


def test_parse_authorization_v11() -> None:
    parsed = parse_authorization(
        f"V11-HMAC-SHA256 Credential={AK}/20250301/local-1/swr, SignedHeaders=host;x-sdk-date, Signature={SIGNATURE}"
    )
    assert parsed.access_key == AK
    assert parsed.scope == sdk_signature.CredentialScope("20250301", "local-1", "swr")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", MalformedSignature),
        ("Basic dXNlcjpwYXNz", MalformedSignature),
        ("SDK-HMAC-SHA256", MalformedSignature),
        (f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host", MalformedSignature),
        (f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host, Signature={SIGNATURE}, Extra=1", MalformedSignature),
        (f"SDK-HMAC-SHA256 Access={AK}, Access={AK}, SignedHeaders=host, Signature={SIGNATURE}", MalformedSignature),
        (f"SDK-HMAC-SHA256 Access=, SignedHeaders=host, Signature={SIGNATURE}", MalformedSignature),
        (f"SDK-HMAC-SHA256 Access=A K, SignedHeaders=host, Signature={SIGNATURE}", MalformedSignature),
        (f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=Host;x-sdk-date, Signature={SIGNATURE}", MalformedSignature),
        (f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host;;x-sdk-date, Signature={SIGNATURE}", MalformedSignature),
        (f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host;host, Signature={SIGNATURE}", MalformedSignature),
        (f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host, Signature={SIGNATURE[:-1]}", MalformedSignature),
        (f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host, Signature={'g' * 64}", MalformedSignature),
        (f"sdk-hmac-sha256 Access={AK}, SignedHeaders=host, Signature={SIGNATURE}", MalformedSignature),
        (
            f"V11-HMAC-SHA256 Credential={AK}/2025/local-1/swr, SignedHeaders=host, Signature={SIGNATURE}",
            MalformedSignature,
        ),
        (f"V11-HMAC-SHA256 Access={AK}, SignedHeaders=host, Signature={SIGNATURE}", MalformedSignature),
        (f"SDK-HMAC-SM3 Access={AK}, SignedHeaders=host, Signature={SIGNATURE}", UnsupportedAlgorithm),
        (f"SDK-ECDSA-P256-SHA256 Access={AK}, SignedHeaders=host, Signature={SIGNATURE}", UnsupportedAlgorithm),
        ("SDK-HMAC-SHA256 " + "Access=A, " * 2000, MalformedSignature),
    ],
)
def test_parse_authorization_refuses(value: str, expected: type[SignatureError]) -> None:
    with pytest.raises(expected):
        parse_authorization(value)


def test_is_sdk_authorization() -> None:
    assert sdk_signature.is_sdk_authorization(f"SDK-HMAC-SHA256 Access={AK}")
    assert sdk_signature.is_sdk_authorization("SDK-SM2-SM3 Access=x")
    assert not sdk_signature.is_sdk_authorization("Basic dXNlcjpwYXNz")
    assert not sdk_signature.is_sdk_authorization("")


# canonical URI -----------------------------------------------------------------------------------


def _sdk_canonical_uri(path: str) -> str:
    return Signer(BasicCredentials("a", "b"))._process_canonical_uri(SdkRequest(resource_path=path))


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/v2/manage/namespaces",
        "/v2/a%2Fb/c",
        "/a%24b",
        "/~x/%7Ey",
        "/a//b",
        "/%E9%95%9C",
        "/sp%20ace/",
        "/a+b",
        "/%25",
        "/%zz",
    ],
)
def test_canonical_uri_matches_the_sdk(path: str) -> None:
    assert canonical_uri(path.encode()) == _sdk_canonical_uri(path)


def test_canonical_uri_of_empty_path() -> None:
    assert canonical_uri(b"") == "/"


def test_verify_reports_signature_error_base(signed_post: Received) -> None:
    """Every refusal is a SignatureError, so the caller needs one except clause."""
    with pytest.raises(SignatureError):
        replace(signed_post, body=b"x").verify(secret_key=SK, now=NOW)
