"""Hostile HTTP at the edge, against running servers (granian, the default, and uvicorn, used for
several listen addresses): oversized bodies without (valid) credentials, with the server's memory
sampled; chunked bodies; bodies left unread and the next request on the same connection; JSON
nested past the bound in every dialect; oversized request heads."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.auth.sdk_requests import build, sign
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, MoorageFactory, _factory
from tests.support.accounts import Account, create_access_key, iam_token, project_id
from tests.support.servers import ServerProcess
from tests.support.swr_images import Blob, registry_client, sha256

ADMIN = Account(ADMIN_USER, ADMIN_PASSWORD, ADMIN_USER)
MiB = 1024 * 1024
HUGE = 400 * MiB
"""The body of the issue's measurement: 400 MB took the server from 0.2 to 1.8 GB."""
GROWTH_LIMIT_MB = 64
"""What the server may grow by while refusing a huge body (it grew by more than 1,000 MB)."""
SERVERS = ["granian", "uvicorn"]


@dataclass(frozen=True)
class Edge:
    """A running server and the administrator's credentials on it."""

    server: ServerProcess
    kind: str
    token: str
    access: str
    secret: str
    project: str


@pytest.fixture(scope="module")
def module_factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MoorageFactory]:
    factory, started = _factory(request, tmp_path_factory.mktemp("edge"))
    yield factory
    for server in started:
        server.stop()


@pytest.fixture(scope="module", params=SERVERS)
def edge(request: pytest.FixtureRequest, module_factory: MoorageFactory) -> Edge:
    server = module_factory(env={"MOORAGE_SERVER": request.param, "MOORAGE_JOBS__EMBEDDED_WORKER": "false"})
    access, secret = create_access_key(server, ADMIN)
    return Edge(server, request.param, iam_token(server, ADMIN), access, secret, project_id(server))


# --- raw HTTP/1.1 on one socket ---------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One HTTP response read off a socket."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, object]:
        found: dict[str, object] = json.loads(self.body)
        return found


class Connection:
    """A keep-alive connection on which requests are written by hand and answers read one by one."""

    def __init__(self, server: ServerProcess, timeout: float = 60.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
        self.host = server.address
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def send_head(self, method: str, path: str, headers: dict[str, str] | None = None) -> None:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buffer += chunk
        return bool(chunk)

    def read_answer(self) -> Answer:
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill():
                raise ConnectionError(f"connection closed before an answer: {self.buffer[:200]!r}")
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            if not self._fill():
                raise ConnectionError("connection closed inside an answer")
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return Answer(status, headers, body)

    def closed_by_server(self) -> bool:
        """Whether the server closed the connection (EOF or reset) after its last answer."""
        try:
            return not self.buffer and not self._fill()
        except (ConnectionResetError, BrokenPipeError):
            return True


def exchange(edge: Edge, method: str, path: str, body: bytes, headers: dict[str, str] | None = None) -> Answer:
    """Send the head, then (after a pause, as a slow client would) the body, then read the answer,
    then a second request on the same connection, which must be answered too."""
    conn = Connection(edge.server)
    try:
        conn.send_head(method, path, {"Content-Length": str(len(body)), **(headers or {})})
        time.sleep(0.2)
        conn.send(body)
        first = conn.read_answer()
        conn.send_head("GET", "/healthz")
        second = conn.read_answer()
        assert second.status == 200, (method, path, first, second)
        return first
    finally:
        conn.close()


# --- memory -----------------------------------------------------------------------------------------


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants (granian and uvicorn run workers)."""
    total_kb = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        pending.extend(int(child) for child in children)
        total_kb += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return total_kb / 1024


class RssSampler:
    """Samples a process tree's RSS every 20 ms while in use; ``peak`` and ``before`` in MB."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.before = tree_rss_mb(pid)
        self.peak = self.before
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_mb(self.pid))
            time.sleep(0.02)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.3)
        self._stop.set()
        self._thread.join()


