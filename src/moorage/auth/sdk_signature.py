"""Verify Huawei Cloud SDK request signatures (``SDK-HMAC-SHA256`` and the derived-key
``V11-HMAC-SHA256``) exactly as ``huaweicloudsdkcore``'s signer produces them.

The caller parses the ``Authorization`` header first (:func:`parse_authorization`) to learn the
access key, looks up its secret key, then calls :func:`verify` with the request as received. A
server that must not read a body before the headers check out calls :func:`check_headers` first
(freshness, required and signed headers: no secret, no body), then :meth:`SignedRequest.verify`
with the body's SHA-256 (or the declared one, comparing the body with it as it arrives).
Pure code: no I/O, no clock of its own (``now`` is passed in).

Errors::

    SignatureError                  any reason to refuse the request (answer 401)
    ├── MalformedSignature          Authorization or X-Sdk-Date unparsable, duplicated signed header
    │   └── UnsupportedAlgorithm    a Huawei algorithm moorage does not check (SM3, ECDSA, SM2)
    ├── MissingSignedHeader         X-Sdk-Date / Host absent, a listed signed header absent, or a
    │                               protected header (X-Project-Id...) sent but not signed
    ├── ClockSkew                   X-Sdk-Date older than ``max_age`` or further ahead than ``max_ahead``
    └── SignatureMismatch           the signature (or X-Sdk-Content-Sha256) does not match
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote, unquote

ALGORITHM_SDK_HMAC_SHA256 = "SDK-HMAC-SHA256"
ALGORITHM_V11_HMAC_SHA256 = "V11-HMAC-SHA256"
SUPPORTED_ALGORITHMS = frozenset({ALGORITHM_SDK_HMAC_SHA256, ALGORITHM_V11_HMAC_SHA256})
# Other algorithms huaweicloudsdkcore can sign with; refused with UnsupportedAlgorithm.
KNOWN_UNSUPPORTED_ALGORITHMS = frozenset({"SDK-HMAC-SM3", "SDK-ECDSA-P256-SHA256", "SDK-SM2-SM3"})

DATE_HEADER = "x-sdk-date"
CONTENT_SHA256_HEADER = "x-sdk-content-sha256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
SDK_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
DEFAULT_MAX_SKEW = timedelta(minutes=15)
# Headers that change what a request means: if the client sends one, it must have signed it.
# ``host`` and ``x-sdk-date`` must moreover always be present (the SDK always signs both).
PROTECTED_HEADERS = frozenset(
    {"host", DATE_HEADER, CONTENT_SHA256_HEADER, "content-type", "x-project-id", "x-domain-id", "x-security-token"}
)
REQUIRED_HEADERS = ("host", DATE_HEADER)
MAX_AUTHORIZATION_LENGTH = 8192

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_SDK_DATE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_ACCESS_KEY = re.compile(r"[A-Za-z0-9._~-]{1,128}")
_HEADER_NAME = re.compile(r"[a-z0-9!#$%&'*+.^`|~-]+")  # RFC 9110 token, lower case (the signer lower-cases)
_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")
_SCOPE_PART = re.compile(r"[A-Za-z0-9._-]{1,64}")
_SDK_PARAMETERS = ("Access", "SignedHeaders", "Signature")
_V11_PARAMETERS = ("Credential", "SignedHeaders", "Signature")


class SignatureError(Exception):
    """The request's SDK signature cannot be accepted; the message says why (safe to log, no secret)."""


class MalformedSignature(SignatureError):
    """The Authorization or X-Sdk-Date header does not follow the SDK's format."""


class UnsupportedAlgorithm(MalformedSignature):
    """A signing algorithm the SDK knows but moorage does not verify."""


class MissingSignedHeader(SignatureError):
    """A header the signature needs is absent, or a protected header was sent unsigned."""


class ClockSkew(SignatureError):
    """X-Sdk-Date is further from the server's clock than the allowed skew."""


class SignatureMismatch(SignatureError):
    """The request does not hash to the signature the client sent."""


