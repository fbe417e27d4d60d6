"""Replication between two moorage servers on loopback, and to Debian's docker-registry, checked
with skopeo: an event-triggered policy on A copies a pushed two-platform index with its cosign-style
signature (a ``sha256-<hex>.sig`` tag) and an SBOM referrer to B within seconds, with B's digests
equal to A's; a delete on A is replicated; a label filter picks images by their config's labels; a
push-based policy copies to docker-registry, and to one with a self-signed certificate once the
registry is marked insecure; a pull-based policy copies from B into A, and A scans what it received
as it scans a push."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from moorage.domain.jobs import JobKind
from moorage.metadata.tables import jobs
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.enterprise.conftest import INSTANCE_HOST, SECOND_INSTANCE_HOST, _starter
from tests.enterprise.support import FINISHED, Enterprise, connect, create_instance, create_namespace, unique
from tests.hss.support import opened
from tests.support import nginx, skopeo
from tests.support.servers import ServerProcess, start_reference_registry, stop_all
from tests.support.swr_images import Image, image, index, push, registry_client
from tests.support.webhook_receiver import Receiver, webhook_receiver

EGRESS = {"MOORAGE_EGRESS__ALLOW_NETWORKS": "127.0.0.0/8"}
COSIGN_SIGNATURE = "application/vnd.dev.cosign.simplesigning.v1+json"
SPDX = "application/spdx+json"
CREDS = (ADMIN_USER, ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """Servers A and B (SQLite), each with an instance: A's at 127.0.0.5 (namespace ``team``), B's at
    127.0.0.6 (namespaces ``mirror`` and ``shelf``); B's instance is registry ``b`` of A's. A scans on
    push (what a copy into A must set off too)."""
    start, started = _starter(request, tmp_path_factory.mktemp("sites"))
    try:
        a = connect(start(database="sqlite", env={**EGRESS, "MOORAGE_SCANNER__SCAN_ON_PUSH": "true"}))
        b = connect(start(database="sqlite", env=EGRESS))
        a_host, b_host = f"{INSTANCE_HOST}:{a.server.port}", f"{SECOND_INSTANCE_HOST}:{b.server.port}"
        a_instance = create_instance(a, unique("a"), domain_name=a_host)
        b_instance = create_instance(b, unique("b"), domain_name=b_host)
        for name in ("team", "back"):
            create_namespace(a, a_instance, name)
        for name in ("mirror", "shelf"):
            create_namespace(b, b_instance, name)
        registry = _post(
            a,
            f"/instances/{a_instance}/registries",
            {
                "name": "site-b",
                "type": "swr-pro-internal",
                "url": f"http://{b_host}",
                "credential": {"type": "basic", "access_key": ADMIN_USER, "access_secret": ADMIN_PASSWORD},
            },
        )
        yield {"a": a, "b": b, "a_host": a_host, "b_host": b_host, "instance": a_instance, "registry": registry}
    finally:
        stop_all(started)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Debian's docker-registry on a free loopback port (stopped by pid)."""
    server = start_reference_registry(tmp_path_factory.mktemp("reference") / "data")
    try:
        yield server
    finally:
        server.stop()


def _post(ee: Enterprise, path: str, body: dict[str, Any]) -> int:
    with ee.http() as api:
        answer = api.post(f"/v2/{ee.project}{path}", json=body)
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def _policy(sites: dict[str, Any], **fields: Any) -> int:
    body = {"name": unique("policy"), "enabled": True, "trigger": {"type": "manual"}, **fields}
    return _post(sites["a"], f"/instances/{sites['instance']}/replication/policies", body)


def _run(sites: dict[str, Any], policy_id: int, timeout: float = 60) -> dict[str, Any]:
    a, instance = sites["a"], sites["instance"]
    execution_id = _post(a, f"/instances/{instance}/replication/executions", {"policy_id": policy_id})
    deadline = time.monotonic() + timeout
    with a.http() as api:
        while time.monotonic() < deadline:
            found = api.get(
                f"/v2/{a.project}/instances/{instance}/replication/executions", params={"policy_id": policy_id}
            ).json()["executions"]
            done = next((e for e in found if e["id"] == execution_id and e["status"] in FINISHED), None)
            if done is not None:
                return dict(done)
            time.sleep(0.2)
    raise AssertionError(f"execution {execution_id} did not finish:\n{a.server.log()[-4000:]}")


