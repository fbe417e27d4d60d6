"""Pushing and pulling manifests (end-3, end-7): every manifest kind, exact bytes, headers,
references, validation of what a manifest points to, size limit and schema 1 refusal."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest

from tests.oci.oci_client import OciClient, assert_error
from tests.support import ocilayout as ol

MANIFEST_ERRORS = ("MANIFEST_INVALID", "SIZE_INVALID", "MANIFEST_BLOB_UNKNOWN")


def _two_platforms(flavour: ol.Flavour = "oci") -> list[ol.Image]:
    return ol.platform_images([("linux", "amd64", None), ("linux", "arm64", "v8")], flavour=flavour)


def _with_manifest(image: ol.Image, manifest: bytes) -> ol.Image:
    return ol.Image(ol.Blob(image.manifest.media_type, manifest), image.config, image.layers)


def _custom_fields() -> ol.Image:
    base = ol.image([{"custom.txt": b"custom"}])
    document = base.document() | {"io.example.unknown": {"nested": [1, 2, 3]}}
    return _with_manifest(base, ol.canonical_json(document))


def _pretty_json() -> ol.Image:
    base = ol.image([{"pretty.txt": b"pretty"}])
    document = base.document()
    reordered = {key: document[key] for key in reversed(list(document))}
    return _with_manifest(base, json.dumps(reordered, indent=3).encode() + b"\n\n")


def _descriptor_data() -> ol.Image:
    base = ol.image([{"data.txt": b"inline"}])
    document = base.document()
    document["config"]["data"] = base64.b64encode(base.config.data).decode()
    return _with_manifest(base, ol.canonical_json(document))


def _custom_fields_index() -> ol.Index:
    """An index whose own document and each child's carry fields no spec defines (the newest
    conformance suite's ``custom-fields`` data)."""
    children = []
    for image in _two_platforms():
        document = image.document() | {"io.example.unknown": "child"}
        children.append(_with_manifest(image, ol.canonical_json(document)))
    base = ol.index(children)
    document = json.loads(base.manifest.data) | {"io.example.unknown": {"list": [1, 2]}}
    return ol.Index(ol.Blob(base.manifest.media_type, ol.canonical_json(document)), base.children)


def _artifact_index() -> ol.Index:
    children = [
        ol.artifact("application/vnd.example.part", [ol.Blob("text/plain", f"part {n}".encode())]) for n in range(2)
    ]
    return ol.index(children, artifact_type="application/vnd.example.bundle")


MANIFEST_KINDS: dict[str, Callable[[], ol.Content]] = {
    "oci-image": lambda: ol.image([{"a.txt": b"a"}, {"b/c.txt": b"c"}]),
    "oci-image-uncompressed": lambda: ol.image([{"u.txt": b"u"}], compression="none"),
    "oci-image-zstd": lambda: ol.image([{"z.txt": b"z"}], compression="zstd"),
    "oci-image-no-layers": lambda: ol.image([]),
    "docker-image": lambda: ol.image([{"d.txt": b"d"}, {"e.txt": b"e"}], flavour="docker"),
    "docker-manifest-list": lambda: ol.index(_two_platforms("docker"), flavour="docker"),
    "oci-index": lambda: ol.index(_two_platforms()),
    "nested-index": lambda: ol.index([ol.index(_two_platforms()), ol.image([{"n.txt": b"n"}])]),
    "empty-index": lambda: ol.index([]),
    "custom-fields-index": _custom_fields_index,
    "artifact": lambda: ol.artifact(
        "application/vnd.example.sbom.v1",
        [ol.Blob("application/json", b"[]")],
        annotations={"org.example.kind": "sbom"},
    ),
    "artifact-without-blobs": lambda: ol.artifact("application/vnd.example.empty.v1"),
    "artifact-index": _artifact_index,
    "custom-fields": _custom_fields,
    "pretty-json": _pretty_json,
    "descriptor-data": _descriptor_data,
}


