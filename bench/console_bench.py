"""How fast the web console answers its two heaviest pages: a repository of 10,000 tags and an image
with 1,000 findings.

    PYTHONPATH=src .venv/bin/python bench/console_bench.py [--tags 10000] [--findings 1000] [--runs 30]

One ``moorage serve`` (SQLite, scan on push, an advisory database of ``--findings`` OSV records, one
per Python package). Pushed through the OCI API: ``bench/tags`` with one small image under
``--tags`` tags, and ``bench/findings:v1`` whose layer installs ``--findings`` packages, each
matched by one advisory (so its scan stores that many findings). Then a console session (sign in
as a browser does) and, ``--runs`` times each, the pages: the tag list (first page, a page deep
in the list, a search, sorted by name) and the image's security page (default, filtered to
critical, sorted by CVSS, a later page). Figures: p50 / p95 / max wall time of the whole HTTP
answer over loopback, and the page's size; then the same pages from the application in this
process, with the CPU time each answer costs. ``--keep DIR`` keeps the set-up and reuses it on the
next run (measure two versions of the code on the same data). Not a timed test: it prints figures.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from pathlib import Path

import httpx

ADMIN, PASSWORD = "admin", "bench-password-1"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CVSS_CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
CVSS_MEDIUM = "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:N/A:N"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def advisories(work: Path, count: int) -> Path:
    """An advisory database with one OSV record per package ``benchpkg<i>`` (every tenth critical)."""
    from moorage.scanner.advisories.builder import build_database
    from moorage.scanner.advisories.sources import parse_source

    feeds = work / "osv"
    feeds.mkdir()
    for i in range(count):
        record = {
            "schema_version": "1.6.0",
            "id": f"BENCH-{i:05d}",
            "modified": "2024-01-01T00:00:00Z",
            "published": "2023-12-01T00:00:00Z",
            "aliases": [f"CVE-2099-{i + 10000}"],
            "summary": f"benchpkg{i} flaw",
            "details": "",
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": f"benchpkg{i}"},
                    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0.0"}]}],
                }
            ],
            "severity": [{"type": "CVSS_V3", "score": CVSS_CRITICAL if i % 10 == 0 else CVSS_MEDIUM}],
            "references": [{"type": "ADVISORY", "url": f"https://example.test/BENCH-{i:05d}"}],
        }
        (feeds / f"BENCH-{i:05d}.json").write_text(json.dumps(record))
    database = work / "vulndb.sqlite"
    build_database([parse_source(f"osv:{feeds}")], database)
    return database


def layer(files: dict[str, bytes]) -> bytes:
    """A gzipped tar of ``files`` (reproducible)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue(), mtime=0)


def image(files: dict[str, bytes]) -> tuple[bytes, dict[str, bytes]]:
    """(manifest, blobs by digest) of a one-layer image."""
    blob = layer(files)
    diff_id = "sha256:" + hashlib.sha256(gzip.decompress(blob)).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created_by": "COPY packages /"}],
        }
    ).encode()
    digest = {b: "sha256:" + hashlib.sha256(b).hexdigest() for b in (blob, config)}
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": digest[config],
                "size": len(config),
            },
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest[blob], "size": len(blob)}
            ],
        }
    ).encode()
    return manifest, {digest[blob]: blob, digest[config]: config}


def _parts(items: list[str], count: int) -> list[list[str]]:
    return [items[i::count] for i in range(count)]


def push(base: str, repository: str, manifest: bytes, blobs: dict[str, bytes], tags: list[str]) -> None:
    """Blobs once, then the manifest under every tag (one PUT each)."""
    token = httpx.get(
        f"{base}/service/token", params={"scope": f"repository:{repository}:pull,push"}, auth=(ADMIN, PASSWORD)
    ).json()["token"]
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as api:
        for digest, data in blobs.items():
            started = api.post(f"/v2/{repository}/blobs/uploads/")
            # The Location's own query (the session's signed _state) stays: httpx's params= would replace it.
            done = api.put(httpx.URL(started.headers["location"]).copy_merge_params({"digest": digest}), content=data)
            assert done.status_code == 201, done.text
        for tag in tags:
            stored = api.put(f"/v2/{repository}/manifests/{tag}", content=manifest, headers={"Content-Type": MANIFEST})
            assert stored.status_code == 201, stored.text