def pour(conn: Connection, size: int, *, chunked: bool) -> int:
    """Send ``size`` bytes of body (chunked or not) until done or the server closes; bytes sent."""
    piece = b"a" * MiB
    sent = 0
    try:
        while sent < size:
            conn.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            sent += len(piece)
        if chunked:
            conn.send(b"0\r\n\r\n")
    except OSError:
        pass
    return sent


def huge_post(edge: Edge, path: str, headers: dict[str, str], *, chunked: bool) -> tuple[Answer, RssSampler, int]:
    """POST a 400 MB body of ``a`` to ``path`` while sampling the server's memory; the answer
    (read while the body is still being sent), the sampler and the bytes sent."""
    conn = Connection(edge.server)
    framing = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(HUGE)}
    answers: list[Answer] = []

    def read() -> None:
        answers.append(conn.read_answer())

    try:
        with RssSampler(edge.server.process.pid) as sampler:
            conn.send_head("POST", path, {"Content-Type": "application/json;charset=UTF-8", **framing, **headers})
            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            sent = pour(conn, HUGE, chunked=chunked)
            reader.join(60)
        assert answers, "no answer"
        return answers[0], sampler, sent
    finally:
        conn.close()


def forged_signature_headers(edge: Edge, path: str) -> dict[str, str]:
    """Headers of a signature made with the right AK and a wrong SK (so the AK is found and only
    the HMAC, which needs the body, could tell)."""
    request = sign(
        build(
            edge.server.address,
            method="POST",
            path=path,
            body=b"{}",
            headers={"X-Project-Id": edge.project},
            signed_at=None,
        ),
        ak=edge.access,
        sk="x" * 40,
    )
    return {k: v for k, v in request.header_params.items() if k.lower() not in ("host", "content-type")}


HUGE_CASES = ["anonymous", "anonymous-chunked", "forged-signature", "forged-signature-chunked"]


@pytest.mark.parametrize("case", HUGE_CASES)
def test_huge_body_without_valid_credentials_is_refused_in_bounded_memory(edge: Edge, case: str) -> None:
    path = "/v2/manage/namespaces"
    headers = forged_signature_headers(edge, path) if case.startswith("forged") else {}
    answer, sampler, sent = huge_post(edge, path, headers, chunked=case.endswith("chunked"))
    growth = sampler.peak - sampler.before
    print(
        f"{edge.kind} {case}: status {answer.status}, RSS {sampler.before:.0f} -> peak {sampler.peak:.0f} MB "
        f"(+{growth:.0f}), {sent // MiB} MiB sent"
    )
    assert answer.status in (401, 413), answer
    assert answer.json()["error_code"] in ("SVCSTG.SWR.4010000", "SVCSTG.SWR.4130025")
    assert growth < GROWTH_LIMIT_MB, f"the server grew by {growth:.0f} MB"
    if not case.endswith("chunked"):
        # Decided from Content-Length before a byte was read: refused and the connection closed.
        assert answer.status == 413 and answer.headers.get("connection") == "close"
    elif case == "anonymous-chunked":
        assert answer.status == 401  # authenticated from the headers: the body is never read
    else:
        assert answer.status == 413  # the AK exists: the body is hashed as it arrives, up to the cap


def test_chunked_body_over_the_cap_is_413_in_each_dialect(edge: Edge) -> None:
    body = b'{"namespace": "' + b"x" * (2 * MiB) + b'"}'
    cases = {
        "/v2/manage/namespaces": ("error_code", "SVCSTG.SWR.4130025"),
        f"/v5/{edge.project}/image/registries": ("error_code", "HSS.1013"),
        "/v3/auth/tokens": ("error", None),
    }
    for path, (key, code) in cases.items():

        def chunks() -> Iterator[bytes]:
            for start in range(0, len(body), 65536):
                yield body[start : start + 65536]

        response = httpx.post(
            edge.server.base_url + path,
            content=chunks(),
            timeout=60,
            headers={"X-Auth-Token": edge.token, "Content-Type": "application/json"},
        )
        assert response.status_code == 413, (path, response.text)
        assert key in response.json(), response.text
        if code is not None:
            assert response.json()[key] == code
        else:
            assert response.json()["error"]["code"] == 413


