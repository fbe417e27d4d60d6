"""The referrers API (end-12a, end-12b): descriptors of every manifest whose ``subject`` is a
digest, ``artifactType`` filtering with ``OCI-Filters-Applied``, and an empty index, never a 404.

docker-registry 2.8 has no referrers API at all (a plain-text 404), so each test here is a strict
expected failure on it.
"""

from __future__ import annotations

import pytest

from tests.oci.oci_client import OciClient
from tests.support import ocilayout as ol

pytestmark = pytest.mark.spec_deviation("no referrers API (404 page)")

SBOM = "application/vnd.example.sbom.v1"
SIGNATURE = "application/vnd.example.signature.v1"
BUNDLE = "application/vnd.example.bundle.v1"
LEGACY_CONFIG = "application/vnd.example.legacy.config.v1+json"


def _index_body(oci: OciClient, repo: str, digest: str, **params: str) -> tuple[list[dict[str, object]], str]:
    response = oci.referrers(repo, digest, **params)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].split(";")[0] == ol.OCI_INDEX
    body = response.json()
    assert body["schemaVersion"] == 2
    assert body["mediaType"] == ol.OCI_INDEX
    assert isinstance(body["manifests"], list)
    return body["manifests"], response.headers.get("OCI-Filters-Applied", "")