@dataclass(frozen=True, slots=True)
class CredentialScope:
    """The ``date/region/service`` part of a ``V11-HMAC-SHA256`` credential (the HKDF info)."""

    date: str
    """``YYYYMMDD``; must be the date part of X-Sdk-Date."""
    region: str
    """Region id the client derived its key for (e.g. ``local-1``)."""
    service: str
    """Service name the client derived its key for (e.g. ``swr``)."""

    def __str__(self) -> str:
        return f"{self.date}/{self.region}/{self.service}"


@dataclass(frozen=True, slots=True)
class SdkAuthorization:
    """A parsed ``Authorization: SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...``."""

    algorithm: str
    """``SDK-HMAC-SHA256`` or ``V11-HMAC-SHA256``."""
    access_key: str
    """The AK, to look the secret key up with."""
    signed_headers: tuple[str, ...]
    """Lower-case header names, in the order the client listed them."""
    signature: str
    """64 lower-case hex digits."""
    scope: CredentialScope | None = None
    """Only for ``V11-HMAC-SHA256``."""


@dataclass(frozen=True, slots=True)
class VerifiedSignature:
    """What a successful :func:`verify` established."""

    access_key: str
    """The AK whose SK produced the signature."""
    signed_headers: frozenset[str]
    """Headers covered by the signature: only these may be trusted (lower-case names)."""
    payload_signed: bool
    """False when the client sent ``X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD`` with a body: the body
    is then not authenticated (the SDK does this for every non-JSON content type)."""
    scope: CredentialScope | None = None
    """The V11 credential scope, for the caller to check region and service against its own."""
    signed_at: datetime | None = None
    """X-Sdk-Date (how long the signature stays acceptable, for the caller's replay record)."""


def is_sdk_authorization(value: str) -> bool:
    """Whether an Authorization value uses one of the Huawei SDK signing schemes (supported or not),
    so the caller can route it here rather than to Basic / Bearer parsing."""
    scheme = value.strip().split(" ", 1)[0]
    return scheme in SUPPORTED_ALGORITHMS or scheme in KNOWN_UNSUPPORTED_ALGORITHMS


def parse_authorization(value: str) -> SdkAuthorization:
    """Parse an SDK Authorization header value; raise :class:`MalformedSignature` (or
    :class:`UnsupportedAlgorithm`) for anything the SDK would not have produced."""
    if len(value) > MAX_AUTHORIZATION_LENGTH:
        raise MalformedSignature("Authorization header too long")
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm in KNOWN_UNSUPPORTED_ALGORITHMS:
        raise UnsupportedAlgorithm(f"signing algorithm {algorithm} is not supported; use {ALGORITHM_SDK_HMAC_SHA256}")
    if algorithm not in SUPPORTED_ALGORITHMS:
        raise MalformedSignature(f"expected {ALGORITHM_SDK_HMAC_SHA256} authorization")
    expected = _SDK_PARAMETERS if algorithm == ALGORITHM_SDK_HMAC_SHA256 else _V11_PARAMETERS
    parameters = _parse_parameters(rest, expected)

    signed_headers = tuple(parameters["SignedHeaders"].split(";"))
    if not all(_HEADER_NAME.fullmatch(name) for name in signed_headers):
        raise MalformedSignature("SignedHeaders must be lower-case header names separated by ';'")
    if len(set(signed_headers)) != len(signed_headers):
        raise MalformedSignature("SignedHeaders lists a header twice")
    signature = parameters["Signature"]
    if not _SIGNATURE.fullmatch(signature):
        raise MalformedSignature("Signature must be 64 hex digits")

    scope: CredentialScope | None = None
    if algorithm == ALGORITHM_SDK_HMAC_SHA256:
        access_key = parameters["Access"]
    else:
        access_key, scope = _parse_credential(parameters["Credential"])
    if not _ACCESS_KEY.fullmatch(access_key):
        raise MalformedSignature("malformed access key")
    return SdkAuthorization(algorithm, access_key, signed_headers, signature.lower(), scope)