def test_oversized_manifest_is_413_in_the_oci_dialect(edge: Edge) -> None:
    with registry_client(edge.server.base_url, ADMIN_USER, ADMIN_PASSWORD) as client:
        response = client.put(
            "/v2/edge/big/manifests/v1",
            content=b"{" + b" " * (5 * MiB) + b"}",
            headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
        )
    assert response.status_code == 413
    assert response.json()["errors"][0]["code"] in ("SIZE_INVALID", "MANIFEST_INVALID")


# --- unread bodies and keep-alive ----------------------------------------------------------------------


def test_unread_bodies_do_not_break_the_connection(edge: Edge) -> None:
    """Answers that leave the body unread (401, 403, 404, a route without a body, the OCI base), each
    followed by a second request on the same connection. 512 KiB is more than the servers drop by
    themselves."""
    body = b"x" * (512 * 1024)
    token = {"X-Auth-Token": edge.token}
    cases = [
        ("GET", "/v3/projects", {}, 401),
        ("DELETE", "/v2/manage/namespaces/nobody-here", {}, 401),
        ("POST", "/v2/manage/namespaces", {"Content-Type": "application/json"}, 401),
        ("GET", "/v2/", {}, 401),
        ("GET", "/v2/manage/namespaces/nobody-here", token, 404),
        ("GET", f"/v5/{'0' * 32}/image/registries", token, 403),
        ("GET", "/v3/projects", token, 200),
        ("PATCH", "/v2/edge/unread/blobs/uploads/not-a-session", {}, 401),
    ]
    for method, path, headers, status in cases:
        answer = exchange(edge, method, path, body, headers)
        assert answer.status == status, (method, path, answer)


