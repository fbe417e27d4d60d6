"""What replication costs a push, and how fast it copies, side by side in one run.

    PYTHONPATH=src .venv/bin/python bench/replication_bench.py [--pushes 300] [--clients 8] [--images 100]

Two ``moorage serve`` (SQLite, an embedded worker each), A and B, each with an Enterprise Edition
instance on 127.0.0.5 (their own ports); B's instance is a replication registry of A's.

- **Push throughput** on A, small images (a 1 KiB layer, a config, a manifest by tag) pushed by
  ``--clients`` clients in interleaved rounds into two namespaces: ``none`` (no policy) and
  ``3 webhooks + replication`` (three PUSH_ARTIFACT webhook policies to a receiver answering 200 at
  once, and one event-based replication policy copying every push to B). Figures: pushes/s, the
  manifest PUT's p50 and p99, and how long after the last push B held every pushed tag.
- **Replication throughput** (first, on a pair of servers of its own): ``--images`` small images
  (distinct blobs) pushed to A beforehand; a manual push-based execution copies them to B: images/s
  and blob KB/s from the execute request until the execution is listed finished, then the same
  execution again (everything present at B: nothing sent).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.events_bench import INSTANCE_HOST, PASSWORD, Api, image, moorage, push_round, receiver, summary, token

ADMIN = "admin"


def registry(api: Api, instance: str, b_host: str) -> int:
    made = api.http.post(
        f"/v2/{api.project}/instances/{instance}/registries",
        json={
            "name": "site-b",
            "type": "swr-pro-internal",
            "url": f"http://{b_host}",
            "credential": {"type": "basic", "access_key": ADMIN, "access_secret": PASSWORD},
        },
    )
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def policy(api: Api, instance: str, name: str, **fields: Any) -> int:
    made = api.http.post(
        f"/v2/{api.project}/instances/{instance}/replication/policies",
        json={"name": name, "enabled": True, "trigger": {"type": "manual"}, **fields},
    )
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def tags(host: str, repository: str) -> set[str]:
    bearer = token(host, repository, "pull")
    answer = httpx.get(
        f"http://{host}/v2/{repository}/tags/list", headers={"Authorization": f"Bearer {bearer}"}, timeout=60
    )
    return set(answer.json().get("tags") or []) if answer.status_code == 200 else set()


def execute(api: Api, instance: str, policy_id: int) -> dict[str, Any]:
    started = time.perf_counter()
    made = api.http.post(
        f"/v2/{api.project}/instances/{instance}/replication/executions", json={"policy_id": policy_id}
    )
    assert made.status_code == 201, made.text
    execution_id = made.json()["id"]
    while True:
        listed = api.http.get(
            f"/v2/{api.project}/instances/{instance}/replication/executions", params={"policy_id": policy_id}
        ).json()["executions"]
        found = next(e for e in listed if e["id"] == execution_id)
        if found["status"] in ("Succeed", "Failed", "Stopped"):
            return {**found, "wall_s": time.perf_counter() - started}
        time.sleep(0.05)


def push_images(host: str, repository: str, count: int) -> int:
    """``count`` distinct small images as tags of one repository; their blob bytes."""
    bearer = token(host, repository, "pull,push")
    total = 0
    with httpx.Client(base_url=f"http://{host}", headers={"Authorization": f"Bearer {bearer}"}, timeout=120) as client:
        for n in range(count):
            manifest, blobs = image(f"batch-{n}-{time.time_ns()}")
            for digest, data in blobs.items():
                done = client.post(f"/v2/{repository}/blobs/uploads/", params={"digest": digest}, content=data)
                assert done.status_code == 201, done.text
                total += len(data)
            stored = client.put(
                f"/v2/{repository}/manifests/i{n}",
                content=manifest,
                headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
            )
            assert stored.status_code == 201, stored.text
    return total


def sites(src: Path, work: Path) -> Iterator[tuple[Api, str, str, Api, str, str, int]]:
    """Servers A and B, an instance on each, B's registered as registry ``site-b`` of A's."""
    with moorage(src, work, {}) as a_port, moorage(src, work, {}) as b_port:
        a, b = Api(a_port), Api(b_port)
        a_instance, b_instance = a.instance(a_port), b.instance(b_port)
        b_host = f"{INSTANCE_HOST}:{b_port}"
        yield a, a_instance, f"{INSTANCE_HOST}:{a_port}", b, b_instance, b_host, registry(a, a_instance, b_host)


def push_cost(src: Path, work: Path, pushes: int, clients: int, rounds: int) -> None:
    """Pushes into A without and with 3 webhook policies and an event-based replication policy."""
    with (
        receiver(True) as live,
        contextmanager(sites)(src, work) as (a, a_instance, a_host, b, b_instance, b_host, site_b),
    ):
        for name in ("plain", "hooked"):
            a.namespace(a_instance, name)
        b.namespace(b_instance, "mirror")
        for k in range(3):
            a.policy(a_instance, "hooked", live, f"live-{k}")
        policy(
            a,
            a_instance,
            "events",
            dest_registry={"id": site_b},
            dest_namespace="mirror",
            dest_namespace_replace_count=1,
            filters=[{"type": "name", "value": "hooked/**"}],
            trigger={"type": "event_based"},
        )
        columns = {"none": "plain", "3 webhooks + replication": "hooked"}
        latencies: dict[str, list[float]] = {c: [] for c in columns}
        walls = dict.fromkeys(columns, 0.0)
        per_round = pushes // rounds
        for r in range(rounds):  # interleaved, so each column meets the same load
            for column, namespace in columns.items():
                started = time.perf_counter()
                latencies[column] += push_round(a_host, namespace, per_round, clients, f"{namespace}-{r}")
                walls[column] += time.perf_counter() - started
        last_push = time.perf_counter()
        expected = {f"t{n}" for n in range(per_round)}
        while not expected <= tags(b_host, "mirror/app"):
            if time.perf_counter() - last_push > 900:
                raise RuntimeError("the event-based copies did not arrive in 15 minutes")
            time.sleep(0.2)
        lag = time.perf_counter() - last_push
    print(f"{'pushes into A':<28} {'pushes/s':>9} {'PUT p50 ms':>11} {'PUT p99 ms':>11}")
    for column in columns:
        figures = summary(latencies[column], walls[column])
        print(f"{column:<28} {figures['pushes_per_s']:>9} {figures['put_p50_ms']:>11} {figures['put_p99_ms']:>11}")
    print(f"B held every event-replicated tag {lag:.1f} s after the last push ({pushes} pushes, {rounds} per tag)")


def copy_rate(src: Path, work: Path, images: int) -> None:
    """A manual push-based execution of ``images`` small images from A to B, twice."""
    with contextmanager(sites)(src, work) as (a, a_instance, a_host, b, b_instance, b_host, site_b):
        a.namespace(a_instance, "batch")
        b.namespace(b_instance, "copies")
        size = push_images(a_host, "batch/app", images)
        batch = policy(
            a,
            a_instance,
            "batch",
            dest_registry={"id": site_b},
            dest_namespace="copies",
            filters=[{"type": "name", "value": "batch/app"}],
        )
        first = execute(a, a_instance, batch)
        again = execute(a, a_instance, batch)
        assert first["status"] == "Succeed" and first["total"] == images, first
        assert tags(b_host, "copies/app") >= {f"i{n}" for n in range(images)}
    print(f"{'replication A -> B':<28} {'images':>7} {'seconds':>8} {'images/s':>9} {'blob KB/s':>10}")
    for label, run, sent in (("first run", first, size), ("again (all present)", again, 0)):
        seconds = run["wall_s"]
        print(
            f"{label:<28} {run['total']:>7} {seconds:>8.2f} {run['total'] / seconds:>9.1f} "
            f"{sent / seconds / 1e3:>10.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pushes", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--only", choices=("pushes", "copies"), help="run one part only")
    args = parser.parse_args()
    src = Path(__file__).resolve().parents[1] / "src"
    work = Path(tempfile.mkdtemp(prefix="replication-bench-"))
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    if args.only in (None, "copies"):
        copy_rate(src, work, args.images)
    if args.only in (None, "pushes"):
        print(f"{args.pushes} pushes per column, {args.clients} clients")
        push_cost(src, work, args.pushes, args.clients, args.rounds)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