def _parse_parameters(text: str, expected: tuple[str, ...]) -> dict[str, str]:
    """``Name=value, Name=value`` with exactly the ``expected`` names, each once, in any order."""
    parameters: dict[str, str] = {}
    for item in text.split(","):
        name, equals, parameter_value = item.strip(" \t").partition("=")
        if not equals or name not in expected:
            raise MalformedSignature(f"expected parameters {', '.join(expected)}")
        if name in parameters:
            raise MalformedSignature(f"parameter {name} given twice")
        parameters[name] = parameter_value
    missing = [name for name in expected if name not in parameters]
    if missing:
        raise MalformedSignature(f"missing parameter {missing[0]}")
    return parameters


def _parse_credential(credential: str) -> tuple[str, CredentialScope]:
    """``AK/YYYYMMDD/region/service`` (the V11 credential)."""
    parts = credential.split("/")
    if len(parts) != 4 or not re.fullmatch(r"[0-9]{8}", parts[1]):
        raise MalformedSignature("Credential must be AK/YYYYMMDD/region/service")
    if not all(_SCOPE_PART.fullmatch(part) for part in parts[2:]):
        raise MalformedSignature("malformed region or service in Credential")
    return parts[0], CredentialScope(parts[1], parts[2], parts[3])


def verify(
    *,
    method: str,
    raw_path: bytes,
    query_string: bytes,
    headers: Mapping[str, str],
    body: bytes,
    secret_key: str,
    now: datetime,
    max_skew: timedelta = DEFAULT_MAX_SKEW,
    max_ahead: timedelta | None = None,
    protected_headers: Iterable[str] = PROTECTED_HEADERS,
) -> VerifiedSignature:
    """Check the request's SDK signature with ``secret_key``; return what it covers or raise a
    :class:`SignatureError`. :func:`check_headers` then :meth:`SignedRequest.verify`, for a body
    already in memory.

    ``raw_path`` and ``query_string`` are the undecoded bytes (ASGI ``raw_path`` and
    ``query_string``). ``headers`` is looked up case-insensitively; values are taken as ASGI
    servers hand them over (each character one wire byte, i.e. latin-1 decoded; a value with
    characters beyond U+00FF is taken as text and UTF-8 encoded). ``now`` must be timezone-aware.
    """
    signed = check_headers(
        method=method,
        raw_path=raw_path,
        query_string=query_string,
        headers=headers,
        now=now,
        max_age=max_skew,
        max_ahead=max_skew if max_ahead is None else max_ahead,
        protected_headers=protected_headers,
    )
    return signed.verify(secret_key, body_sha256=hashlib.sha256(body).hexdigest() if body else None)


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A request whose signature headers are well formed, fresh and complete: what is left to check
    needs the secret key and, unless the client declared the body's hash, the body."""

    authorization: SdkAuthorization
    """The parsed Authorization header."""
    signed_at: datetime
    """X-Sdk-Date."""
    signed_at_text: str
    """X-Sdk-Date as sent (part of the string to sign)."""
    canonical_prefix: bytes
    """``METHOD\nURI\n`` of the canonical request."""
    canonical_queries: tuple[bytes, ...]
    """The canonical query strings the client may have signed."""
    canonical_suffix: bytes
    """``\nHEADERS\n\nSIGNED_HEADERS\n`` of the canonical request."""
    declared_payload_hash: str | None
    """X-Sdk-Content-Sha256 as sent: None, ``UNSIGNED-PAYLOAD`` or a hex SHA-256."""

    @property
    def access_key(self) -> str:
        """The AK to look the secret key up with."""
        return self.authorization.access_key

    @property
    def needs_body_hash(self) -> bool:
        """Whether the body's SHA-256 must be computed before :meth:`verify`. When the client
        declared it (X-Sdk-Content-Sha256), :meth:`verify` takes the declared value and the caller
        compares the body with it as the body arrives; with ``UNSIGNED-PAYLOAD`` the body is not
        signed at all."""
        return self.declared_payload_hash is None

    def verify(self, secret_key: str, *, body_sha256: str | None) -> VerifiedSignature:
        """Check the signature with ``secret_key``, for a body whose hex SHA-256 is ``body_sha256``
        (None: the body is empty). Raise :class:`SignatureError` if it does not match."""
        payload_hashes, payload_signed = _payload_hash_candidates(self.declared_payload_hash, body_sha256)
        signing_key = _signing_key(self.authorization, secret_key)
        matched = False
        for query in self.canonical_queries:
            for payload_hash in payload_hashes:
                canonical_request = self.canonical_prefix + query + self.canonical_suffix + payload_hash.encode("ascii")
                expected = _signature(self.authorization, signing_key, self.signed_at_text, canonical_request)
                matched |= hmac.compare_digest(expected.encode("ascii"), self.authorization.signature.encode("ascii"))
        if not matched:
            raise SignatureMismatch("signature does not match the request")
        return VerifiedSignature(
            self.authorization.access_key,
            frozenset(self.authorization.signed_headers),
            payload_signed,
            self.authorization.scope,
            self.signed_at,
        )


