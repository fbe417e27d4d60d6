"""Unit and property tests of the benchmark's own parsing and bookkeeping (no servers started)."""

from __future__ import annotations

import json
import math

import pytest
from bench.figures import FIGURES, oriented_ratio
from bench.http_client import HttpReply
from bench.null_server import NullRegistryState, answer
from bench.oci_client import next_page
from bench.registry_auth import Challenge, cache_key
from bench.workloads import percentile
from hypothesis import given
from hypothesis import strategies as st

TAG = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,20}", fullmatch=True)


def test_cache_key_names_the_repository_even_when_it_looks_like_a_route() -> None:
    assert cache_key("/v2/bench/manifests/blobs/sha256:00") == "repository:bench/manifests"
    assert cache_key("/v2/bench/manifests/manifests/latest") == "repository:bench/manifests"
    assert cache_key("/v2/a/b/c/blobs/uploads/") == "repository:a/b/c"
    assert cache_key("/v2/a/b/blobs/uploads/123?_state=x") == "repository:a/b"
    assert cache_key("/v2/a/tags/tags/list?n=1") == "repository:a/tags"
    assert cache_key("/v2/a/b/referrers/sha256:1") == "repository:a/b"
    assert cache_key("/v2/_catalog?n=5") == "catalog"
    assert cache_key("/v2/") == "registry"


def test_challenge_parse_reads_scheme_and_parameters() -> None:
    challenge = Challenge.parse('Bearer realm="http://h:1/token",service="moorage",scope="repository:a/b:pull"')
    assert challenge.scheme == "bearer"
    assert challenge.parameters == {
        "realm": "http://h:1/token",
        "service": "moorage",
        "scope": "repository:a/b:pull",
    }
    assert Challenge.parse('Basic realm="x"').scheme == "basic"


@given(tags=st.sets(TAG, max_size=60), page_size=st.integers(min_value=1, max_value=25))
def test_null_server_pages_walk_every_tag_once_in_order(tags: set[str], page_size: int) -> None:
    state = NullRegistryState()
    for tag in tags:
        answer(state, "PUT", f"/v2/a/b/manifests/{tag}", 2, b'{"schemaVersion": 2}')
    walked: list[str] = []
    target: str | None = f"/v2/a/b/tags/list?n={page_size}"
    pages = 0
    while target is not None:
        response = answer(state, "GET", target, 0, b"")
        assert response.status == 200
        headers = {name.lower(): value for name, value in response.headers}
        walked += json.loads(response.body)["tags"]
        target = next_page(HttpReply(200, headers, response.body))
        pages += 1
    assert walked == sorted(tags)
    assert pages == max(1, math.ceil(len(tags) / page_size))


@given(
    values=st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=200),
    fraction=st.sampled_from([0.5, 0.9, 0.99]),
)
def test_percentile_is_the_nearest_rank(values: list[float], fraction: float) -> None:
    ordered = sorted(values)
    result = percentile(values, fraction)
    assert result in values
    at_or_below = sum(1 for value in ordered if value <= result)
    assert at_or_below >= fraction * len(values)
    assert sum(1 for value in ordered if value < result) < fraction * len(values)


def test_ratios_are_oriented_so_that_above_one_means_moorage_is_better() -> None:
    rate = next(figure for figure in FIGURES if figure.unit == "req/s")
    latency = next(figure for figure in FIGURES if figure.unit == "ms")
    assert oriented_ratio(rate, 200.0, 100.0) == 2.0
    assert oriented_ratio(latency, 5.0, 10.0) == 2.0
    assert oriented_ratio(rate, None, 100.0) is None
    assert oriented_ratio(rate, 0.0, 100.0) is None


def _call_null_asgi(method: str, path: str, query: str = "", body: bytes = b"") -> tuple[int, dict[bytes, bytes]]:
    """One request to ``bench/null_asgi.py``'s application, its body in 3-byte pieces."""
    import asyncio

    from bench import null_asgi

    pieces = [body[i : i + 3] for i in range(0, len(body), 3)] or [b""]
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        piece = pieces.pop(0)
        return {"type": "http.request", "body": piece, "more_body": bool(pieces)}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "query_string": query.encode(), "headers": []}
    asyncio.run(null_asgi.app(scope, receive, send))  # type: ignore[arg-type]
    assert not (body and pieces), "the body was not read to its end"
    start = sent[0]
    return int(start["status"]), dict(start["headers"])  # type: ignore[call-overload]


def test_null_asgi_answers_the_push_protocol_and_reads_every_body() -> None:
    assert _call_null_asgi("HEAD", "/v2/bench/pushes/blobs/sha256:00")[0] == 404
    status, headers = _call_null_asgi("POST", "/v2/bench/pushes/blobs/uploads/")
    assert status == 202
    session = headers[b"location"].decode()
    uploads = "/v2/bench/pushes/blobs/uploads/"
    assert session.startswith(uploads) and len(session) > len(uploads)
    assert _call_null_asgi("PATCH", session, body=b"0123456789")[0] == 202
    assert _call_null_asgi("PUT", session, "digest=sha256:00", body=b"abc")[0] == 201
    assert _call_null_asgi("POST", uploads, "digest=sha256:00", body=b"x" * 100)[0] == 201


def test_null_asgi_hashes_in_batches_and_the_tail(monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    from bench import null_asgi

    seen: list[bytes] = []
    monkeypatch.setattr(null_asgi, "HASHING", True)
    monkeypatch.setattr(null_asgi, "BATCH", 7)
    real_hash = null_asgi._hash

    def hash_and_keep(hasher: object, pieces: list[bytes]) -> None:
        seen.extend(pieces)
        real_hash(hasher, pieces)

    monkeypatch.setattr(null_asgi, "_hash", hash_and_keep)
    body = bytes(range(50))
    assert _call_null_asgi("POST", "/v2/bench/pushes/blobs/uploads/", "digest=sha256:00", body=body)[0] == 201
    assert b"".join(seen) == body
    assert hashlib.sha256(b"".join(seen)).hexdigest() == hashlib.sha256(body).hexdigest()