@pytest.mark.parametrize("kind", list(MANIFEST_KINDS))
def test_every_manifest_kind_round_trips_byte_for_byte(oci: OciClient, repo: str, kind: str) -> None:
    content = MANIFEST_KINDS[kind]()
    oci.push(repo, content, tag="v1")
    for manifest in content.manifests():
        for reference in (manifest.digest, "v1") if manifest is content.manifest else (manifest.digest,):
            response = oci.get_manifest(repo, reference)
            assert response.status_code == 200, f"{reference}: {response.text}"
            assert response.content == manifest.data
            assert response.headers["Content-Type"].split(";")[0] == manifest.media_type
            assert response.headers["Docker-Content-Digest"] == manifest.digest
            head = oci.head_manifest(repo, reference)
            assert head.status_code == 200
            assert head.content == b""
            assert int(head.headers["Content-Length"]) == manifest.size
            assert head.headers["Docker-Content-Digest"] == manifest.digest
    assert "v1" in oci.tags(repo).json()["tags"]


def test_put_answers_201_with_location_and_digest(oci: OciClient, repo: str) -> None:
    image = ol.image([{"f": b"1"}])
    for blob in image.blobs():
        oci.push_blob(repo, blob)
    response = oci.put_manifest(repo, "latest", image.manifest)
    assert response.status_code == 201
    assert response.headers["Docker-Content-Digest"] == image.digest
    pulled = oci.http.get(oci.absolute(response.headers["Location"]), headers={"Accept": image.manifest.media_type})
    assert pulled.status_code == 200
    assert pulled.content == image.manifest.data


def test_put_by_digest_without_a_tag(oci: OciClient, repo: str) -> None:
    image = ol.image([{"g": b"2"}])
    oci.push(repo, image)
    assert oci.get_manifest(repo, image.digest).content == image.manifest.data
    assert oci.tags(repo).json().get("tags") in (None, [])


def test_put_by_digest_that_does_not_match_is_refused(oci: OciClient, repo: str) -> None:
    image, other = ol.image([{"h": b"3"}]), ol.image([{"i": b"4"}])
    for blob in (*image.blobs(), *other.blobs()):
        oci.push_blob(repo, blob)
    assert_error(oci.put_manifest(repo, other.digest, image.manifest), 400, "DIGEST_INVALID")
    assert oci.head_manifest(repo, other.digest).status_code == 404
    assert oci.head_manifest(repo, image.digest).status_code == 404


@pytest.mark.parametrize("reference", ["missing-tag", "sha256:" + "5" * 64])
def test_missing_manifest_is_404_manifest_unknown(oci: OciClient, repo: str, reference: str) -> None:
    oci.push(repo, ol.image([{"j": b"5"}]), tag="present")
    assert_error(oci.get_manifest(repo, reference), 404, "MANIFEST_UNKNOWN")
    assert oci.head_manifest(repo, reference).status_code == 404


@pytest.mark.parametrize("reference", [".INVALID_MANIFEST_NAME", "-dash", "x" * 129, "pl+us"])
def test_reference_outside_the_tag_grammar_names_no_manifest(oci: OciClient, repo: str, reference: str) -> None:
    """A reference that is neither a digest nor a tag names nothing: GET, HEAD and DELETE answer 404
    MANIFEST_UNKNOWN (the conformance suite pulls ``.INVALID_MANIFEST_NAME`` and wants 404); only a
    PUT, which would create the tag, says TAG_INVALID (tests/oci/test_tags.py)."""
    oci.push(repo, ol.image([{"j": b"invalid reference"}]), tag="present")
    assert_error(oci.get_manifest(repo, reference), 404, "MANIFEST_UNKNOWN")
    assert oci.head_manifest(repo, reference).status_code == 404
    assert_error(oci.http.delete(f"/v2/{repo}/manifests/{reference}"), 404, "MANIFEST_UNKNOWN")
    assert oci.tags(repo).json()["tags"] == ["present"]


def test_tag_moves_to_the_latest_put(oci: OciClient, repo: str) -> None:
    first, second = ol.image([{"k": b"first"}]), ol.image([{"k": b"second"}])
    oci.push(repo, first, tag="moving")
    oci.push(repo, second, tag="moving")
    assert oci.get_manifest(repo, "moving").headers["Docker-Content-Digest"] == second.digest
    assert oci.get_manifest(repo, first.digest).status_code == 200
    assert oci.tags(repo).json()["tags"] == ["moving"]


