"""The ``oras`` package (PyPI) pushes an artifact with a subject, pulls it back, and the artifact is
found through the referrers API."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import oras.oci
import oras.provider
import pytest

from tests.oci.oci_client import OciClient
from tests.oci.registry_auth import registry_credentials
from tests.support import ocilayout as ol
from tests.support.servers import ServerProcess

pytestmark = pytest.mark.e2e

SBOM_CONFIG = "application/vnd.example.sbom.config.v1+json"
SBOM_LAYER = "application/vnd.example.sbom.layer.v1+json"


def _oras_client(registry: ServerProcess) -> oras.provider.Registry:
    """An oras client for the registry, logged in when the registry wants credentials."""
    client = oras.provider.Registry(hostname=registry.address, insecure=True)
    credentials = registry_credentials(registry)
    if credentials:
        client.auth.set_basic_auth(*credentials)
    return client


def _push_artifact(registry: ServerProcess, tmp_path: Path, repo: str) -> tuple[ol.Image, str, dict[str, bytes]]:
    """Push a subject image over HTTP, then an oras artifact referring to it.

    Returns the subject, the artifact manifest digest and the files pushed (name -> bytes).
    """
    subject = ol.image([{"app/bin": b"subject of the sbom"}])
    with OciClient(registry) as oci:
        oci.push(repo, subject, tag="app")
    files = {"sbom.json": b'{"packages": ["a", "b"]}\n', "notes.txt": b"generated for the e2e test\n"}
    paths = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        paths.append(f"{tmp_path / name}:{SBOM_LAYER}")
    config = tmp_path / "config.json"
    config.write_bytes(b'{"tool": "e2e"}')
    client = _oras_client(registry)
    response = client.push(
        target=f"{registry.address}/{repo}:sbom",
        files=paths,
        disable_path_validation=True,
        manifest_config=f"{config}:{SBOM_CONFIG}",
        manifest_annotations={"org.example.kind": "sbom"},
        subject=oras.oci.Subject(mediaType=ol.OCI_MANIFEST, digest=subject.digest, size=subject.manifest.size),
        quiet=True,
    )
    assert response.status_code == 201, response.text
    return subject, response.headers["Docker-Content-Digest"], files


@pytest.fixture(autouse=True)
def _quiet_oras_without_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """oras retries a failed request five times with sleeps of up to 84 s; on loopback a retry
    without the sleep is enough, and a failing test ends in seconds instead of minutes."""
    logging.getLogger("oras").setLevel(logging.WARNING)
    monkeypatch.setattr("oras.decorator.time", SimpleNamespace(sleep=lambda seconds: None))


def test_oras_pushes_and_pulls_an_artifact_with_a_subject(registry: ServerProcess, tmp_path: Path) -> None:
    repo = "e2e/oras-roundtrip"
    (tmp_path / "in").mkdir()
    subject, artifact_digest, files = _push_artifact(registry, tmp_path / "in", repo)
    client = _oras_client(registry)
    pulled = client.pull(target=f"{registry.address}/{repo}:sbom", outdir=str(tmp_path / "out"))
    assert sorted(Path(path).name for path in pulled) == sorted(files)
    for path in pulled:
        assert Path(path).read_bytes() == files[Path(path).name]
    manifest = client.get_manifest(f"{registry.address}/{repo}:sbom")
    assert manifest["subject"] == {
        "mediaType": ol.OCI_MANIFEST,
        "digest": subject.digest,
        "size": subject.manifest.size,
    }
    assert manifest["config"]["mediaType"] == SBOM_CONFIG
    with OciClient(registry) as oci:
        raw = oci.http.get(f"/v2/{repo}/manifests/{artifact_digest}", headers={"Accept": ol.OCI_MANIFEST})
        assert raw.status_code == 200
        assert ol.digest_of(raw.content) == artifact_digest


@pytest.mark.spec_deviation("no referrers API (404 page)")
def test_oras_artifact_is_found_through_the_referrers_api(registry: ServerProcess, tmp_path: Path) -> None:
    repo = "e2e/oras-referrers"
    (tmp_path / "in").mkdir()
    subject, artifact_digest, _ = _push_artifact(registry, tmp_path / "in", repo)
    with OciClient(registry) as oci:
        response = oci.referrers(repo, subject.digest)
        assert response.status_code == 200, response.text
        listed = response.json()["manifests"]
        assert [item["digest"] for item in listed] == [artifact_digest]
        assert listed[0]["artifactType"] == SBOM_CONFIG
        assert listed[0]["annotations"] == {"org.example.kind": "sbom"}
        filtered = oci.referrers(repo, subject.digest, artifactType=SBOM_CONFIG)
        assert [item["digest"] for item in filtered.json()["manifests"]] == [artifact_digest]
        assert filtered.headers.get("OCI-Filters-Applied") == "artifactType"
