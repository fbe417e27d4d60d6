"""cosign signature artifacts: the payload containers/image accepts, ECDSA P-256 signatures that
openssl verifies, artifacts that round-trip, and untrusted artifacts refused with ``SigningError``."""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moorage.signing import key_algorithm, signature_scheme
from moorage.signing.cosign import (
    SIMPLE_SIGNING,
    CosignScheme,
    decode_signature,
    encode_signature,
    new_entry,
    parse_payload,
)
from moorage.signing.interface import SignatureEntry, SigningError, Subject

DIGEST = "sha256:" + "ab" * 32
SUBJECT = Subject(DIGEST, "application/vnd.oci.image.manifest.v1+json", 1234, "127.0.0.5:5000/team/app:v1")


def test_payload_has_exactly_the_fields_containers_image_accepts() -> None:
    payload = CosignScheme().payload(SUBJECT)
    document = json.loads(payload)
    assert document == {
        "critical": {
            "identity": {"docker-reference": "127.0.0.5:5000/team/app:v1"},
            "image": {"docker-manifest-digest": DIGEST},
            "type": "cosign container image signature",
        },
        "optional": {"creator": "moorage"},
    }
    assert parse_payload(payload) == (SUBJECT.docker_reference, DIGEST)
    assert CosignScheme().payload(SUBJECT) == payload  # deterministic: found again by its digest


def test_signatures_verify_with_openssl(tmp_path: Path) -> None:
    algorithm = key_algorithm("ECDSA_SHA_256")
    pair = algorithm.generate()
    assert pair.public_pem.startswith("-----BEGIN PUBLIC KEY-----")
    payload = CosignScheme().payload(SUBJECT)
    signature = algorithm.sign(pair.private_pem, payload)
    assert algorithm.verify(pair.public_pem, payload, signature)
    assert not algorithm.verify(pair.public_pem, payload + b" ", signature)
    (tmp_path / "key.pub").write_text(pair.public_pem)
    (tmp_path / "payload").write_bytes(payload)
    (tmp_path / "sig").write_bytes(decode_signature(encode_signature(signature)))
    result = subprocess.run(
        [
            "openssl",
            "dgst",
            "-sha256",
            "-verify",
            str(tmp_path / "key.pub"),
            "-signature",
            str(tmp_path / "sig"),
            str(tmp_path / "payload"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and "Verified OK" in result.stdout


def test_artifact_round_trip() -> None:
    scheme = CosignScheme()
    other = Subject(DIGEST, SUBJECT.media_type, SUBJECT.size, "127.0.0.5:5000/team/app:latest")
    entries = [new_entry(scheme.payload(SUBJECT), b"sig-1"), new_entry(scheme.payload(other), b"sig-2")]
    artifact = scheme.artifact(SUBJECT, entries)
    assert artifact.tag == "sha256-" + "ab" * 32 + ".sig"
    manifest = json.loads(artifact.manifest)
    assert manifest["subject"] == {"mediaType": SUBJECT.media_type, "size": 1234, "digest": DIGEST}
    assert [layer["mediaType"] for layer in manifest["layers"]] == [SIMPLE_SIGNING, SIMPLE_SIGNING]
    blobs = {b.digest: b.data for b in artifact.blobs}
    assert manifest["config"]["digest"] in blobs and len(blobs) == 3
    for blob in artifact.blobs:
        assert blob.digest == "sha256:" + hashlib.sha256(blob.data).hexdigest()
    read_back = scheme.entries(artifact.manifest)
    assert read_back == [SignatureEntry(e.payload_digest, e.payload_size, e.signature) for e in entries]
    assert all(e.payload is None for e in read_back)
    # adding a signature keeps the old ones without needing their payloads again
    third = new_entry(scheme.payload(Subject(DIGEST, SUBJECT.media_type, 1, "h/x/y:z")), b"sig-3")
    grown = scheme.artifact(SUBJECT, [*read_back, third])
    assert len(scheme.entries(grown.manifest)) == 3
    assert {b.digest for b in grown.blobs} == {third.payload_digest, json.loads(grown.manifest)["config"]["digest"]}


def test_untrusted_artifacts_are_refused() -> None:
    scheme = CosignScheme()
    for manifest in (b"not json", b"[]", b'{"layers": 3}', b"{" + b" " * (5 << 20) + b"}"):
        with pytest.raises(SigningError):
            scheme.entries(manifest)
    odd = json.dumps(
        {
            "layers": [
                {
                    "mediaType": SIMPLE_SIGNING,
                    "digest": "sha256:x",
                    "size": -1,
                    "annotations": {"dev.cosignproject.cosign/signature": "c2ln"},
                },
                {
                    "mediaType": SIMPLE_SIGNING,
                    "digest": "sha256:y",
                    "size": True,
                    "annotations": {"dev.cosignproject.cosign/signature": "c2ln"},
                },
                {"mediaType": "other", "digest": "sha256:z", "size": 1},
                "not a layer",
            ]
        }
    ).encode()
    assert scheme.entries(odd) == []
    with pytest.raises(SigningError):
        scheme.signature_tag("sha512:" + "ab" * 64)
    with pytest.raises(SigningError):
        signature_scheme("notation")
    with pytest.raises(SigningError):
        key_algorithm("SM2DSA_SM3")
    with pytest.raises(SigningError):
        decode_signature("not base64!")


@pytest.mark.parametrize(
    "payload",
    [
        b"{}",
        b"[]",
        b'{"critical": {"identity": {"docker-reference": "x"}, "image": {"docker-manifest-digest": "y"},'
        b' "type": "other"}}',
        b'{"critical": {"identity": {"docker-reference": "x", "extra": 1}, "image": {"docker-manifest-digest": "y"},'
        b' "type": "cosign container image signature"}}',
    ],
)
def test_parse_payload_is_strict(payload: bytes) -> None:
    with pytest.raises(SigningError):
        parse_payload(payload)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_parse_payload_never_crashes(data: bytes) -> None:
    with contextlib.suppress(SigningError):
        parse_payload(data)