def test_content_type_parameters_are_ignored(oci: OciClient, repo: str) -> None:
    image = ol.image([{"l": b"6"}])
    for blob in image.blobs():
        oci.push_blob(repo, blob)
    with_parameter = ol.OCI_MANIFEST + "; charset=utf-8"
    response = oci.put_manifest(repo, "params", image.manifest, content_type=with_parameter)
    assert response.status_code == 201
    assert oci.get_manifest(repo, "params").headers["Content-Type"].split(";")[0] == ol.OCI_MANIFEST


@pytest.mark.moorage_extra("sha512 manifest digests")
def test_manifest_pushed_under_a_sha512_digest(oci: OciClient, repo: str) -> None:
    image = ol.image([{"sha512.txt": b"512"}], algorithm="sha512")
    oci.push(repo, image)
    assert image.digest.startswith("sha512:")
    response = oci.get_manifest(repo, image.digest)
    assert response.status_code == 200
    assert response.content == image.manifest.data


@pytest.mark.moorage_extra("sha512 manifest digests")
def test_sha512_index_pushed_by_digest(oci: OciClient, repo: str) -> None:
    """The newest conformance suite's sha512 data: an index and its images, every digest sha512,
    pushed by digest only (a tag would name the canonical sha256 digest)."""
    idx = ol.index(
        [
            ol.image([{"a512.txt": b"a"}], algorithm="sha512"),
            ol.image([{"b512.txt": b"b"}], architecture="arm64", algorithm="sha512"),
        ],
        algorithm="sha512",
    )
    oci.push(repo, idx)
    for manifest in idx.manifests():
        assert manifest.digest.startswith("sha512:")
        response = oci.get_manifest(repo, manifest.digest)
        assert response.status_code == 200, response.text
        assert response.content == manifest.data
        assert response.headers["Docker-Content-Digest"] == manifest.digest
    for blob in idx.blobs():
        assert oci.http.head(f"/v2/{repo}/blobs/{blob.digest}").status_code == 200


# --- what a manifest points to ----------------------------------------------------------------


@pytest.mark.spec_deviation("500 on a manifest with non-distributable layers it does not hold")
def test_non_distributable_layers_need_not_be_pushed(oci: OciClient, repo: str) -> None:
    """Layers a registry must not hold (image-spec's non-distributable media types, with ``urls``)
    are left out of the blobs a manifest must find (the newest conformance suite's data)."""
    image = ol.image([{"pushed.txt": b"distributable"}])
    for blob in image.blobs():
        oci.push_blob(repo, blob)
    document = image.document()
    for media_type in (
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
    ):
        digest = ol.digest_of(media_type.encode())
        document["layers"].insert(
            0,
            {
                "mediaType": media_type,
                "digest": digest,
                "size": 12345,
                "urls": [f"https://store.example.com/blobs/sha256/{digest[7:]}"],
            },
        )
    manifest = ol.Blob(ol.OCI_MANIFEST, ol.canonical_json(document))
    assert oci.put_manifest(repo, "nondist", manifest).status_code == 201
    response = oci.get_manifest(repo, "nondist")
    assert response.content == manifest.data
    assert oci.head_manifest(repo, manifest.digest).status_code == 200


@pytest.mark.spec_deviation("500 on a PUT to sha256:baddigeststring (it stores it as a tag)")
def test_malformed_digest_reference_is_refused(oci: OciClient, repo: str) -> None:
    """``PUT`` and ``GET`` of ``sha256:baddigeststring`` (the newest conformance suite): 400, or
    404 for the GET."""
    image = ol.image([{"bad-digest.txt": b"x"}])
    for blob in image.blobs():
        oci.push_blob(repo, blob)
    assert_error(
        oci.put_manifest(repo, "sha256:baddigeststring", image.manifest), 400, "DIGEST_INVALID", "MANIFEST_INVALID"
    )
    assert_error(oci.get_manifest(repo, "sha256:baddigeststring"), (400, 404), "DIGEST_INVALID", "MANIFEST_UNKNOWN")
    response = oci.http.get(
        f"/v2/{repo}/manifests/sha256:totallywrong", headers={"Content-Type": ol.OCI_MANIFEST}
    )  # v1.1's "error codes" check
    assert_error(response, (400, 404), "DIGEST_INVALID", "MANIFEST_UNKNOWN", "NAME_UNKNOWN")


