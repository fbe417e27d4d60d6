"""Interop with container tools nobody here wrote: images pushed with skopeo into an instance
(reached by its domain name, an address on loopback), a signature policy executed, then
``skopeo copy`` (and podman, where it runs) with a ``policy.json`` requiring ``sigstoreSigned``
with the exported public key and ``registries.d`` set to ``use-sigstore-attachments`` accepts the
signed image and rejects an unsigned one, one whose manifest changed after signing, and one
carrying a signature made for another manifest. Then the namespace option that refuses pulls of
unsigned images: 403 with a message that says why, while signed images (and their signatures)
stay readable.

Debian 12's skopeo 1.9.3 and podman 4.3.1 (containers/image 5.23) read sigstore attachments but
are built without sigstore verification: any ``sigstoreSigned`` requirement fails with "Debian-local
change: sigstore disabled". The policy tests therefore skip there (they run with any upstream
build); on Debian the same decisions are checked from what skopeo itself fetched through
``use-sigstore-attachments`` (the signatures it copies into a ``dir:``), with ``openssl`` verifying
the ECDSA signatures against the exported public key and the payload checked as containers/image
checks it (the manifest digest and the image reference).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from huaweicloudsdkswr.v2 import ListInstanceAccessoriesRequest

from tests.enterprise import layouts
from tests.enterprise.support import (
    Enterprise,
    create_instance,
    create_key,
    create_namespace,
    create_policy,
    execute,
    public_key_file,
    push,
    unique,
    wait_execution,
)
from tests.support import skopeo
from tests.support.tools import require_tool

CREDS = ("admin", "admin-password-1")

pytestmark = [pytest.mark.e2e]


@pytest.fixture(scope="module")
def world(ee_sqlite: Enterprise, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An instance with ``secure/signed:v1`` signed, ``secure/unsigned:v1`` not, ``secure/changed:v1``
    re-pushed with other content after signing, and ``secure/forged:v1`` whose signature tag holds
    the signature of another manifest; the verification policy and registries.d for them."""
    ee = ee_sqlite
    base = tmp_path_factory.mktemp("interop")
    instance_id = create_instance(ee, unique("interop"), domain_name=ee.instance_address)
    create_namespace(ee, instance_id, "secure")
    layout = layouts.write_layout(
        base / "images",
        {
            "signed": "signed image",
            "unsigned": "unsigned image",
            "before": "changed, before",
            "after": "changed, after",
            "forged": "forged image",
        },
    )
    host = ee.instance_address
    push(layout, "signed", f"{host}/secure/signed:v1")
    push(layout, "unsigned", f"{host}/secure/unsigned:v1")
    push(layout, "before", f"{host}/secure/changed:v1")
    push(layout, "forged", f"{host}/secure/forged:v1")
    key = create_key(ee, instance_id, "release")
    policy_id = create_policy(ee, instance_id, "secure", key["id"], repositories="{signed,changed}", tags="**")
    finished = wait_execution(ee, instance_id, "secure", policy_id, execute(ee, instance_id, "secure", policy_id))
    assert (finished.status, finished.succeed) == ("Succeed", 2), finished
    push(layout, "after", f"{host}/secure/changed:v1")  # the tag now names a manifest nobody signed
    signed_sig = "sha256-" + layouts.manifest_digest("signed image").split(":")[1] + ".sig"
    forged_sig = "sha256-" + layouts.manifest_digest("forged image").split(":")[1] + ".sig"
    skopeo.run(
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--src-creds",
        ":".join(CREDS),
        "--dest-creds",
        ":".join(CREDS),
        f"docker://{host}/secure/signed:{signed_sig}",
        f"docker://{host}/secure/forged:{forged_sig}",
    )
    public_key = public_key_file(ee, instance_id, key["id"], base / "release.pub")
    policy = base / "policy.json"
    policy.write_text(
        json.dumps(
            {
                "default": [{"type": "reject"}],
                "transports": {
                    "docker": {f"{host}/secure": [{"type": "sigstoreSigned", "keyPath": str(public_key)}]},
                    "oci": {"": [{"type": "insecureAcceptAnything"}]},
                },
            }
        )
    )
    registries_d = base / "registries.d"
    registries_d.mkdir()
    (registries_d / "moorage.yaml").write_text(f"docker:\n  {host}:\n    use-sigstore-attachments: true\n")
    return {
        "ee": ee,
        "instance": instance_id,
        "host": host,
        "policy": policy,
        "registries_d": registries_d,
        "key": public_key,
        "base": base,
    }