def _by_digest(descriptors: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    found = {str(descriptor["digest"]): descriptor for descriptor in descriptors}
    assert len(found) == len(descriptors), "a referrer is listed twice"
    return found


@pytest.fixture
def subject(oci: OciClient, repo: str) -> ol.Image:
    """A pushed, tagged image that referrers point at."""
    image = ol.image([{"subject.txt": repo.encode()}])
    oci.push(repo, image, tag="subject")
    return image


@pytest.fixture
def referrers(oci: OciClient, repo: str, subject: ol.Image) -> dict[str, ol.Content]:
    """Five kinds of referrer of ``subject``, pushed, by name."""
    made: dict[str, ol.Content] = {
        "sbom": ol.artifact(
            SBOM,
            [ol.Blob("application/json", b'{"sbom": 1}')],
            subject=subject,
            annotations={"org.example.format": "json", "org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
        ),
        "signature": ol.artifact(SIGNATURE, [ol.Blob("application/octet-stream", b"sig")], subject=subject),
        "legacy": ol.artifact(
            None,
            [ol.Blob("text/plain", b"legacy")],
            subject=subject,
            config=ol.Blob(LEGACY_CONFIG, b'{"legacy": true}'),
        ),
        "image": ol.image([{"attached.txt": b"image as referrer"}], subject=subject),
        "bundle": ol.index(
            [ol.artifact(SBOM, [ol.Blob("text/plain", b"part")])],
            subject=subject,
            artifact_type=BUNDLE,
            annotations={"org.example.bundle": "yes"},
        ),
        "plain-index": ol.index([ol.image([{"p.txt": b"plain"}])], subject=subject),
    }
    for content in made.values():
        oci.push(repo, content)
    return made


def test_nothing_refers_is_an_empty_index_not_404(oci: OciClient, repo: str, subject: ol.Image) -> None:
    manifests, _ = _index_body(oci, repo, subject.digest)
    assert manifests == []


def test_unknown_digest_in_an_existing_repository_is_an_empty_index(
    oci: OciClient, repo: str, subject: ol.Image
) -> None:
    manifests, _ = _index_body(oci, repo, ol.digest_of(b"nobody pushed this"))
    assert manifests == []


def test_repository_that_does_not_exist_yet_has_an_empty_index(oci: OciClient, repo: str) -> None:
    """The spec's newest conformance suite asks for referrers before it pushes anything."""
    manifests, filters = _index_body(oci, repo, ol.digest_of(b"no repository yet"))
    assert manifests == []
    assert filters == ""
    manifests, _ = _index_body(oci, repo, ol.digest_of(b"no repository yet"), artifactType=SBOM)
    assert manifests == []


def test_each_referrer_is_described_as_the_spec_says(
    oci: OciClient, repo: str, subject: ol.Image, referrers: dict[str, ol.Content]
) -> None:
    listed = _by_digest(_index_body(oci, repo, subject.digest)[0])
    assert set(listed) == {content.digest for content in referrers.values()}
    for name, content in referrers.items():
        descriptor = listed[content.digest]
        assert descriptor["mediaType"] == content.manifest.media_type, name
        assert descriptor["size"] == content.manifest.size, name
        document = content.document()
        expected_type = document.get("artifactType")
        if expected_type is None and isinstance(content, ol.Image):
            expected_type = content.config.media_type
        assert descriptor.get("artifactType") == expected_type, name
        assert descriptor.get("annotations", {}) == document.get("annotations", {}), name


def test_unrelated_manifests_are_not_referrers(
    oci: OciClient, repo: str, subject: ol.Image, referrers: dict[str, ol.Content]
) -> None:
    other_subject = ol.image([{"other.txt": b"other subject"}])
    oci.push(repo, other_subject, tag="other")
    elsewhere = ol.artifact(SBOM, [ol.Blob("text/plain", b"for the other")], subject=other_subject)
    oci.push(repo, elsewhere)
    listed = _by_digest(_index_body(oci, repo, subject.digest)[0])
    assert elsewhere.digest not in listed
    assert other_subject.digest not in listed
    assert list(_by_digest(_index_body(oci, repo, other_subject.digest)[0])) == [elsewhere.digest]


def test_artifact_type_filter_is_applied_and_announced(
    oci: OciClient, repo: str, subject: ol.Image, referrers: dict[str, ol.Content]
) -> None:
    manifests, applied = _index_body(oci, repo, subject.digest, artifactType=SBOM)
    assert [item["digest"] for item in manifests] == [referrers["sbom"].digest]
    assert "artifactType" in [part.strip() for part in applied.split(",")]
    legacy, applied = _index_body(oci, repo, subject.digest, artifactType=LEGACY_CONFIG)
    assert [item["digest"] for item in legacy] == [referrers["legacy"].digest]
    none, applied = _index_body(oci, repo, subject.digest, artifactType="application/vnd.example.none")
    assert none == []
    assert "artifactType" in applied


def test_unfiltered_answer_does_not_claim_a_filter(
    oci: OciClient, repo: str, subject: ol.Image, referrers: dict[str, ol.Content]
) -> None:
    _, applied = _index_body(oci, repo, subject.digest)
    assert "artifactType" not in applied


def test_deleted_referrer_is_no_longer_listed(
    oci: OciClient, repo: str, subject: ol.Image, referrers: dict[str, ol.Content]
) -> None:
    gone = referrers["signature"]
    assert oci.http.delete(f"/v2/{repo}/manifests/{gone.digest}").status_code == 202
    listed = _by_digest(_index_body(oci, repo, subject.digest)[0])
    assert gone.digest not in listed
    assert len(listed) == len(referrers) - 1


def test_referrer_pushed_before_its_subject_is_listed(oci: OciClient, repo: str) -> None:
    later = ol.image([{"later.txt": b"pushed after its referrer"}])
    early = ol.artifact(SIGNATURE, [ol.Blob("text/plain", b"early")], subject=later)
    oci.push(repo, early)
    assert [item["digest"] for item in _index_body(oci, repo, later.digest)[0]] == [early.digest]
    oci.push(repo, later, tag="later")
    assert [item["digest"] for item in _index_body(oci, repo, later.digest)[0]] == [early.digest]


def test_tagged_referrer_is_listed_once(oci: OciClient, repo: str, subject: ol.Image) -> None:
    art = ol.artifact(SBOM, [ol.Blob("text/plain", b"tagged")], subject=subject)
    oci.push(repo, art, tag="sbom")
    assert oci.put_manifest(repo, "sbom-again", art.manifest).status_code == 201
    assert [item["digest"] for item in _index_body(oci, repo, subject.digest)[0]] == [art.digest]


def test_referrers_are_scoped_to_the_repository(oci: OciClient, repo: str, subject: ol.Image) -> None:
    other = repo + "-other"
    oci.push(other, subject, tag="copy")
    art = ol.artifact(SBOM, [ol.Blob("text/plain", b"only in other")], subject=subject)
    oci.push(other, art)
    assert _index_body(oci, repo, subject.digest)[0] == []
    assert [item["digest"] for item in _index_body(oci, other, subject.digest)[0]] == [art.digest]


def test_referrers_of_an_index(oci: OciClient, repo: str) -> None:
    idx = ol.index(ol.platform_images([("linux", "amd64", None), ("linux", "arm64", None)]))
    oci.push(repo, idx, tag="multi")
    art = ol.artifact(SIGNATURE, [ol.Blob("text/plain", b"index signature")], subject=idx)
    oci.push(repo, art)
    listed = _index_body(oci, repo, idx.digest)[0]
    assert [item["digest"] for item in listed] == [art.digest]
    assert listed[0]["artifactType"] == SIGNATURE


@pytest.mark.parametrize("reference", ["sha256:abc", "latest", "sha256:" + "Z" * 64])
def test_referrers_of_a_malformed_digest_is_400(oci: OciClient, repo: str, subject: ol.Image, reference: str) -> None:
    assert oci.referrers(repo, reference).status_code == 400