def test_manifest_with_an_unknown_layer_is_refused(oci: OciClient, repo: str) -> None:
    image = ol.image([{"m": b"7"}, {"n": b"8"}])
    oci.push_blob(repo, image.config)
    oci.push_blob(repo, image.layers[0])
    error = assert_error(oci.put_manifest(repo, "broken", image.manifest), 400, "MANIFEST_BLOB_UNKNOWN")
    assert image.layers[1].digest in json.dumps(error), "the error should name the missing blob"
    assert oci.head_manifest(repo, "broken").status_code == 404


def test_manifest_with_an_unknown_config_is_refused(oci: OciClient, repo: str) -> None:
    image = ol.image([{"o": b"9"}])
    oci.push_blob(repo, image.layers[0])
    assert_error(oci.put_manifest(repo, "broken", image.manifest), 400, "MANIFEST_BLOB_UNKNOWN")
    assert oci.head_manifest(repo, image.digest).status_code == 404


def test_manifest_with_a_blob_of_another_repository_is_refused(oci: OciClient, repo: str) -> None:
    image = ol.image([{"p": b"10"}])
    for blob in image.blobs():
        oci.push_blob(repo + "-elsewhere", blob)
    assert_error(oci.put_manifest(repo, "borrowed", image.manifest), 400, "MANIFEST_BLOB_UNKNOWN")


def test_index_with_an_unknown_child_is_refused(oci: OciClient, repo: str) -> None:
    present, absent = _two_platforms()
    oci.push(repo, present)
    for blob in absent.blobs():
        oci.push_blob(repo, blob)
    idx = ol.index([present, absent])
    assert_error(oci.put_manifest(repo, "idx", idx.manifest), 400, "MANIFEST_BLOB_UNKNOWN")
    assert oci.head_manifest(repo, "idx").status_code == 404


def test_manifest_whose_subject_is_missing_is_accepted(oci: OciClient, repo: str) -> None:
    ghost = ol.image([{"ghost": b"never pushed"}])
    art = ol.artifact("application/vnd.example.sig", [ol.Blob("text/plain", b"sig")], subject=ghost)
    oci.push(repo, art, tag="orphan")
    assert oci.get_manifest(repo, "orphan").content == art.manifest.data


@pytest.mark.spec_deviation("no OCI-Subject header (no referrers support)")
@pytest.mark.parametrize("subject_kind", ["image", "index"])
def test_manifest_with_subject_answers_oci_subject(oci: OciClient, repo: str, subject_kind: str) -> None:
    subject: ol.Content = ol.image([{"q": b"11"}]) if subject_kind == "image" else ol.index(_two_platforms())
    oci.push(repo, subject, tag="subject")
    art = ol.artifact("application/vnd.example.sig", [ol.Blob("text/plain", b"sig")], subject=subject)
    for blob in art.blobs():
        oci.push_blob(repo, blob)
    response = oci.put_manifest(repo, art.digest, art.manifest)
    assert response.status_code == 201
    assert response.headers.get("OCI-Subject") == subject.digest


# --- invalid manifests --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"[]", id="array"),
        pytest.param(
            b'{"schemaVersion": 2}',
            id="no-config",
            marks=pytest.mark.moorage_extra(
                "a manifest without a config is MANIFEST_INVALID (the reference reports its blobs unknown)"
            ),
        ),
        pytest.param(
            b'{"schemaVersion": 2, "mediaType": "%s", "layers": "x"}' % ol.OCI_MANIFEST.encode(), id="layers-not-a-list"
        ),
        pytest.param(b"", id="empty"),
    ],
)
def test_invalid_manifest_is_manifest_invalid(oci: OciClient, repo: str, body: bytes) -> None:
    assert_error(oci.put_manifest(repo, "bad", body, ol.OCI_MANIFEST), 400, "MANIFEST_INVALID")
    assert oci.head_manifest(repo, "bad").status_code == 404


def test_refused_push_creates_no_repository(oci: OciClient, repo: str) -> None:
    assert_error(oci.put_manifest(repo, "bad", b"{not json", ol.OCI_MANIFEST), 400, "MANIFEST_INVALID")
    unknown_layer = ol.image([{"never.txt": b"never uploaded"}])
    assert_error(oci.put_manifest(repo, "bad", unknown_layer.manifest), 400, "MANIFEST_BLOB_UNKNOWN")
    assert_error(oci.tags(repo), 404, "NAME_UNKNOWN")