SIGSTORE_DISABLED = "sigstore disabled"
"""What Debian 12's containers/image says for any ``sigstoreSigned`` requirement: Debian builds
skopeo 1.9.3 and podman 4.3.1 without sigstore verification (its Go sigstore libraries are not
packaged), so those tools read sigstore attachments but cannot evaluate ``sigstoreSigned``."""


def _verified_copy(
    world: dict[str, Any], repository: str, destination: Path, policy: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return skopeo.run(
        "--policy",
        str(policy or world["policy"]),
        "--registries.d",
        str(world["registries_d"]),
        "copy",
        "--src-tls-verify=false",
        "--src-creds",
        ":".join(CREDS),
        f"docker://{world['host']}/secure/{repository}:v1",
        f"oci:{destination}:v1",
        check=False,
    )


def _policy_verdict(
    world: dict[str, Any], repository: str, destination: Path, policy: Path | None = None
) -> subprocess.CompletedProcess[str]:
    result = _verified_copy(world, repository, destination, policy)
    if SIGSTORE_DISABLED in result.stderr:
        pytest.skip(
            "this skopeo is built without sigstore verification (Debian 12: 'Debian-local change: "
            "sigstore disabled'); the attachment tests below check the signatures it reads instead"
        )
    return result


def test_skopeo_policy_accepts_the_signed_image(world: dict[str, Any], tmp_path: Path) -> None:
    result = _policy_verdict(world, "signed", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    assert index["manifests"][0]["digest"] == layouts.manifest_digest("signed image")


@pytest.mark.parametrize(
    ("repository", "why"), [("unsigned", "signature"), ("changed", "signature"), ("forged", "digest")]
)
def test_skopeo_policy_rejects(world: dict[str, Any], tmp_path: Path, repository: str, why: str) -> None:
    result = _policy_verdict(world, repository, tmp_path / "out")
    assert result.returncode != 0, f"{repository} was accepted"
    assert why in result.stderr.lower(), result.stderr


def test_skopeo_policy_rejects_another_key(world: dict[str, Any], tmp_path: Path) -> None:
    from moorage.signing.ecdsa import EcdsaP256

    other = tmp_path / "other.pub"
    other.write_text(EcdsaP256().generate().public_pem)
    policy = json.loads(world["policy"].read_text())
    policy["transports"]["docker"][f"{world['host']}/secure"][0]["keyPath"] = str(other)
    (tmp_path / "policy.json").write_text(json.dumps(policy))
    result = _policy_verdict(world, "signed", tmp_path / "out", tmp_path / "policy.json")
    assert result.returncode != 0 and "signature" in result.stderr.lower(), result.stderr


# What skopeo reads through sigstore attachments, checked with openssl --------------------------------
def _attachments(world: dict[str, Any], repository: str, destination: Path) -> tuple[bytes, list[dict[str, Any]]]:
    """(manifest, signatures) as skopeo copies them into a ``dir:`` with ``use-sigstore-attachments``."""
    accept = destination.parent / "accept.json"
    accept.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
    skopeo.run(
        "--policy",
        str(accept),
        "--registries.d",
        str(world["registries_d"]),
        "copy",
        "--src-tls-verify=false",
        "--src-creds",
        ":".join(CREDS),
        f"docker://{world['host']}/secure/{repository}:v1",
        f"dir:{destination}",
    )
    signatures = []
    for path in sorted(destination.glob("signature-*")):
        raw = path.read_bytes()
        prefix = b"\x00sigstore-json\n"
        assert raw.startswith(prefix), raw[:40]  # containers/image's serialisation of a sigstore signature
        signatures.append(json.loads(raw[len(prefix) :]))
    return (destination / "manifest.json").read_bytes(), signatures


def _openssl_verifies(key: Path, payload: bytes, signature: bytes, work: Path) -> bool:
    (work / "payload").write_bytes(payload)
    (work / "signature.der").write_bytes(signature)
    result = subprocess.run(
        [
            "openssl",
            "dgst",
            "-sha256",
            "-verify",
            str(key),
            "-signature",
            str(work / "signature.der"),
            str(work / "payload"),
        ],
        capture_output=True,
        text=True,
    )
    return result.returncode == 0


def _accepted(world: dict[str, Any], repository: str, work: Path) -> bool:
    """What a sigstoreSigned verifier decides, from what skopeo fetched: some signature verifies under
    the key (openssl), is a cosign simple-signing payload, names this manifest's digest and this
    image reference."""
    manifest, signatures = _attachments(world, repository, work / "dir")
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    for signature in signatures:
        assert signature["mimeType"] == "application/vnd.dev.cosign.simplesigning.v1+json"
        payload = base64.b64decode(signature["payload"])
        raw = base64.b64decode(signature["annotations"]["dev.cosignproject.cosign/signature"])
        if not _openssl_verifies(world["key"], payload, raw, work):
            continue
        critical = json.loads(payload)["critical"]
        assert critical["type"] == "cosign container image signature"
        if (
            critical["image"]["docker-manifest-digest"] == digest
            and critical["identity"]["docker-reference"] == f"{world['host']}/secure/{repository}:v1"
        ):
            return True
    return False


def test_skopeo_reads_a_signature_that_openssl_verifies(world: dict[str, Any], tmp_path: Path) -> None:
    assert _accepted(world, "signed", tmp_path)


@pytest.mark.parametrize("repository", ["unsigned", "changed", "forged"])
def test_nothing_vouches_for_unsigned_or_changed_images(world: dict[str, Any], tmp_path: Path, repository: str) -> None:
    assert not _accepted(world, repository, tmp_path)
    _manifest, signatures = _attachments(world, repository, tmp_path / "again")
    # the forged image carries a signature (of another manifest), the others carry none
    assert len(signatures) == (1 if repository == "forged" else 0)


def test_a_tampered_signature_fails_openssl(world: dict[str, Any], tmp_path: Path) -> None:
    _manifest, signatures = _attachments(world, "signed", tmp_path / "dir")
    payload = bytearray(base64.b64decode(signatures[0]["payload"]))
    payload[-3] ^= 1
    raw = base64.b64decode(signatures[0]["annotations"]["dev.cosignproject.cosign/signature"])
    assert not _openssl_verifies(world["key"], bytes(payload), raw, tmp_path)


def test_signatures_written_by_skopeo_are_found_by_moorage(world: dict[str, Any]) -> None:
    """skopeo copies an image with its sigstore attachments into another namespace, writing the
    signature artifact its own way (a ``.sig`` tag, no subject); moorage lists it as an accessory
    and accepts it where a namespace demands signatures."""
    ee: Enterprise = world["ee"]
    create_namespace(ee, world["instance"], "mirror")
    accept = world["base"] / "accept-all.json"
    accept.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
    skopeo.run(
        "--policy",
        str(accept),
        "--registries.d",
        str(world["registries_d"]),
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--src-creds",
        ":".join(CREDS),
        "--dest-creds",
        ":".join(CREDS),
        f"docker://{world['host']}/secure/signed:v1",
        f"docker://{world['host']}/mirror/signed:v1",
    )
    found = ee.client.list_instance_accessories(
        ListInstanceAccessoriesRequest(
            instance_id=world["instance"], namespace_name="mirror", repository_name="signed", reference="v1"
        )
    )
    assert [a.type for a in found.accessories] == ["signature.cosign"]
    with ee.http() as api:
        base = f"/v2/{ee.project}/instances/{world['instance']}/namespaces/mirror"
        assert api.put(base, json={"metadata": {"enable_content_trust_cosign": "true"}}).status_code == 200
    assert (
        skopeo.run(
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--creds",
            ":".join(CREDS),
            f"docker://{world['host']}/mirror/signed:v1",
            check=False,
        ).returncode
        == 0
    )


def _podman(world: dict[str, Any], tmp_path: Path, repository: str) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "home"
    (home / ".config" / "containers").mkdir(parents=True)
    shutil.copytree(world["registries_d"], home / ".config" / "containers" / "registries.d")
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    runroot = Path(tempfile.mkdtemp(prefix="podrun", dir="/tmp"))  # podman wants a runroot under 50 characters
    try:
        return subprocess.run(
            [
                "podman",
                "--root",
                str(tmp_path / "root"),
                "--runroot",
                str(runroot),
                "--storage-driver",
                "vfs",
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "none",
                "pull",
                "--signature-policy",
                str(world["policy"]),
                "--tls-verify=false",
                "--creds",
                ":".join(CREDS),
                f"docker://{world['host']}/secure/{repository}:v1",
            ],
            text=True,
            capture_output=True,
            timeout=180,
            env=env,
        )
    finally:
        shutil.rmtree(runroot, ignore_errors=True)


def test_podman_policy_verifies_too(world: dict[str, Any], tmp_path: Path) -> None:
    require_tool("podman")
    accepted = _podman(world, tmp_path / "a", "signed")
    if SIGSTORE_DISABLED in accepted.stderr:
        pytest.skip("this podman is built without sigstore verification (Debian 12)")
    if accepted.returncode != 0 and "signature" not in accepted.stderr.lower():
        pytest.skip(f"podman cannot pull in this environment: {accepted.stderr.strip()[-300:]}")
    assert accepted.returncode == 0, accepted.stderr
    rejected = _podman(world, tmp_path / "b", "unsigned")
    assert rejected.returncode != 0 and "signature" in rejected.stderr.lower(), rejected.stderr


def test_namespace_refusing_unsigned_pulls(world: dict[str, Any], tmp_path: Path) -> None:
    ee: Enterprise = world["ee"]
    base = f"/v2/{ee.project}/instances/{world['instance']}/namespaces/secure"
    with ee.http() as api:
        response = api.put(base, json={"metadata": {"enable_content_trust_cosign": "true"}})
        assert response.status_code == 200, response.text
        assert response.json()["metadata"]["enable_content_trust_cosign"] == "true"
    try:
        refused = skopeo.run(
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--creds",
            ":".join(CREDS),
            f"docker://{world['host']}/secure/unsigned:v1",
            check=False,
        )
        assert refused.returncode != 0
        assert "accepts only signed images" in refused.stderr and "has no signature" in refused.stderr, refused.stderr
        import httpx

        token = httpx.get(
            f"http://{world['host']}/service/token",
            params={"scope": "repository:secure/unsigned:pull"},
            auth=CREDS,
            timeout=30,
        ).json()["token"]
        direct = httpx.get(
            f"http://{world['host']}/v2/secure/unsigned/manifests/v1",
            timeout=30,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.oci.image.manifest.v1+json"},
        )
        assert direct.status_code == 403
        error = direct.json()["errors"][0]
        assert error["code"] == "DENIED" and "has no signature" in error["message"]
        # signed images, and the signatures verifiers read, are still served
        assert _accepted(world, "signed", tmp_path)
    finally:
        with ee.http() as api:
            api.put(base, json={"metadata": {"enable_content_trust_cosign": "false"}})
    allowed = skopeo.run(
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--creds",
        ":".join(CREDS),
        f"docker://{world['host']}/secure/unsigned:v1",
        check=False,
    )
    assert allowed.returncode == 0, allowed.stderr