def _signed_index(label: str) -> tuple[Image, Image, Image, list[Image]]:
    """A two-platform index, a cosign-style signature (tag ``sha256-<hex>.sig``) and an SBOM referrer."""
    children = [image([{f"{label}/{arch}": arch.encode() * 200}], label=f"{label}-{arch}") for arch in ("a", "b")]
    top = index(children)
    plain = image([{"sig": f"signature of {top.digest}".encode()}], label=f"{label}-sig")
    signature = Image(
        plain.manifest.replace(b"application/vnd.oci.image.layer.v1.tar+gzip", COSIGN_SIGNATURE.encode()),
        plain.media_type,
        plain.blobs,
        plain.config,
    )
    sbom = image([{"sbom.json": b'{"spdxVersion":"SPDX-2.3"}'}], label=f"{label}-sbom", subject=top, artifact_type=SPDX)
    return top, signature, sbom, children


def _sig_tag(top: Image) -> str:
    return "sha256-" + top.digest.split(":")[1] + ".sig"


def _creds(creds: tuple[str, str] | None) -> list[str]:
    return ["--creds", f"{creds[0]}:{creds[1]}"] if creds else ["--no-creds"]


def _served(host: str, repository: str, reference: str, *, creds: tuple[str, str] | None = CREDS) -> str:
    """Docker-Content-Digest of a manifest, or "" when there is none."""
    accept = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json"
    with httpx.Client(base_url=f"http://{host}", auth=creds, timeout=30) as client:
        answer = client.head(f"/v2/{repository}/manifests/{reference}", headers={"Accept": accept})
    return answer.headers.get("Docker-Content-Digest", "") if answer.status_code == 200 else ""


def _wait(check: Any, what: str, sites: dict[str, Any], timeout: float = 30) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen in {timeout}s:\n{sites['a'].server.log()[-4000:]}")


def test_event_based_copy_of_a_signed_multi_platform_image_and_its_delete(sites: dict[str, Any]) -> None:
    with webhook_receiver() as hooks:
        _event_based_copy(sites, hooks)


def _event_based_copy(sites: dict[str, Any], hooks: Receiver) -> None:
    a_host, b_host = sites["a_host"], sites["b_host"]
    _post(
        sites["a"],
        f"/instances/{sites['instance']}/namespaces/team/webhook/policies",
        {
            "name": unique("replication-hook"),
            "event_types": ["REPLICATION"],
            "enabled": True,
            "targets": [{"type": "http", "address": hooks.url + "/replication"}],
        },
    )
    _policy(
        sites,
        dest_registry={"id": sites["registry"]},
        dest_namespace="mirror",
        dest_namespace_replace_count=1,
        filters=[{"type": "name", "value": "team/**"}],
        trigger={"type": "event_based"},
        replicate_deletion=True,
    )
    top, signature, sbom, children = _signed_index("event")
    pushed = time.monotonic()
    with registry_client(f"http://{a_host}", *CREDS) as client:
        for child in children:
            push(client, "team/app", child.digest, child)
        push(client, "team/app", "1.0", top)
        push(client, "team/app", _sig_tag(top), signature)
        push(client, "team/app", sbom.digest, sbom)
    _wait(lambda: _served(b_host, "mirror/app", _sig_tag(top)) != "", "the copy of the signature", sites)
    _wait(lambda: _served(b_host, "mirror/app", sbom.digest) != "", "the copy of the SBOM", sites)
    seconds = time.monotonic() - pushed
    assert seconds < 15, seconds

    at_a = skopeo.inspect_raw(f"{a_host}/team/app:1.0", creds=CREDS)
    at_b = skopeo.inspect_raw(f"{b_host}/mirror/app:1.0", creds=CREDS)
    assert at_a == at_b and len(at_b["manifests"]) == 2
    assert _served(b_host, "mirror/app", "1.0") == top.digest
    for child in at_b["manifests"]:
        assert _served(b_host, "mirror/app", child["digest"]) == child["digest"]
    assert _served(b_host, "mirror/app", _sig_tag(top)) == signature.digest
    with registry_client(f"http://{b_host}", *CREDS) as client:
        referrers = client.get(f"/v2/mirror/app/referrers/{top.digest}").json()
    assert [m["digest"] for m in referrers["manifests"]] == [sbom.digest]

    with sites["a"].http() as api:
        deleted = api.delete(f"/v2/instances/{sites['instance']}/namespaces/team/repositories/app/tags/1.0")
    assert deleted.status_code in (200, 204), deleted.text
    _wait(lambda: _served(b_host, "mirror/app", "1.0") == "", "the replicated delete", sites)

    # each execution's start and end are REPLICATION deliveries of the namespace's webhook policy
    delivered = hooks.wait_for(2, path="/replication")
    assert {r.json()["type"] for r in delivered} == {"REPLICATION"}
    bodies = [r.json()["event_data"]["replication"] for r in delivered]  # Harbor's replication payload
    assert {b["src_resource"]["namespace"] for b in bodies} == {"team"}
    assert {b["trigger_type"] for b in bodies} == {"EVENT_BASED"}
    ended = [b for b in bodies if b["job_status"] != "InProgress"]
    assert ended and ended[0]["job_status"] == "Success"
    assert all(b["successful_artifact"][0]["name_tag"].startswith("team/app") for b in ended)