@pytest.mark.parametrize("media_type", [ol.DOCKER_SCHEMA1_SIGNED, ol.DOCKER_SCHEMA1])
def test_docker_schema1_is_refused(oci: OciClient, repo: str, media_type: str, target: str) -> None:
    layer = ol.Blob("application/octet-stream", b"schema1 layer")
    oci.push_blob(repo, layer)
    schema1 = {
        "schemaVersion": 1,
        "name": repo,
        "tag": "old",
        "architecture": "amd64",
        "fsLayers": [{"blobSum": layer.digest}],
        "history": [{"v1Compatibility": json.dumps({"id": "a" * 64})}],
        "signatures": [{"header": {"alg": "ES256"}, "signature": "c2ln", "protected": "e30"}],
    }
    error = assert_error(
        oci.put_manifest(repo, "old", json.dumps(schema1, indent=3).encode(), media_type), 400, "MANIFEST_INVALID"
    )
    if target == "moorage":
        assert "schema" in json.dumps(error).lower(), f"the refusal should say schema 1 is refused: {error}"
    assert oci.head_manifest(repo, "old").status_code == 404


def test_manifest_over_4_mib_is_refused_and_not_stored(oci: OciClient, repo: str) -> None:
    big = ol.image([{"r": b"12"}], annotations={"org.example.padding": "x" * (4 * 1024 * 1024)})
    for blob in big.blobs():
        oci.push_blob(repo, blob)
    assert big.manifest.size > 4 * 1024 * 1024
    response = oci.put_manifest(repo, "big", big.manifest)
    assert 400 <= response.status_code < 500
    if response.status_code != 413 or response.content:
        assert_error(response, (400, 413), *MANIFEST_ERRORS)
    assert oci.head_manifest(repo, "big").status_code == 404
    assert oci.head_manifest(repo, big.digest).status_code == 404


def test_manifest_just_under_4_mib_is_accepted(oci: OciClient, repo: str) -> None:
    base = ol.image([{"s": b"13"}], annotations={"org.example.padding": ""})
    padding = 4 * 1024 * 1024 - base.manifest.size - 64
    large = ol.image([{"s": b"13"}], annotations={"org.example.padding": "y" * padding})
    assert 4 * 1024 * 1024 - 128 < large.manifest.size <= 4 * 1024 * 1024
    oci.push(repo, large, tag="large")
    assert oci.get_manifest(repo, "large").content == large.manifest.data


# --- content negotiation ----------------------------------------------------------------------


def test_accept_list_with_quality_values_selects_the_stored_type(oci: OciClient, repo: str) -> None:
    image = ol.image([{"t": b"14"}])
    oci.push(repo, image, tag="neg")
    accept = f"{ol.DOCKER_MANIFEST};q=0.9, {ol.OCI_MANIFEST};q=0.5, {ol.DOCKER_MANIFEST_LIST}"
    response = oci.get_manifest(repo, "neg", accept=accept)
    assert response.status_code == 200
    assert response.content == image.manifest.data
    assert response.headers["Content-Type"].split(";")[0] == ol.OCI_MANIFEST


def test_manifest_is_never_converted_to_another_type(oci: OciClient, repo: str) -> None:
    image = ol.image([{"u": b"15"}])
    oci.push(repo, image, tag="noconv")
    response = oci.get_manifest(repo, "noconv", accept=ol.DOCKER_MANIFEST)
    assert response.status_code in (200, 404, 406)
    if response.status_code == 200:
        assert response.content == image.manifest.data
        assert response.headers["Docker-Content-Digest"] == image.digest


@pytest.mark.moorage_extra("a wildcard Accept (or none) gets the manifest as stored")
@pytest.mark.parametrize("accept", ["*/*", "application/*", None])
def test_wildcard_accept_gets_the_stored_manifest(oci: OciClient, repo: str, accept: str | None) -> None:
    image = ol.image([{"v": b"16"}])
    oci.push(repo, image, tag="wild")
    request = oci.http.build_request("GET", f"/v2/{repo}/manifests/wild")
    if accept:
        request.headers["Accept"] = accept
    else:
        del request.headers["Accept"]
    response = oci.http.send(request)
    assert response.status_code == 200
    assert response.content == image.manifest.data
    assert response.headers["Content-Type"].split(";")[0] == ol.OCI_MANIFEST