@contextmanager
def moorage(work: Path, vulndb: Path, *, scan_on_push: bool) -> Iterator[str]:
    """``moorage serve`` on loopback over ``work``'s data directory; its base URL."""
    port = free_port()
    data = work / "data"
    env = {
        **os.environ,
        "MOORAGE_AUTH__ADMIN_PASSWORD": PASSWORD,
        "MOORAGE_ACCESS_LOG": "false",
        "MOORAGE_LOG_LEVEL": "warning",
        "MOORAGE_SCANNER__SCAN_ON_PUSH": "true" if scan_on_push else "false",
        "MOORAGE_SCANNER__VULNDB_PATH": str(vulndb),
        "MOORAGE_SCANNER__VULNDB_SOURCES": "",
    }
    log = (work / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "moorage", "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{base}/v2/", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((work / "server.log").read_text()[-3000:]) from None
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def console_session(base: str) -> httpx.Client:
    """A client signed in to the console as a browser signs in."""
    client = httpx.Client(base_url=base, headers={"Accept": "text/html"}, timeout=60)
    page = client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    answer = client.post(
        "/console/login",
        data={"user_name": ADMIN, "password": PASSWORD, "csrf_token": token[1]},
        headers={"Origin": base},
    )
    assert answer.status_code == 303, answer.text[:500]
    return client


def timed(client: httpx.Client, path: str, runs: int) -> tuple[list[float], int]:
    """Wall times (ms) of ``runs`` GETs of ``path`` after one warm-up, and the page's size."""
    first = client.get(path)
    assert first.status_code == 200, (path, first.status_code, first.text[:500])
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200
    return times, len(first.content)


def pages_of(tags: int) -> list[tuple[str, str]]:
    """(label, path) of the measured pages."""
    security = "/console/orgs/bench/repos/findings/tags/v1/security"
    deep = max(tags // 50 // 2, 1)
    return [
        ("tags: first page (50 of 10,000, newest first)", "/console/orgs/bench/repos/tags"),
        (f"tags: page {deep}", f"/console/orgs/bench/repos/tags?page={deep}"),
        ("tags: search '777'", "/console/orgs/bench/repos/tags?q=777"),
        ("tags: sorted by name, page 2", "/console/orgs/bench/repos/tags?sort=name&page=2"),
        ("organization: its repositories (one of 10,000 tags)", "/console/orgs/bench"),
        ("tag page (layers, referrers, grants)", "/console/orgs/bench/repos/tags/tags/t04242"),
        ("findings: first page (50 of 1,000)", security),
        ("findings: critical only", security + "?severity=critical"),
        ("findings: sorted by CVSS, page 10", security + "?sort=cvss&page=10"),
    ]


def set_up(work: Path, vulndb: Path, tags: int, findings: int) -> None:
    """The tags first, without scan on push (10,000 image rows to scan would measure the scanner);
    then the same data directory served again, scanning the image with the findings on push, until
    its findings show."""
    with moorage(work, vulndb, scan_on_push=False) as base:
        small, small_blobs = image({"etc/bench": b"one small image"})
        names = [f"t{i:05d}" for i in range(tags)]
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda part: push(base, "bench/tags", small, small_blobs, part), _parts(names, 4)))
    with moorage(work, vulndb, scan_on_push=True) as base:
        files = {
            f"usr/lib/python3/dist-packages/benchpkg{i}-1.0.0.dist-info/METADATA": (
                f"Metadata-Version: 2.1\nName: benchpkg{i}\nVersion: 1.0.0\n\n".encode()
            )
            for i in range(findings)
        }
        big, big_blobs = image(files)
        push(base, "bench/findings", big, big_blobs, ["v1"])
        with closing(console_session(base)) as client:
            scanned(client, pages_of(tags)[-3][1])