def test_label_filter(sites: dict[str, Any]) -> None:
    a_host, b_host = sites["a_host"], sites["b_host"]
    with registry_client(f"http://{a_host}", *CREDS) as client:
        push(client, "team/labelled", "wanted", image([{"f": b"1"}], label="keep"))
        push(client, "team/labelled", "unwanted", image([{"f": b"2"}], label="drop"))
    policy_id = _policy(
        sites,
        dest_registry={"id": sites["registry"]},
        dest_namespace="shelf",
        filters=[{"type": "name", "value": "team/labelled"}, {"type": "label", "value": "t=keep"}],
    )
    done = _run(sites, policy_id)
    assert (done["status"], done["total"]) == ("Succeed", 1), done
    assert _served(b_host, "shelf/labelled", "wanted") != ""
    assert _served(b_host, "shelf/labelled", "unwanted") == ""


def test_push_based_to_docker_registry(sites: dict[str, Any], reference: ServerProcess) -> None:
    a_host = sites["a_host"]
    top, signature, _sbom, children = _signed_index("reference")
    with registry_client(f"http://{a_host}", *CREDS) as client:
        for child in children:
            push(client, "team/ref", child.digest, child)
        push(client, "team/ref", "2.0", top)
        push(client, "team/ref", _sig_tag(top), signature)
    registry = _post(
        sites["a"],
        f"/instances/{sites['instance']}/registries",
        {"name": unique("distribution"), "type": "docker-registry", "url": f"http://{reference.address}"},
    )
    policy_id = _policy(
        sites, dest_registry={"id": registry}, dest_namespace="copies", filters=[{"type": "name", "value": "team/ref"}]
    )
    done = _run(sites, policy_id)
    assert (done["status"], done["total"]) == ("Succeed", 1), done  # the signature tag travels with its image
    at_a = skopeo.inspect_raw(f"{a_host}/team/ref:2.0", creds=CREDS)
    at_reference = skopeo.inspect_raw(f"{reference.address}/copies/ref:2.0")
    assert at_a == at_reference
    assert _served(reference.address, "copies/ref", "2.0", creds=None) == top.digest
    assert _served(reference.address, "copies/ref", _sig_tag(top), creds=None) == signature.digest


def test_a_registry_with_a_self_signed_certificate_is_used_only_when_marked_insecure(
    sites: dict[str, Any], tmp_path: Path
) -> None:
    """The credential check and the copies verify TLS unless the registry says ``insecure`` (SWR's
    "do not verify the remote certificate"): a self-signed docker-registry is refused, then used."""
    tls = nginx.self_signed(tmp_path / "tls")
    server = start_reference_registry(tmp_path / "tls-registry", tls=tls)
    try:
        a, instance = sites["a"], sites["instance"]
        body = {"name": unique("selfsigned"), "type": "docker-registry", "url": f"https://{server.address}"}
        with a.http() as api:
            refused = api.post(f"/v2/{a.project}/instances/{instance}/registries", json=body)
        assert refused.status_code == 400, refused.text
        assert "certificate" in refused.json()["error_msg"], refused.text
        registry = _post(a, f"/instances/{instance}/registries", {**body, "insecure": True})

        with registry_client(f"http://{sites['a_host']}", *CREDS) as client:
            plain = image([{"tls": b"over a self-signed certificate"}], label="tls")
            push(client, "team/tls", "1.0", plain)
        policy_id = _policy(
            sites,
            dest_registry={"id": registry},
            dest_namespace="secure",
            filters=[{"type": "name", "value": "team/tls"}],
        )
        done = _run(sites, policy_id)
        assert (done["status"], done["total"]) == ("Succeed", 1), done
        copied = skopeo.inspect_raw(f"{server.address}/secure/tls:1.0")  # skopeo skips verification
        assert copied == json.loads(plain.manifest)
    finally:
        server.stop()