def check_headers(
    *,
    method: str,
    raw_path: bytes,
    query_string: bytes,
    headers: Mapping[str, str],
    now: datetime,
    max_age: timedelta = DEFAULT_MAX_SKEW,
    max_ahead: timedelta = DEFAULT_MAX_SKEW,
    protected_headers: Iterable[str] = PROTECTED_HEADERS,
) -> SignedRequest:
    """Everything about the signature that the headers alone decide, before the secret key is looked
    up and before a byte of the body is read: the Authorization header's form, the presence of the
    required and signed headers, and X-Sdk-Date no older than ``max_age`` and no further ahead than
    ``max_ahead``. Raise :class:`SignatureError` otherwise. Arguments as for :func:`verify`."""
    if now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime")
    received = _received_headers(headers)
    authorization_values = received.get("authorization")
    if not authorization_values:
        raise MalformedSignature("no Authorization header")
    if len(authorization_values) > 1:
        raise MalformedSignature("more than one Authorization header")
    authorization = parse_authorization(authorization_values[0].decode("latin-1"))

    for name in REQUIRED_HEADERS:
        if name not in received:
            raise MissingSignedHeader(f"header {name} is required")
    signed_at_text = _canonical_header_value(_single(received, DATE_HEADER)).decode("latin-1")
    signed_at = _parse_sdk_date(signed_at_text)
    if now - signed_at > max_age:
        raise ClockSkew(f"X-Sdk-Date {signed_at_text} is more than {max_age} before the server's clock")
    if signed_at - now > max_ahead:
        raise ClockSkew(f"X-Sdk-Date {signed_at_text} is more than {max_ahead} ahead of the server's clock")
    if authorization.scope is not None and authorization.scope.date != signed_at_text[:8]:
        raise MalformedSignature("Credential date differs from X-Sdk-Date")

    signed = frozenset(authorization.signed_headers)
    for name in sorted({protected.lower() for protected in protected_headers} & received.keys()):
        if name not in signed:
            raise MissingSignedHeader(f"header {name} is sent but not signed")
    header_lines = []
    for name in authorization.signed_headers:
        if name not in received:
            raise MissingSignedHeader(f"signed header {name} is absent")
        header_lines.append(name.encode("ascii") + b":" + _canonical_header_value(_single(received, name)) + b"\n")

    declared: str | None = None
    if CONTENT_SHA256_HEADER in received:
        declared = _canonical_header_value(_single(received, CONTENT_SHA256_HEADER)).decode("latin-1")
    prefix = method.upper().encode("ascii", "replace") + b"\n" + canonical_uri(raw_path).encode("ascii") + b"\n"
    suffix = b"\n" + b"".join(header_lines) + b"\n" + ";".join(authorization.signed_headers).encode("ascii") + b"\n"
    return SignedRequest(
        authorization, signed_at, signed_at_text, prefix, canonical_query_candidates(query_string), suffix, declared
    )


def _received_headers(headers: Mapping[str, str]) -> dict[str, list[bytes]]:
    """Lower-case name -> every value as wire bytes (a Starlette ``Headers`` yields duplicates)."""
    received: dict[str, list[bytes]] = {}
    for name, value in headers.items():
        try:
            raw = value.encode("latin-1")
        except UnicodeEncodeError:
            raw = value.encode("utf-8", "surrogateescape")
        received.setdefault(name.lower(), []).append(raw)
    return received