def scanned(client: httpx.Client, security: str) -> None:
    """Wait until the image's findings show."""
    deadline = time.monotonic() + 300
    while "Vulnerabilities" not in client.get(security).text:
        if time.monotonic() > deadline:
            raise RuntimeError("the image was not scanned in 300 s")
        time.sleep(1)


def report(label: str, times: list[float], size: int, cpu: list[float] | None = None) -> None:
    times = sorted(times)
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    line = f"{label:52} {statistics.median(times):8.1f} {p95:8.1f} {times[-1]:8.1f} {size / 1024:7.1f}"
    if cpu is not None:
        line += f" {statistics.median(cpu):8.1f}"
    print(line, flush=True)


def over_http(work: Path, vulndb: Path, tags: int, runs: int) -> None:
    """The pages from ``moorage serve`` over loopback: wall time of the whole answer."""
    with moorage(work, vulndb, scan_on_push=False) as base, closing(console_session(base)) as client:
        security = pages_of(tags)[-3][1]
        scanned(client, security)
        matched = re.search(r"Page 1 of \d+ · (\d+) in all", client.get(security).text)
        print(f"findings stored for bench/findings:v1: {matched[1] if matched else '?'}")
        print("over HTTP (moorage serve, loopback)")
        print(f"{'page':52} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'KiB':>7}")
        for label, path in pages_of(tags):
            times, size = timed(client, path, runs)
            report(label, times, size)


def in_process(work: Path, vulndb: Path, tags: int, runs: int) -> None:
    """The same pages from the application in this process (no socket, no HTTP parsing): wall
    time and this process's CPU time per answer, what the page itself costs."""
    import warnings

    from moorage.app import create_app
    from moorage.settings import Settings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
        from starlette.testclient import TestClient

    settings = Settings(
        data_dir=work / "data",
        access_log=False,
        auth={"admin_password": PASSWORD},
        scanner={"scan_on_push": False, "vulndb_path": vulndb, "vulndb_sources": ""},
    )
    with TestClient(create_app(settings), base_url="http://127.0.0.1:5000", follow_redirects=False) as client:
        client.headers["Accept"] = "text/html"
        page = client.get("/console/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        signed = client.post(
            "/console/login",
            data={"user_name": ADMIN, "password": PASSWORD, "csrf_token": token[1]},
            headers={"Origin": "http://127.0.0.1:5000"},
        )
        assert signed.status_code == 303, signed.text[:300]
        print("in process (the application called directly)")
        print(f"{'page':52} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'KiB':>7} {'CPU p50':>8}")
        for label, path in pages_of(tags):
            first = client.get(path)
            assert first.status_code == 200, (path, first.status_code)
            times, cpu = [], []
            for _ in range(runs):
                wall, used = time.perf_counter(), time.process_time()
                assert client.get(path).status_code == 200
                cpu.append((time.process_time() - used) * 1000)
                times.append((time.perf_counter() - wall) * 1000)
            report(label, times, len(first.content), cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tags", type=int, default=10_000)
    parser.add_argument("--findings", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument(
        "--keep",
        type=Path,
        help="work in this directory and keep the data; when it holds a finished set-up, reuse it "
        "(to measure two versions of the code on the same data)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="console-bench-") as tmp:
        work = Path(tmp)
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            work = args.keep
        vulndb = work / "vulndb.sqlite"
        done = work / "set-up-done"
        if not done.exists():
            started = time.monotonic()
            vulndb = advisories(work, args.findings)
            set_up(work, vulndb, args.tags, args.findings)
            done.write_text(f"{args.tags} {args.findings}\n")
            took = time.monotonic() - started
            print(f"set-up: {args.tags} tags and an image of {args.findings} packages in {took:.0f} s", flush=True)
        over_http(work, vulndb, args.tags, args.runs)
        in_process(work, vulndb, args.tags, args.runs)


if __name__ == "__main__":
    main()