def test_pull_based_from_b(sites: dict[str, Any], tmp_path: Path) -> None:
    a_host, b_host = sites["a_host"], sites["b_host"]
    tool = image([{"bin/tool": b"tool" * 100}], label="tool")
    with registry_client(f"http://{b_host}", *CREDS) as client:
        push(client, "shelf/tool", "3.1", tool)
    policy_id = _policy(
        sites,
        src_registry={"id": sites["registry"]},
        dest_namespace="back",
        filters=[{"type": "name", "value": "shelf/tool"}, {"type": "tag", "value": "3.*"}],
    )
    done = _run(sites, policy_id)
    assert (done["status"], done["total"]) == ("Succeed", 1), done
    assert skopeo.inspect_raw(f"{a_host}/back/tool:3.1", creds=CREDS) == skopeo.inspect_raw(
        f"{b_host}/shelf/tool:3.1", creds=CREDS
    )
    assert _served(a_host, "back/tool", "3.1") == tool.digest
    # The copy sets off what a push sets off: A queued a scan of the tag it received.
    assert (f"push:3.1:{tool.digest}") in _scan_on_push_jobs(sites["a"].server)


def _scan_on_push_jobs(server: ServerProcess) -> set[str]:
    """``push:<tag>:<digest>`` of every scan-on-push job the server queued."""
    with opened(server) as db:
        rows = db.run_read(
            lambda conn: conn.execute(select(jobs.c.params).where(jobs.c.kind == JobKind.SCAN_ON_PUSH.value)).all()
        )
    return {f"push:{p['tag']}:{p['digest']}" for p in (json.loads(row.params) for row in rows)}


def test_pull_based_from_harbor_lists_through_harbors_api(sites: dict[str, Any]) -> None:
    """A Harbor whose catalog is off is listed through its own API (the HSS catalogs'); the fake
    serves manifests but no blobs, so the copies fail, each task saying so in general terms."""
    from tests.hss.fake_registries import OCI_MANIFEST, FakeHarbor, digest_of, manifest

    body = manifest("harbor")
    artifacts = {
        "library/nginx": [
            {
                "digest": digest_of(body),
                "size": 3100,
                "manifest_media_type": OCI_MANIFEST,
                "tags": [{"name": "1.25"}, {"name": "1.26"}, {"name": "latest"}],
            }
        ]
    }
    with FakeHarbor("robot", "harbor-pw", artifacts=artifacts) as harbor:
        harbor.manifests[("library/nginx", "1.25")] = body
        registry = _post(
            sites["a"],
            f"/instances/{sites['instance']}/registries",
            {
                "name": unique("harbor"),
                "type": "swr-pro",
                "url": f"http://{harbor.address}",
                "credential": {"type": "basic", "access_key": "robot", "access_secret": "harbor-pw"},
            },
        )
        policy_id = _policy(
            sites,
            src_registry={"id": registry},
            dest_namespace="back",
            filters=[{"type": "name", "value": "library/**"}, {"type": "tag", "value": "1.*"}],
        )
        done = _run(sites, policy_id)
        assert not any(p.startswith("/v2/_catalog") for p in harbor.requests)
    assert (done["status"], done["total"], done["failed"]) == ("Failed", 2, 2), done
    with sites["a"].http() as api:
        found = api.get(
            f"/v2/{sites['a'].project}/instances/{sites['instance']}/replication/executions/{done['id']}/tasks"
        ).json()["tasks"]
    assert sorted(t["src_resource"] for t in found) == ["library/nginx:1.25", "library/nginx:1.26"]
    assert sorted(t["dst_resource"] for t in found) == ["back/nginx:1.25", "back/nginx:1.26"]