def test_after_a_413_the_connection_is_still_usable(edge: Edge) -> None:
    """A body over the cap but within the drain budget: 413, drained, the connection kept."""
    answer = exchange(
        edge,
        "POST",
        "/v2/manage/namespaces",
        b"x" * (MiB + MiB // 2),
        {"X-Auth-Token": edge.token, "Content-Type": "application/json"},
    )
    assert answer.status == 413
    assert answer.headers.get("connection") != "close"


def test_after_a_chunked_413_the_connection_is_still_usable(edge: Edge) -> None:
    conn = Connection(edge.server)
    try:
        conn.send_head(
            "POST",
            "/v2/manage/namespaces",
            {"X-Auth-Token": edge.token, "Transfer-Encoding": "chunked", "Content-Type": "application/json"},
        )
        pour(conn, 3 * MiB, chunked=True)
        assert conn.read_answer().status == 413
        conn.send_head("GET", "/healthz")
        assert conn.read_answer().status == 200
    finally:
        conn.close()


def test_a_body_past_the_drain_budget_closes_the_connection_after_the_answer(edge: Edge) -> None:
    conn = Connection(edge.server)
    try:
        conn.send_head("GET", "/v3/projects", {"Content-Length": str(HUGE)})
        answer = conn.read_answer()
        assert answer.status == 413 and answer.headers.get("connection") == "close"
        assert conn.closed_by_server()
    finally:
        conn.close()


# --- deep JSON ----------------------------------------------------------------------------------------


def nested(depth: int) -> bytes:
    """An array nested ``depth`` deep."""
    return b"[" * depth + b"]" * depth


def test_deeply_nested_manifest_is_manifest_invalid(edge: Edge) -> None:
    empty = Blob("application/vnd.oci.empty.v1+json", b"{}")

    def manifest(extra_depth: int) -> bytes:
        return (
            b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":'
            + json.dumps(empty.descriptor()).encode()
            + b',"layers":[],"x":'
            + nested(extra_depth)
            + b"}"
        )

    with registry_client(edge.server.base_url, ADMIN_USER, ADMIN_PASSWORD) as client:
        uploaded = client.post(
            "/v2/edge/deep/blobs/uploads/", params={"digest": sha256(empty.data)}, content=empty.data
        )
        assert uploaded.status_code == 201, uploaded.text
        for depth in (100_000, 64):  # the manifest object itself is one level
            response = client.put(
                "/v2/edge/deep/manifests/deep",
                content=manifest(depth),
                headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
            )
            assert response.status_code == 400, response.text
            error = response.json()["errors"][0]
            assert error["code"] == "MANIFEST_INVALID" and "nested deeper than 64" in error["message"], error
        accepted = client.put(
            "/v2/edge/deep/manifests/deep",
            content=manifest(63),
            headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
        )
        assert accepted.status_code == 201, accepted.text


def test_deeply_nested_bodies_are_invalid_in_each_dialect(edge: Edge) -> None:
    login = {
        "identity": {
            "methods": ["password"],
            "password": {"user": {"name": ADMIN_USER, "password": ADMIN_PASSWORD, "domain": {"name": ADMIN_USER}}},
        }
    }

    def with_extra(depth: int) -> bytes:
        # {"auth": {...}, "x": [[...]]}: the extra field is ignored by the model, only its depth counts
        return b'{"auth":' + json.dumps(login).encode() + b',"x":' + nested(depth) + b"}"

    base = edge.server.base_url
    assert httpx.post(base + "/v3/auth/tokens", content=with_extra(63), timeout=30).status_code == 201
    for depth in (64, 100_000):
        refused = httpx.post(base + "/v3/auth/tokens", content=with_extra(depth), timeout=30)
        assert refused.status_code == 400, refused.text
        assert "nested deeper than 64" in refused.json()["error"]["message"]
    token = {"X-Auth-Token": edge.token, "Content-Type": "application/json"}
    swr = httpx.post(
        base + "/v2/manage/namespaces", content=b'{"namespace":' + nested(100_000) + b"}", headers=token, timeout=30
    )
    assert swr.status_code == 400 and swr.json()["error_code"].startswith("SVCSTG.SWR.400"), swr.text
    assert "nested deeper than 64" in swr.json()["error_msg"]
    hss = httpx.post(
        f"{base}/v5/{edge.project}/image/registries",
        content=b'{"name":' + nested(100_000) + b"}",
        headers=token,
        timeout=30,
    )
    assert hss.status_code == 400 and hss.json()["error_code"] == "HSS.1001", hss.text


# --- request heads -------------------------------------------------------------------------------------


def test_oversized_request_head_is_431(edge: Edge) -> None:
    for headers in ({"X-Big": "a" * MiB}, {f"X-H{i}": "v" * 1000 for i in range(1000)}):
        conn = Connection(edge.server)
        try:
            conn.send_head("GET", "/healthz", headers)
            assert conn.read_answer().status == 431
        except (ConnectionResetError, BrokenPipeError):
            pass  # refused while the head was still arriving: the answer may be lost with the reset
        finally:
            conn.close()
    conn = Connection(edge.server)
    try:
        conn.send_head("GET", "/healthz", {"X-Fine": "a" * 8000})
        assert conn.read_answer().status == 200
    finally:
        conn.close()


def test_endless_header_is_cut_off(edge: Edge) -> None:
    """A header that never ends: the server stops reading it (and does not buffer it all)."""
    conn = Connection(edge.server, timeout=30)
    sent = 0
    try:
        conn.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Endless: ")
        with pytest.raises(OSError):
            while sent < 64 * MiB:
                conn.send(b"a" * 65536)
                sent += 65536
            conn.read_answer()
    finally:
        conn.close()
    assert sent < 8 * MiB, sent


def test_a_client_waiting_for_100_continue_is_answered_without_sending_its_body(edge: Edge) -> None:
    """``Expect: 100-continue`` (curl, for large bodies): an anonymous request is refused before the
    server asks for the body, and the connection is closed rather than drained."""
    conn = Connection(edge.server)
    try:
        conn.send_head(
            "POST",
            "/v2/manage/namespaces",
            {"Content-Length": str(512 * 1024), "Expect": "100-continue", "Content-Type": "application/json"},
        )
        answer = conn.read_answer()
        assert answer.status == 401, answer
        assert answer.headers.get("connection") == "close"
    finally:
        conn.close()