def _single(received: dict[str, list[bytes]], name: str) -> bytes:
    """The one value of ``name``; a signed header sent twice is ambiguous and refused."""
    values = received[name]
    if len(values) != 1:
        raise MalformedSignature(f"header {name} is sent more than once")
    return values[0]


def _canonical_header_value(raw: bytes) -> bytes:
    """The signer strips the text value (Unicode whitespace included) before UTF-8 encoding it."""
    return raw.decode("utf-8", "surrogateescape").strip().encode("utf-8", "surrogateescape")


def _parse_sdk_date(text: str) -> datetime:
    """``YYYYMMDDTHHMMSSZ`` in UTC, strictly (so the string to sign is the header as sent)."""
    if not _SDK_DATE.fullmatch(text):
        raise MalformedSignature("X-Sdk-Date must look like 20240131T235959Z")
    try:
        return datetime.strptime(text, SDK_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError as error:
        raise MalformedSignature("X-Sdk-Date is not a valid date") from error


def canonical_uri(raw_path: bytes) -> str:
    """The SDK's CanonicalURI: percent-decode, split on ``/``, re-encode each segment with only
    unreserved characters left as they are, join, end with ``/``."""
    decoded = unquote(raw_path.decode("utf-8", "replace"))
    uri = "/".join(quote(segment, safe="~") for segment in decoded.split("/"))
    return uri if uri.endswith("/") else uri + "/"


def canonical_query_candidates(query_string: bytes) -> tuple[bytes, ...]:
    """The canonical query strings the client may have signed: the raw query as received (the SDK
    sends its canonical string verbatim, whatever order its lists were sorted in), and the query
    decoded as Starlette does (``+`` is a space), sorted by (key, value) and re-encoded."""
    decoded = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    sorted_form = "&".join(f"{quote(key, safe='~')}={quote(value, safe='~')}" for key, value in sorted(decoded))
    candidates = [query_string]
    sorted_bytes = sorted_form.encode("ascii")
    if sorted_bytes != query_string:
        candidates.append(sorted_bytes)
    return tuple(candidates)


def _payload_hash_candidates(declared: str | None, body_sha256: str | None) -> tuple[tuple[str, ...], bool]:
    """Payload hashes the client may have signed, and whether the body is covered by them."""
    if body_sha256 is None:
        # The signer ignores X-Sdk-Content-Sha256 when it thinks the body is empty; a stream body
        # that turned out empty was signed with the header value instead.
        return ((EMPTY_SHA256, UNSIGNED_PAYLOAD) if declared == UNSIGNED_PAYLOAD else (EMPTY_SHA256,)), True
    if declared is None:
        return (body_sha256,), True
    if declared == UNSIGNED_PAYLOAD:
        return (UNSIGNED_PAYLOAD,), False
    if not hmac.compare_digest(declared.lower().encode("latin-1"), body_sha256.encode("ascii")):
        raise SignatureMismatch("X-Sdk-Content-Sha256 does not match the body")
    return (declared,), True


def _signing_key(authorization: SdkAuthorization, secret_key: str) -> bytes:
    """The HMAC key: the SK itself, or for V11 the hex of HKDF-SHA256(salt=AK, key=SK, info=scope)."""
    if authorization.scope is None:
        return secret_key.encode("utf-8")
    extracted = hmac.new(authorization.access_key.encode("utf-8"), secret_key.encode("utf-8"), hashlib.sha256)
    info = str(authorization.scope).encode("utf-8")
    derived = hmac.new(extracted.digest(), info + b"\x01", hashlib.sha256).hexdigest()
    return derived.encode("ascii")


def _signature(authorization: SdkAuthorization, key: bytes, signed_at: str, canonical_request: bytes) -> str:
    """Hex HMAC-SHA256 of the string to sign."""
    lines = [authorization.algorithm, signed_at]
    if authorization.scope is not None:
        lines.append(str(authorization.scope))
    lines.append(hashlib.sha256(canonical_request).hexdigest())
    return hmac.new(key, "\n".join(lines).encode("utf-8"), hashlib.sha256).hexdigest()
